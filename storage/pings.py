"""The delivery table: every message the bot owes Slack, and the exactly-once state machine.

planned --(due; claimed under a row lock, with a lease)--> sending --> sent
   |                                                          |
   +--(first response, or replanned)--> dropped               +--(Slack error)--> planned, later
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import DEADLINE_KINDS, Ping, PingKind, PingState


@dataclass(frozen=True)
class PlannedPing:
    kind: PingKind
    seq: int
    at: datetime
    text: str | None = None

    def row(self, ticket_id: int) -> Ping:
        return Ping(
            ticket_id=ticket_id,
            kind=self.kind.value,
            seq=self.seq,
            planned_at=self.at,
            next_attempt_at=self.at,
            text=self.text,
        )


def plan_new_ticket(session: Session, ticket_id: int, plan: Iterable[PlannedPing]) -> None:
    """Everything a ticket owes from its filing, in one flush: the ticket is new, nothing can clash."""
    session.add_all(item.row(ticket_id) for item in plan)
    session.flush()


def plan_deadline_pings(session: Session, ticket_id: int, plan: Iterable[PlannedPing]) -> int:
    """(Re)plan a ticket's warnings, breach and escalations; what was already posted is kept."""
    existing = {
        (p.kind, p.seq): p
        for p in session.exec(
            select(Ping).where(
                Ping.ticket_id == ticket_id, col(Ping.kind).in_([k.value for k in DEADLINE_KINDS])
            )
        )
    }
    added = 0
    wanted = set()
    for item in plan:
        key = (item.kind.value, item.seq)
        wanted.add(key)
        ping = existing.get(key)
        if ping is None:
            session.add(item.row(ticket_id))
            added += 1
        elif ping.state in (PingState.PLANNED, PingState.DROPPED):
            ping.state, ping.planned_at, ping.next_attempt_at = PingState.PLANNED.value, item.at, item.at
            session.add(ping)
    for key, ping in existing.items():
        if key not in wanted and ping.state == PingState.PLANNED:
            ping.state = PingState.DROPPED.value
            session.add(ping)
    session.flush()
    return added


def owe(
    session: Session,
    ticket_id: int,
    kind: PingKind,
    at: datetime,
    text: str | None = None,
    once: bool = False,
) -> Ping | None:
    """Record a message the bot owes now (card, confirmation, notice, …).

    `once` kinds exist at most once per ticket (seq 0); others take the next seq. A card update that is
    still waiting covers a newer one, since the card is rendered from the ticket when it is sent.
    """
    if once or kind is PingKind.CARD_UPDATE:
        waiting = session.exec(
            select(Ping).where(
                Ping.ticket_id == ticket_id,
                Ping.kind == kind.value,
                col(Ping.state).in_([PingState.PLANNED.value] if not once else [s.value for s in PingState]),
            )
        ).first()
        if waiting is not None:
            return None
    for _ in range(5):
        seq = 0 if once else _next_seq(session, ticket_id, kind)
        ping = Ping(
            ticket_id=ticket_id, kind=kind.value, seq=seq, planned_at=at, next_attempt_at=at, text=text
        )
        try:
            with session.begin_nested():  # another process may take the same seq at the same moment
                session.add(ping)
        except IntegrityError:
            if once:
                return None
            continue
        return ping
    raise RuntimeError(f"could not number a {kind} for ticket {ticket_id}")


def _next_seq(session: Session, ticket_id: int, kind: PingKind) -> int:
    query = select(func.coalesce(func.max(Ping.seq) + 1, 0)).where(
        Ping.ticket_id == ticket_id, Ping.kind == kind.value
    )
    return int(session.exec(query).one())


def drop_deadline_pings(session: Session, ticket_id: int) -> int:
    result = session.execute(
        update(Ping)
        .where(
            col(Ping.ticket_id) == ticket_id,
            col(Ping.state) == PingState.PLANNED.value,
            col(Ping.kind).in_([k.value for k in DEADLINE_KINDS]),
        )
        .values(state=PingState.DROPPED.value)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    """A ping this process now holds; `in_flight` when an earlier holder may have posted it."""

    id: int
    attempts: int
    in_flight: bool


def claim_due(
    session: Session, now: datetime, lease: timedelta, limit: int, ticket_id: int | None = None
) -> list[Claimed]:
    """Take due pings for this process: planned ones whose time has come, and expired leases.

    PostgreSQL: row locks that skip rows another process holds. SQLite: one writer at a time.
    Either way each row then moves to `sending` with a compare-and-set on its state and attempts.
    """
    due = or_(
        (col(Ping.state) == PingState.PLANNED.value) & (col(Ping.next_attempt_at) <= now),
        (col(Ping.state) == PingState.SENDING.value) & (col(Ping.lease_until) <= now),
    )
    query = select(Ping.id, Ping.state, Ping.attempts).where(due)
    if ticket_id is not None:
        query = query.where(Ping.ticket_id == ticket_id)
    query = query.order_by(col(Ping.next_attempt_at), col(Ping.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for ping_id, state, attempts in session.exec(query).all():
        assert ping_id is not None
        result = session.execute(
            update(Ping)
            .where(col(Ping.id) == ping_id, col(Ping.state) == state, col(Ping.attempts) == attempts)
            .values(state=PingState.SENDING.value, lease_until=now + lease, attempts=attempts + 1)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(Claimed(ping_id, attempts + 1, in_flight=state == PingState.SENDING.value))
    return claimed


def _finish(session: Session, claim: Claimed, **values: object) -> bool:
    """Record an outcome only while this process still holds the ping (its attempt is the fence)."""
    result = session.execute(
        update(Ping)
        .where(
            col(Ping.id) == claim.id,
            col(Ping.state) == PingState.SENDING.value,
            col(Ping.attempts) == claim.attempts,
        )
        .values(lease_until=None, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(
    session: Session, claim: Claimed, channel: str | None, ts: str | None, at: datetime, late: bool
) -> bool:
    return _finish(
        session,
        claim,
        state=PingState.SENT.value,
        channel=channel,
        message_ts=ts,
        posted_at=at,
        late=late,
        last_error=None,
    )


def mark_retry(session: Session, claim: Claimed, at: datetime, error: str) -> bool:
    return _finish(session, claim, state=PingState.PLANNED.value, next_attempt_at=at, last_error=error[:500])


def mark_dropped(session: Session, claim: Claimed, reason: str) -> bool:
    return _finish(session, claim, state=PingState.DROPPED.value, last_error=reason[:500])


def mark_failed(session: Session, claim: Claimed, error: str) -> bool:
    return _finish(session, claim, state=PingState.FAILED.value, last_error=error[:500])


def alert_owed_since(session: Session, problem: str, since: datetime) -> bool:
    """Whether a lead alert naming this problem was raised since `since` (for any ticket)."""
    query = select(Ping.id).where(
        Ping.kind == PingKind.LEAD_ALERT.value,
        col(Ping.planned_at) >= since,
        col(Ping.text).contains(problem, autoescape=True),
    )
    return session.exec(query.limit(1)).first() is not None


def get_ping(session: Session, ping_id: int) -> Ping | None:
    return session.get(Ping, ping_id)


def pings_for(session: Session, ticket_id: int) -> list[Ping]:
    query = select(Ping).where(Ping.ticket_id == ticket_id).order_by(col(Ping.planned_at), col(Ping.id))
    return list(session.exec(query))
