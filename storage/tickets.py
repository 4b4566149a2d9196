"""Ticket queries. State changes are conditional UPDATEs, so the database decides races."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from storage.db import update_rows
from storage.models import AuditEvent, ResponseWindow, Ticket, TicketStatus
from storage.vocabulary import OPEN_STATES, Queue


def audit(
    session: Session, ticket_id: int | None, actor: str, event: str, at: datetime, **detail: Any
) -> None:
    session.add(
        AuditEvent(
            ticket_id=ticket_id,
            actor=actor,
            event=event,
            at=at,
            detail=json.dumps(detail, default=str) if detail else None,
        )
    )


def audit_trail(session: Session, ticket_id: int) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(col(AuditEvent.id))
    return list(session.exec(query))


def create_ticket(session: Session, ticket: Ticket) -> tuple[Ticket, bool]:
    """Insert a ticket; a second submit of the same form returns the first ticket and False."""
    if ticket.submission_key:
        existing = ticket_by_submission(session, ticket.submission_key)
        if existing is not None:
            return existing, False
    try:
        with session.begin_nested():
            session.add(ticket)
    except IntegrityError:
        existing = ticket_by_submission(session, ticket.submission_key or "")
        if existing is None:
            raise
        return existing, False
    session.flush()
    return ticket, True


def ticket_by_submission(session: Session, key: str) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.submission_key == key)).first()


def get_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def ticket_by_thread(session: Session, channel: str, thread_ts: str) -> Ticket | None:
    """The ticket whose card thread or partner thread this is: two lookups, each on its own index
    (runs for every threaded message in every channel the bot is in)."""
    return (
        session.exec(card_thread_query(channel, thread_ts)).first()
        or session.exec(filer_thread_query(channel, thread_ts)).first()
    )


def card_thread_query(channel: str, thread_ts: str) -> Any:
    return select(Ticket).where(col(Ticket.queue_channel) == channel, col(Ticket.card_ts) == thread_ts)


def filer_thread_query(channel: str, thread_ts: str) -> Any:
    return select(Ticket).where(
        col(Ticket.filer_channel) == channel, col(Ticket.filer_thread_ts) == thread_ts
    )


def _open_in(queue: str | None, desk: str | None) -> list[Any]:
    """Open tickets, narrowed to a queue and a desk when given."""
    conditions: list[Any] = [col(Ticket.status).in_(OPEN_STATES)]
    if queue:
        conditions.append(col(Ticket.queue) == queue)
    if desk:
        conditions.append(col(Ticket.desk) == desk)
    return conditions


def open_tickets(
    session: Session, queue: str | None = None, desk: str | None = None, limit: int = 20
) -> tuple[list[Ticket], int]:
    """Soonest due first, and how many there are in all (for a summary line)."""
    conditions = _open_in(queue, desk)
    # The soonest due window of any kind first: the first response while none came, else a running
    # next-response window; tickets waiting on the partner (no clock runs) last. Reopened tickets head
    # their queue: someone already waited once.
    running = aliased(ResponseWindow)
    due = case((col(Ticket.first_response_at).is_(None), col(Ticket.due_at)), else_=running.due_at)
    order = (col(Ticket.reopened_at).is_(None), due.is_(None), due, col(Ticket.id))
    joined = and_(col(running.ticket_id) == col(Ticket.id), col(running.closed_at).is_(None))
    query = select(Ticket).outerjoin(running, joined).where(*conditions).order_by(*order).limit(limit)
    total = session.exec(select(func.count()).select_from(Ticket).where(*conditions)).one()
    return list(session.exec(query)), int(total)


def unanswered_breached(
    session: Session, now: datetime, queue: str | None = None, desk: str | None = None
) -> int:
    conditions = [*_open_in(queue, desk), col(Ticket.first_response_at).is_(None), col(Ticket.due_at) < now]
    return int(session.exec(select(func.count()).select_from(Ticket).where(*conditions)).one())


def company_tickets(
    session: Session, partner_id: int, open_only: bool = True, limit: int = 20
) -> list[Ticket]:
    query = select(Ticket).where(Ticket.partner_id == partner_id)
    if open_only:
        query = query.where(col(Ticket.status).in_(OPEN_STATES))
    return list(session.exec(query.order_by(col(Ticket.due_at), col(Ticket.id)).limit(limit)))


def claimed_by(session: Session, agent: str, limit: int = 20) -> list[Ticket]:
    query = select(Ticket).where(
        Ticket.claimant_user_id == agent, Ticket.status == TicketStatus.CLAIMED.value
    )
    return list(session.exec(query.order_by(col(Ticket.due_at)).limit(limit)))


class ChangeResult(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the ticket was not in the state the change needs


def _conditional_update(
    session: Session, ticket_id: int, where: Sequence[Any], values: dict[str, Any]
) -> bool:
    return bool(update_rows(session, Ticket, [ticket_id], where, values))


def record_first_response(
    session: Session, ticket: Ticket, by: str, at: datetime, elapsed_seconds: float | None = None
) -> bool:
    """The first response is recorded once; True when this call recorded it.

    Never before the filing, even when a clock stepped back. `elapsed_seconds` (how long it took, in
    the window's own time) is kept for reports.
    """
    assert ticket.id is not None
    at = max(at, ticket.filed_at)
    values = {"first_response_at": at, "first_response_by": by, "sla_met": at <= ticket.due_at}
    return _conditional_update(
        session,
        ticket.id,
        [col(Ticket.first_response_at).is_(None)],
        {**values, "first_response_seconds": elapsed_seconds},
    )


@dataclass(frozen=True)
class FirstResponse:
    """One ticket's first response, as many are recorded at once (an incident's claim or resolve)."""

    ticket_id: int
    at: datetime
    met: bool
    elapsed_seconds: float | None


def record_first_responses(session: Session, by: str, responses: Sequence[FirstResponse]) -> None:
    """Many tickets' first responses in one statement; a ticket answered meanwhile keeps its own."""
    if not responses:
        return
    table = Ticket.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("ticket"), table.c.first_response_at.is_(None))
        .values(
            first_response_at=bindparam("at"),
            first_response_by=by,
            sla_met=bindparam("met"),
            first_response_seconds=bindparam("elapsed"),
        )
    )
    rows = [
        {"ticket": r.ticket_id, "at": r.at, "met": r.met, "elapsed": r.elapsed_seconds} for r in responses
    ]
    session.connection().execute(statement, rows)
    _expire(session, [r.ticket_id for r in responses])


