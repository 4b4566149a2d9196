"""What /metrics reads from the store: a handful of grouped counts, cheap on the indexes in use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.models import Incident, Ping, ResponseWindow, Ticket
from storage.vocabulary import OPEN_STATES, IncidentStatus, PingState


@dataclass
class StoreFigures:
    owed: int = 0  # delivery rows due and not yet posted
    oldest_owed_seconds: float = 0.0
    open_tickets: dict[tuple[str, str], int] = field(default_factory=dict)  # (desk, queue) -> n
    running_windows: dict[tuple[str, str], int] = field(default_factory=dict)
    breached_open: dict[tuple[str, str], int] = field(default_factory=dict)  # unanswered past due
    incidents_open: int = 0


def store_figures(session: Session, now: datetime) -> StoreFigures:
    figures = StoreFigures()
    unposted = col(Ping.state).in_([PingState.PLANNED.value, PingState.SENDING.value])
    owed, oldest = session.execute(
        select(func.count(), func.min(Ping.planned_at)).where(unposted, col(Ping.planned_at) <= now)
    ).one()
    figures.owed = int(owed)
    figures.oldest_owed_seconds = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    open_ = col(Ticket.status).in_(OPEN_STATES)
    keys = (col(Ticket.desk), col(Ticket.queue))
    for desk, queue, n in session.execute(select(*keys, func.count()).where(open_).group_by(*keys)):
        figures.open_tickets[(desk, queue)] = int(n)
    late = open_ & col(Ticket.first_response_at).is_(None) & (col(Ticket.due_at) < now)
    for desk, queue, n in session.execute(select(*keys, func.count()).where(late).group_by(*keys)):
        figures.breached_open[(desk, queue)] = int(n)
    running = (
        select(*keys, func.count())
        .join(ResponseWindow, col(ResponseWindow.ticket_id) == col(Ticket.id))
        .where(col(ResponseWindow.closed_at).is_(None))
        .group_by(*keys)
    )
    for desk, queue, n in session.execute(running):
        figures.running_windows[(desk, queue)] = int(n)
    figures.incidents_open = int(
        session.execute(
            select(func.count()).where(col(Incident.status) != IncidentStatus.RESOLVED.value)
        ).scalar_one()
    )
    return figures
