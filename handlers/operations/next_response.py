"""After the first answer (SPEC "Next response and waiting on the partner"): the next-response windows
a partner's messages open and support's answers close, their deadline pings, and the reminder and the
resolve for want of an answer while the ticket waits on the partner. Plain values and a session in,
rows owed to Slack out; the clock an argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from handlers.operations import satisfaction
from handlers.operations.context import DeskPolicy
from handlers.operations.deadlines import Verdict, deadline_pings
from handlers.rules.sla import (
    SlaWindow,
    business_days_after,
    business_seconds_between,
    first_response_window,
)
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage import windows as window_store
from storage.models import ResponseWindow, Ticket
from storage.pings import PlannedPing
from storage.tickets import ChangeResult
from storage.vocabulary import NEXT_KIND_OF, PingKind, TicketStatus, Turn


def partner_wrote(
    session: Session, desk: DeskPolicy, ticket: Ticket, at: datetime, channel: str, ts: str
) -> ResponseWindow | None:
    """A partner's message leaves the ticket waiting for support: after the first answer it opens a
    next-response window from that message (unless one is open: the oldest unanswered one counts),
    and whatever waited on the partner (reminder, resolve) is off."""
    assert ticket.id is not None
    ping_store.drop_waiting_pings(session, ticket.id, "the partner wrote")
    if ticket.first_response_at is None or ticket.status == TicketStatus.RESOLVED:
        return None  # the first-response clock still runs, or the ticket is closed
    calendar = desk.desks.calendar(ticket.desk)
    window = first_response_window(calendar, ticket.queue, ticket.klass, at, desk.desks.policy)
    row = window_store.open_window(
        session,
        ResponseWindow(
            ticket_id=ticket.id, opened_at=at, opened_channel=channel, opened_ts=ts,
            due_at=window.due_at, business_time=window.business_time,
        ),
    )  # fmt: skip
    if row is None:
        return None
    assert row.id is not None
    if ticket.incident_id is None:  # a linked ticket's pings are its incident's
        _plan_pings(session, desk, ticket, row, window, None)
    ticket_store.audit(
        session, ticket.id, "partner", "next_response_opened", at, due_at=row.due_at.isoformat()
    )
    return row


def _plan_pings(
    session: Session,
    desk: DeskPolicy,
    ticket: Ticket,
    row: ResponseWindow,
    window: SlaWindow,
    now: datetime | None,
) -> None:
    """The window's warnings, breach alert and escalations; after a replan (`now`) only those still
    ahead, but the breach alert, which goes out at once when its time has passed."""
    where = {"window": row.id, "channel": row.opened_channel, "ts": row.opened_ts}
    plan = []
    for item in deadline_pings(desk, desk.desks.calendar(ticket.desk), window):
        at = item.at
        if now is not None and at <= now:
            if item.kind is not PingKind.BREACH:
                continue
            at = now
        plan.append(PlannedPing(NEXT_KIND_OF[item.kind], item.seq, at, payload=where))
    ping_store.plan_window_pings(session, ticket.id or 0, row.id or 0, plan)


def reclassified(session: Session, desk: DeskPolicy, ticket: Ticket, now: datetime) -> None:
    """A class change while a next-response window runs: its due time by the new class, from the
    same partner message, and its pings replanned."""
    row = window_store.open_window_of(session, ticket.id or 0)
    if row is None:
        return
    calendar = desk.desks.calendar(ticket.desk)
    window = first_response_window(calendar, ticket.queue, ticket.klass, row.opened_at, desk.desks.policy)
    window_store.set_due(session, row, window.due_at, window.business_time)
    if ticket.incident_id is None:
        _plan_pings(session, desk, ticket, row, window, now)


def support_answered(
    session: Session, desk: DeskPolicy | None, ticket: Ticket, by: str, now: datetime
) -> Verdict | None:
    """Support's message reached the partner (a copy, a reply in their thread, a resolve): the open
    window is answered, its pings dropped; the verdict when this call answered it."""
    assert ticket.id is not None
    window = window_store.open_window_of(session, ticket.id)
    if window is None:
        return None
    at = max(now, window.opened_at)
    elapsed = (at - window.opened_at).total_seconds()
    if desk is not None and window.business_time and ticket.desk in desk.desks.calendars:
        elapsed = business_seconds_between(desk.desks.calendar(ticket.desk), window.opened_at, at)
    if not window_store.close_window(session, window, by, at, elapsed):
        return None
    ping_store.drop_window_pings(session, ticket.id)
    verdict = Verdict.MET if at <= window.due_at else Verdict.BREACHED
    ticket_store.audit(session, ticket.id, by, "next_response", at, sla=verdict.value)
    return verdict


def wait_on_partner(session: Session, desk: DeskPolicy | None, ticket: Ticket, now: datetime) -> None:
    """Support answered and the ticket waits on the partner: the reminder and the resolve for want of
    an answer are planned (each a delivery row, dropped if the partner writes first)."""
    if desk is None or not desk.config.waiting_on_partner or ticket.status == TicketStatus.RESOLVED:
        return
    assert ticket.id is not None
    config, calendar = desk.config, desk.desks.calendar(ticket.desk)
    ping_store.drop_waiting_pings(session, ticket.id, "support wrote again")
    remind_at = business_days_after(calendar, now, config.partner_reminder_days)
    if config.partner_reminder_days:
        ping_store.owe(session, ticket.id, PingKind.REMINDER, remind_at)
    if config.partner_auto_resolve_days:
        resolve_at = business_days_after(calendar, remind_at, config.partner_auto_resolve_days)
        ping_store.owe(session, ticket.id, PingKind.AUTO_RESOLVE, resolve_at)


def closed(
    session: Session, ticket_ids: Sequence[int], by: str, now: datetime, desk: DeskPolicy | None = None
) -> None:
    """A resolve (of one ticket, or of an incident's many) answers their running windows and ends any
    waiting on the partner: a few statements, however many tickets."""
    for ticket_id in window_store.open_windows_of(session, ticket_ids):
        ticket = ticket_store.get_ticket(session, ticket_id)
        if ticket is not None:
            support_answered(session, desk, ticket, by, now)
    ping_store.drop_waiting_pings(session, ticket_ids[0] if len(ticket_ids) == 1 else ticket_ids, "resolved")


def may_reopen_by_writing(ticket: Ticket, now: datetime, reopen_days: int) -> bool:
    """A ticket resolved for want of an answer reopens when the partner writes within the window."""
    if ticket.status != TicketStatus.RESOLVED or not ticket.auto_resolved or ticket.resolved_at is None:
        return False
    return (now - ticket.resolved_at).total_seconds() <= reopen_days * 86_400


NO_ANSWER = "No answer from the partner."


def resolve_for_want_of_an_answer(
    session: Session, desk: DeskPolicy | None, ticket_id: int, now: datetime
) -> bool:
    """The partner was told (the notice is posted): the ticket resolved as "no answer from the partner",
    once, and only while it still waits on them. Asks the satisfaction question as any resolve does."""
    ticket = ticket_store.get_ticket(session, ticket_id)
    if ticket is None or ticket.status == TicketStatus.RESOLVED or ticket.turn != Turn.PARTNER:
        return False
    done = ticket_store.resolve_ticket(session, ticket_id, "sla-desk", NO_ANSWER, now, any_holder=True)
    if done is not ChangeResult.DONE:
        return False
    ticket_store.mark_auto_resolved(session, ticket_id)
    ping_store.drop_deadline_pings(session, ticket_id)
    ping_store.owe(session, ticket_id, PingKind.CARD_UPDATE, now)
    ticket_store.audit(session, ticket_id, "sla-desk", "resolved", now, note=NO_ANSWER, auto=True)
    satisfaction.ask_after_resolve(session, desk, [ticket_id], now)
    return True
