"""Mass incidents in the store: detection under a row lock, linking, and the incident's own changes.

Whether a filing opens an incident is decided in the database: every filing that may open one first
locks its desk's watch row for the reason (PostgreSQL: the row lock of an upsert; SQLite: writers
are serialised anyway), so the N-th matching ticket is counted by exactly one transaction; and the
unique `open_key` refuses a second open incident for the same desk and reason whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from storage.db import update_rows
from storage.models import Incident, IncidentWatch, Partner, Ping, Ticket
from storage.vocabulary import OPEN_STATES, IncidentStatus, PingKind, PingState, TicketClass


def open_key(desk: str, reason: str) -> str:
    return f"{desk}:{reason}"


def lock_watch(session: Session, desk: str, reason: str, now: datetime) -> None:
    """Take the desk's watch row for this reason until the transaction ends."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(IncidentWatch).values(key=open_key(desk, reason), checked_at=now)
    statement = statement.on_conflict_do_update(index_elements=["key"], set_={"checked_at": now})
    session.execute(statement)


def _try_lock_watch(session: Session, desk: str, reason: str, now: datetime) -> bool:
    """The watch row without waiting for it: False while another filing holds it."""
    if session.get_bind().dialect.name != "postgresql":
        lock_watch(session, desk, reason, now)  # SQLite: this transaction is the only writer anyway
        return True
    key = open_key(desk, reason)
    session.execute(pg_insert(IncidentWatch).values(key=key, checked_at=now).on_conflict_do_nothing())
    locking = select(IncidentWatch.key).where(IncidentWatch.key == key).with_for_update(nowait=True)
    try:
        with session.begin_nested():
            session.execute(locking)
    except OperationalError:  # lock not available
        return False
    return True


def open_incident_or_turn(
    session: Session, desk: str, reason: str, now: datetime, patience: float = 0.5
) -> Incident | None:
    """The desk's open incident for the reason, to join; or None, with the watch row held, when this
    filing is the one to decide whether to open one.

    While another filing holds the row (deciding, maybe opening the incident), this one looks again
    every 50 ms instead of queueing behind it: a storm's filings then join the incident as soon as it
    is open, rather than taking the row one after another. After `patience` seconds it waits its turn.
    """
    deadline = time.monotonic() + patience
    while True:
        incident = open_incident_for(session, desk, reason, joining=True)
        if incident is not None:
            return incident
        if time.monotonic() > deadline:
            lock_watch(session, desk, reason, now)
        elif not _try_lock_watch(session, desk, reason, now):
            time.sleep(0.05)
            continue
        return open_incident_for(session, desk, reason, joining=True)  # opened while it waited


def open_incident_for(session: Session, desk: str, reason: str, joining: bool = False) -> Incident | None:
    """The desk's open incident for the reason. `joining` holds it open until the transaction ends
    (a shared row lock: many filings join at once, while a resolve waits for them, and they for it)."""
    query = select(Incident).where(Incident.open_key == open_key(desk, reason))
    if joining and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return session.exec(query).first()


def unlinked_matches(session: Session, desk: str, reason: str, since: datetime) -> list[Ticket]:
    """Open Critical tickets of the desk with this reason, filed since `since`, in no incident."""
    query = select(Ticket).where(
        Ticket.desk == desk,
        Ticket.klass == TicketClass.CRITICAL.value,
        Ticket.critical_reason == reason,
        col(Ticket.status).in_(OPEN_STATES),
        col(Ticket.incident_id).is_(None),
        col(Ticket.filed_at) >= since,
    )
    return list(session.exec(query.order_by(col(Ticket.id))))


def create_incident(
    session: Session, desk: str, queue: str, reason: str, channel: str, now: datetime, due_at: datetime
) -> Incident:
    incident = Incident(
        desk=desk,
        queue=queue,
        reason=reason,
        open_key=open_key(desk, reason),
        opened_at=now,
        due_at=due_at,
        queue_channel=channel,
    )
    session.add(incident)
    session.flush()
    return incident


def link(session: Session, incident_id: int, ticket_ids: Sequence[int]) -> None:
    update_rows(session, Ticket, ticket_ids, [], {"incident_id": incident_id})


def unlink(session: Session, incident_id: int, ticket_id: int) -> bool:
    linked = [col(Ticket.incident_id) == incident_id]
    return bool(update_rows(session, Ticket, [ticket_id], linked, {"incident_id": None}))


def get_incident(session: Session, incident_id: int) -> Incident | None:
    return session.get(Incident, incident_id)


