"""Deadlines: a ticket's SLA window, the warning, breach and escalation pings it owes, and its first
response, which stops the clock. Ticket and incident operations both build on these."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from handlers.operations.context import DeskPolicy
from handlers.rules.sla import (
    DeskCalendar,
    SlaWindow,
    business_seconds_between,
    deadline_plan,
    first_response_window,
)
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.models import Ticket
from storage.pings import PlannedPing
from storage.tickets import FirstResponse
from storage.vocabulary import PingKind


class Verdict(StrEnum):
    MET = "met"
    BREACHED = "breached"


def deadline_pings(desk: DeskPolicy, calendar: DeskCalendar, window: SlaWindow) -> list[PlannedPing]:
    config = desk.config
    plan = deadline_plan(
        calendar, window, config.warning_shares, config.escalation_interval_seconds, config.escalation_max
    )
    return [PlannedPing(PingKind(kind), seq, at) for kind, seq, at in plan]


def remaining_deadline_pings(desk: DeskPolicy, ticket: Ticket, now: datetime) -> list[PlannedPing]:
    """The pings of the ticket's window still ahead of `now`; what is already past of it is not
    posted as a burst, except the breach alert, which goes out at once."""
    calendar, window = window_of(desk, ticket)
    plan = []
    for item in deadline_pings(desk, calendar, window):
        if item.at > now:
            plan.append(item)
        elif item.kind is PingKind.BREACH:
            plan.append(PlannedPing(item.kind, item.seq, now))
    return plan


def window_of(desk: DeskPolicy, ticket: Ticket) -> tuple[DeskCalendar, SlaWindow]:
    calendar = desk.desks.calendar(ticket.desk)
    return calendar, first_response_window(
        calendar, ticket.queue, ticket.klass, ticket.filed_at, desk.desks.policy
    )


def first_response_of(ticket: Ticket, now: datetime, desk: DeskPolicy | None = None) -> FirstResponse:
    """A first response given now: never before the filing; how long it took in the window's own time
    (business time for business-time windows), kept for reports; and whether it met the SLA."""
    at = max(now, ticket.filed_at)
    elapsed = (at - ticket.filed_at).total_seconds()
    if desk is not None and ticket.business_time and ticket.desk in desk.desks.calendars:
        elapsed = business_seconds_between(desk.desks.calendar(ticket.desk), ticket.filed_at, at)
    return FirstResponse(ticket.id or 0, at, at <= ticket.due_at, elapsed)


def record_first_response(
    session: Session, ticket: Ticket, by: str, now: datetime, desk: DeskPolicy | None = None
) -> Verdict | None:
    """Stop the SLA clock once: the verdict when this call stopped it, else None."""
    elapsed = first_response_of(ticket, now, desk).elapsed_seconds
    if not ticket_store.record_first_response(session, ticket, by, now, elapsed):
        return None
    ping_store.drop_deadline_pings(session, ticket.id or 0)
    met = max(now, ticket.filed_at) <= ticket.due_at
    verdict = Verdict.MET if met else Verdict.BREACHED
    ticket_store.audit(session, ticket.id, by, "first_response", now, sla=verdict.value)
    return verdict