def claim_tickets(session: Session, ticket_ids: Sequence[int], agent: str) -> int:
    """Every one of these still open and unclaimed is claimed by `agent`, in one statement."""
    unclaimed = [col(Ticket.status) == TicketStatus.OPEN, col(Ticket.claimant_user_id).is_(None)]
    values = {"status": TicketStatus.CLAIMED.value, "claimant_user_id": agent}
    return update_rows(session, Ticket, list(ticket_ids), unclaimed, values) if ticket_ids else 0


def resolve_tickets(
    session: Session, filed: dict[int, datetime], agent: str, note: str | None, at: datetime
) -> list[int]:
    """Every one of these tickets (id -> filed at) still open is resolved with `note` (whoever held it
    keeps the credit), in one statement; the ids of those it resolved."""
    open_ids = _ids_in(session, list(filed), [col(Ticket.status).in_(OPEN_STATES)])
    if not open_ids:
        return []
    table = Ticket.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("ticket"), or_(*(table.c.status == state for state in OPEN_STATES)))
        .values(
            status=TicketStatus.RESOLVED.value,
            resolved_at=at,
            resolution_note=note,
            resolution_seconds=bindparam("seconds"),
            claimant_user_id=func.coalesce(table.c.claimant_user_id, agent),
        )
    )
    rows = [{"ticket": i, "seconds": max((at - filed[i]).total_seconds(), 0.0)} for i in open_ids]
    session.connection().execute(statement, rows)
    _expire(session, open_ids)
    return open_ids


def _ids_in(session: Session, ids: Sequence[int], where: Sequence[Any]) -> list[int]:
    query = select(Ticket.id).where(col(Ticket.id).in_(ids), *where).order_by(col(Ticket.id))
    return [i for i in session.exec(query) if i is not None]


def _expire(session: Session, ids: Sequence[int]) -> None:
    for ticket_id in ids:
        loaded = session.identity_map.get(identity_key(Ticket, ticket_id))
        if loaded is not None:
            session.expire(loaded)


def audit_many(
    session: Session, ticket_ids: Sequence[int], actor: str, event: str, at: datetime, **detail: Any
) -> None:
    """The same audit record for many tickets, in one insert."""
    text = json.dumps(detail, default=str) if detail else None
    session.add_all(AuditEvent(ticket_id=i, actor=actor, event=event, at=at, detail=text) for i in ticket_ids)


def _transition(
    session: Session, ticket_id: int, where: Sequence[Any], values: dict[str, Any]
) -> ChangeResult:
    """A state change that happens only from the state `where` describes."""
    return _result(session, ticket_id, _conditional_update(session, ticket_id, where, values))


def claim_ticket(session: Session, ticket_id: int, agent: str) -> ChangeResult:
    unclaimed = [col(Ticket.status) == TicketStatus.OPEN, col(Ticket.claimant_user_id).is_(None)]
    return _transition(
        session, ticket_id, unclaimed, {"status": TicketStatus.CLAIMED, "claimant_user_id": agent}
    )