def linked_tickets(session: Session, incident_id: int, open_only: bool = False) -> list[Ticket]:
    query = select(Ticket).where(Ticket.incident_id == incident_id)
    if open_only:
        query = query.where(col(Ticket.status).in_(OPEN_STATES))
    return list(session.exec(query.order_by(col(Ticket.id))))


def linked_with_companies(session: Session, incident_id: int) -> list[tuple[Ticket, str]]:
    query = (
        select(Ticket, Partner.name)
        .join(Partner, col(Partner.id) == col(Ticket.partner_id))
        .where(Ticket.incident_id == incident_id)
        .order_by(col(Ticket.id))
    )
    return [(ticket, name) for ticket, name in session.exec(query)]


def paged_already(session: Session, incident_id: int) -> list[int]:
    """Linked tickets whose own page went out before the incident opened (after hours)."""
    query = (
        select(Ticket.id)
        .join(Ping, col(Ping.ticket_id) == col(Ticket.id))
        .where(
            Ticket.incident_id == incident_id,
            Ping.kind == PingKind.PAGE.value,
            Ping.state == PingState.SENT.value,
        )
        .order_by(col(Ticket.id))
    )
    return [int(ticket_id) for ticket_id in session.exec(query) if ticket_id]


def earliest_unanswered_ticket(session: Session, incident_id: int) -> Ticket | None:
    """The incident's open, unanswered ticket due first: what its deadline series is timed by."""
    query = select(Ticket).where(
        Ticket.incident_id == incident_id,
        col(Ticket.status).in_(OPEN_STATES),
        col(Ticket.first_response_at).is_(None),
    )
    return session.exec(query.order_by(col(Ticket.due_at), col(Ticket.id)).limit(1)).first()


def open_incidents(session: Session, desk: str | None = None) -> list[Incident]:
    query = select(Incident).where(Incident.status == IncidentStatus.OPEN.value)
    if desk:
        query = query.where(Incident.desk == desk)
    return list(session.exec(query.order_by(col(Incident.id))))


def _change(session: Session, incident_id: int, where: Sequence[Any], values: dict[str, Any]) -> bool:
    return bool(update_rows(session, Incident, [incident_id], where, values))


def claim_incident(session: Session, incident_id: int, agent: str, at: datetime) -> bool:
    """Claimed once: True when this call claimed it."""
    unclaimed = [col(Incident.status) == IncidentStatus.OPEN.value, col(Incident.claimant_user_id).is_(None)]
    return _change(session, incident_id, unclaimed, {"claimant_user_id": agent, "claimed_at": at})


def record_update(session: Session, incident_id: int, text: str, at: datetime) -> bool:
    still_open = [col(Incident.status) == IncidentStatus.OPEN.value]
    return _change(session, incident_id, still_open, {"latest_update": text, "updated_at": at})


def resolve_incident(session: Session, incident_id: int, agent: str, note: str | None, at: datetime) -> bool:
    """Resolved once; its open key is freed, so the next outage of the kind opens a new incident."""
    still_open = [col(Incident.status) == IncidentStatus.OPEN.value]
    values = {
        "status": IncidentStatus.RESOLVED.value,
        "open_key": None,
        "resolved_at": at,
        "resolved_by": agent,
        "resolution_note": note,
    }
    return _change(session, incident_id, still_open, values)


def set_due(session: Session, incident_id: int, due_at: datetime) -> None:
    _change(session, incident_id, [], {"due_at": due_at})


def set_message(session: Session, incident_id: int, channel: str, ts: str, permalink: str | None) -> None:
    _change(
        session,
        incident_id,
        [],
        {"queue_channel": channel, "message_ts": ts, "message_permalink": permalink},
    )


def opened_between(session: Session, start: datetime, end: datetime, desk: str | None) -> list[Incident]:
    """Incidents opened in [start, end): for reports."""
    query = select(Incident).where(col(Incident.opened_at) >= start, col(Incident.opened_at) < end)
    if desk:
        query = query.where(Incident.desk == desk)
    return list(session.exec(query.order_by(col(Incident.id))))


def linked_counts(session: Session, incident_ids: Sequence[int]) -> dict[int, int]:
    if not incident_ids:
        return {}
    query = (
        select(Ticket.incident_id, func.count())
        .where(col(Ticket.incident_id).in_(incident_ids))
        .group_by(col(Ticket.incident_id))
    )
    return {int(incident_id): int(count) for incident_id, count in session.exec(query) if incident_id}
