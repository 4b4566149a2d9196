"""Retention: delivery rows posted or dropped long ago are pruned, a small batch a transaction, so no
lock is held for long. Tickets, windows, answers and the audit trail are kept (reports read those,
never the delivery rows), and so are the rows whose existence still means something: a ticket's
card and an incident's message (`has_card`), a channel's intro and pin (posted once), and every row
of a ticket still open (its copies are what later edits and deletions follow)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlmodel import Session, col

from storage.models import Ping, Ticket
from storage.vocabulary import OPEN_STATES, PingKind, PingState

KEPT_KINDS = (PingKind.CARD, PingKind.INCIDENT, PingKind.INTRO, PingKind.PIN)
PRUNE_BATCH = 500


def prune_batch(session: Session, before: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete up to `limit` rows that ended (posted or dropped) before `before`; how many went."""
    open_tickets = select(col(Ticket.id)).where(col(Ticket.status).in_(OPEN_STATES))
    ended_at = col(Ping.posted_at).is_(None) & (col(Ping.planned_at) < before)
    ids = list(
        session.execute(
            select(col(Ping.id))
            .where(
                col(Ping.state).in_([PingState.SENT.value, PingState.DROPPED.value]),
                or_(col(Ping.posted_at) < before, ended_at),
                col(Ping.kind).not_in([k.value for k in KEPT_KINDS]),
                or_(col(Ping.ticket_id).is_(None), col(Ping.ticket_id).not_in(open_tickets)),
            )
            .order_by(col(Ping.id))
            .limit(limit)
        ).scalars()
    )
    if ids:
        session.execute(delete(Ping).where(col(Ping.id).in_(ids)))
    return len(ids)