def release_ticket(session: Session, ticket_id: int, agent: str) -> ChangeResult:
    held = [col(Ticket.status) == TicketStatus.CLAIMED, col(Ticket.claimant_user_id) == agent]
    return _transition(session, ticket_id, held, {"status": TicketStatus.OPEN, "claimant_user_id": None})


def reassign_ticket(session: Session, ticket_id: int, to_agent: str) -> ChangeResult:
    still_open = [col(Ticket.status).in_(OPEN_STATES)]
    return _transition(
        session, ticket_id, still_open, {"status": TicketStatus.CLAIMED, "claimant_user_id": to_agent}
    )


def resolve_ticket(
    session: Session, ticket_id: int, agent: str, note: str | None, at: datetime, any_holder: bool = False
) -> ChangeResult:
    """Resolved by the agent who holds it; `any_holder` (an incident's resolve): from any open state,
    and whoever held it keeps the credit."""
    values: dict[str, Any] = {
        "status": TicketStatus.RESOLVED.value,
        "resolved_at": at,
        "resolution_note": note,
        "resolution_seconds": _seconds_since_filing(session, ticket_id, at),
    }
    where = [col(Ticket.status) == TicketStatus.CLAIMED.value, col(Ticket.claimant_user_id) == agent]
    if any_holder:
        where = [col(Ticket.status).in_(OPEN_STATES)]
        values["claimant_user_id"] = func.coalesce(Ticket.claimant_user_id, agent)
    return _result(session, ticket_id, _conditional_update(session, ticket_id, where, values))


def mark_auto_resolved(session: Session, ticket_id: int) -> None:
    _conditional_update(session, ticket_id, [], {"auto_resolved": True})


def _seconds_since_filing(session: Session, ticket_id: int, at: datetime) -> float | None:
    filed = session.exec(select(Ticket.filed_at).where(Ticket.id == ticket_id)).first()
    return max((at - filed).total_seconds(), 0.0) if filed else None


def reopen_ticket(session: Session, ticket_id: int, at: datetime) -> ChangeResult:
    """Back in the queue, without the previous resolution; the last resolve time stays for reports."""
    done = _conditional_update(
        session,
        ticket_id,
        [col(Ticket.status) == TicketStatus.RESOLVED.value],
        {
            "status": TicketStatus.OPEN.value,
            "claimant_user_id": None,
            "resolution_note": None,
            "reopened_at": at,
            "auto_resolved": False,
        },
    )
    return _result(session, ticket_id, done)


def change_class(
    session: Session, ticket_id: int, klass: str, reason: str | None, due_at: datetime, business_time: bool
) -> ChangeResult:
    done = _conditional_update(
        session,
        ticket_id,
        [col(Ticket.status).in_(OPEN_STATES), col(Ticket.queue) == Queue.TECH],
        {"klass": klass, "critical_reason": reason, "due_at": due_at, "business_time": business_time},
    )
    return _result(session, ticket_id, done)


def _result(session: Session, ticket_id: int, done: bool) -> ChangeResult:
    if done:
        return ChangeResult.DONE
    return ChangeResult.CONFLICT if session.get(Ticket, ticket_id) is not None else ChangeResult.NOT_FOUND


def set_card(session: Session, ticket_id: int, channel: str, ts: str) -> None:
    _conditional_update(session, ticket_id, [], {"queue_channel": channel, "card_ts": ts})


def set_filer_thread(session: Session, ticket_id: int, channel: str, ts: str) -> None:
    """The confirmation's message is the partner's thread, unless the ticket was filed from a message
    of that channel (a partner channel): then that message's thread is, and stays, the partner's."""
    already_there = (col(Ticket.filer_channel) == channel) & col(Ticket.filer_thread_ts).is_not(None)
    _conditional_update(
        session, ticket_id, [~already_there], {"filer_channel": channel, "filer_thread_ts": ts}
    )


def set_slack_error(session: Session, ticket_id: int, error: str) -> None:
    _conditional_update(session, ticket_id, [], {"slack_error": error})


def set_turn(session: Session, ticket_id: int, turn: str, at: datetime | None = None) -> bool:
    """Whose turn it is; True when it changed hands (then `turn_since` is `at`)."""
    values: dict[str, Any] = {"turn": turn, **({"turn_since": at} if at else {})}
    return _conditional_update(session, ticket_id, [col(Ticket.turn) != turn], values)


def set_permalinks(
    session: Session, ticket_id: int, card: str | None = None, filer: str | None = None
) -> None:
    values = {key: value for key, value in (("card_permalink", card), ("filer_permalink", filer)) if value}
    if values:
        _conditional_update(session, ticket_id, [], values)
