"""The desk's operations: file, claim, release, reassign, resolve, reopen, reclassify, and the first
response. Each takes plain values and a session, changes the store (the database decides races),
records what is owed to Slack as delivery rows, audits, and returns what happened: `Done`, or
`Refused` with its reason. Commands, buttons, thread events and the CLI all call these; listeners
only word the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from handlers.operations import incidents, next_response, satisfaction
from handlers.operations.context import Actor, DeskPolicy
from handlers.operations.deadlines import (
    Verdict,
    deadline_pings,
    record_first_response,
    remaining_deadline_pings,
    window_of,
)
from handlers.rules import eligibility as rules
from handlers.rules.sla import (
    first_response_window,
)
from handlers.ui import forms
from handlers.ui import tickets as views
from storage import channels as channel_store
from storage import incidents as incident_store
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.models import Partner, Ticket
from storage.pings import PlannedPing
from storage.tickets import ChangeResult
from storage.vocabulary import IncidentStatus, PingKind, Queue, TicketClass, TicketStatus


class Refusal(StrEnum):
    AGENTS_ONLY = "agents_only"
    CLAIMED = "claimed"  # by someone: `holder`
    RESOLVED = "resolved"
    NOT_CLAIMED = "not_claimed"
    HELD_BY_OTHER = "held_by_other"  # `holder`
    NOT_RESOLVED = "not_resolved"
    NOT_FILER = "not_filer"
    NOT_AN_AGENT = "not_an_agent"  # the person to hand a ticket to
    NOT_TECH = "not_tech"
    SAME_CLASS = "same_class"
    BAD_CLASS = "bad_class"


@dataclass(frozen=True)
class Done:
    ticket: Ticket
    first_response: Verdict | None = None  # when this operation was the first response
    due_at: datetime | None = None  # the new due time, after a class change


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    ticket: Ticket
    holder: str | None = None


Result = Done | Refused


# --- filing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTicket:
    """A form's answers after the rules routed them."""

    queue: Queue
    klass: TicketClass | None
    subject: str
    description: str
    product: str | None
    critical_reason: str | None
    topic: str | None
    redirected: bool = False


def file_ticket(
    session: Session,
    desk: DeskPolicy,
    filer: str,
    partner: Partner,
    new: NewTicket,
    now: datetime,
    submission_key: str | None = None,
    origin: forms.FormOrigin = forms.FormOrigin(),
) -> tuple[Ticket, bool]:
    """Store the ticket with its due time and plan everything it owes Slack; (ticket, created). The
    confirmation goes where the form was opened (`origin`)."""
    assert partner.id is not None
    desk_name = partner.desk if partner.desk in desk.desks.calendars else desk.config.default_desk
    calendar = desk.desks.calendar(desk_name)
    window = first_response_window(calendar, new.queue, new.klass, now, desk.desks.policy)
    critical = new.klass is TicketClass.CRITICAL
    row = Ticket(
        submission_key=submission_key,
        queue=new.queue.value,
        topic=new.topic,
        klass=new.klass.value if new.klass else None,
        critical_reason=new.critical_reason if critical and not new.redirected else None,
        subject=new.subject[: rules.SUBJECT_MAX],
        description=new.description[:40_000],
        product=new.product,
        filer_user_id=filer,
        partner_id=partner.id,
        desk=desk_name,
        filed_at=now,
        due_at=window.due_at,
        business_time=window.business_time,
        outside_hours=window.outside_hours,
        queue_channel=desk.config.queue_channel(new.queue),
        filer_channel=origin.channel,
        # Filed from a message of a partner channel: that message's thread is the partner's.
        filer_thread_ts=origin.thread_ts if origin.channel else None,
    )
    ticket, created = ticket_store.create_ticket(session, row)
    if not created:
        return ticket, False
    assert ticket.id is not None
    joined = incidents.join_or_open(session, desk, ticket, now) if incidents.may_join(ticket) else None
    receipt = {"redirected": new.redirected, "incident": joined.incident.ref if joined else None}
    first = []
    if joined is None or joined.opened:  # a ticket that joins an incident is a line of its message
        first.append(PlannedPing(PingKind.CARD, 0, now))
    first.append(PlannedPing(PingKind.CONFIRMATION, 0, now, payload=receipt))
    if joined is None:  # a linked ticket's page and deadline series are the incident's
        if critical and window.outside_hours:
            first.append(PlannedPing(PingKind.PAGE, 0, now))
        first += deadline_pings(desk, calendar, window)
    ping_store.plan_new_ticket(session, ticket.id, first)
    facts = {"queue": ticket.queue, "klass": ticket.klass, "due_at": ticket.due_at.isoformat()}
    if joined:
        facts["incident"] = joined.incident.ref
    ticket_store.audit(session, ticket.id, filer, "filed", now, redirected=new.redirected, **facts)
    return ticket, True


# --- agents at work --------------------------------------------------------------------------------------


def claim(
    session: Session, ticket: Ticket, actor: Actor, now: datetime, desk: DeskPolicy | None = None
) -> Result:
    if not actor.is_agent:
        return Refused(Refusal.AGENTS_ONLY, ticket)
    if ticket_store.claim_ticket(session, ticket.id or 0, actor.user_id) is not ChangeResult.DONE:
        fresh = ticket_store.get_ticket(session, ticket.id or 0) or ticket
        if fresh.status == TicketStatus.CLAIMED:
            return Refused(Refusal.CLAIMED, fresh, holder=fresh.claimant_user_id)
        return Refused(Refusal.RESOLVED, fresh)
    first = record_first_response(session, ticket, actor.user_id, now, desk)
    _changed(
        session, ticket, actor.user_id, "claimed", now, notice=views.picked_up(actor.user_id, ticket.ref)
    )
    return Done(ticket, first_response=first)


def release(session: Session, ticket: Ticket, actor: Actor, now: datetime) -> Result:
    if not actor.is_agent:
        return Refused(Refusal.AGENTS_ONLY, ticket)
    if ticket_store.release_ticket(session, ticket.id or 0, actor.user_id) is not ChangeResult.DONE:
        return _not_held(ticket)
    _changed(session, ticket, actor.user_id, "released", now)
    return Done(ticket)


def reassign(
    session: Session, ticket: Ticket, actor: Actor, to: str, to_is_agent: bool, now: datetime
) -> Result:
    if not actor.is_agent:
        return Refused(Refusal.AGENTS_ONLY, ticket)
    if not to_is_agent:
        return Refused(Refusal.NOT_AN_AGENT, ticket, holder=to)
    if ticket_store.reassign_ticket(session, ticket.id or 0, to) is not ChangeResult.DONE:
        return Refused(Refusal.RESOLVED, ticket)
    # Handing a ticket over answers nobody: it is not a first response (the new holder's will be).
    _changed(
        session, ticket, actor.user_id, "reassigned", now, notice=views.handed_over(to, ticket.ref), to=to
    )
    if to != actor.user_id:  # the new holder hears of it, with a link to the card
        told = {"to": to, "text": views.assigned_dm(actor.user_id, ticket), "card_link": True}
        ping_store.owe(session, ticket.id or 0, PingKind.DIRECT, now, payload=told)
    return Done(ticket)


def resolve(
    session: Session,
    ticket: Ticket,
    actor: Actor,
    note: str | None,
    now: datetime,
    desk: DeskPolicy | None = None,
) -> Result:
    if not actor.is_agent:
        return Refused(Refusal.AGENTS_ONLY, ticket)
    note = rules.clean(note)[: rules.NOTE_MAX] or None
    if (
        ticket_store.resolve_ticket(session, ticket.id or 0, actor.user_id, note, now)
        is not ChangeResult.DONE
    ):
        return (
            Refused(Refusal.RESOLVED, ticket) if ticket.status == TicketStatus.RESOLVED else _not_held(ticket)
        )
    ping_store.drop_deadline_pings(session, ticket.id or 0)
    next_response.closed(session, [ticket.id or 0], actor.user_id, now, desk)
    in_partner_channel = bool(ticket.filer_channel) and channel_store.serves_partner(
        session, ticket.filer_channel or ""
    )
    notice = views.resolved_notice(actor.user_id, ticket.ref, note, in_partner_channel)
    _changed(session, ticket, actor.user_id, "resolved", now, notice=notice, note=note)
    satisfaction.ask_after_resolve(session, desk, [ticket.id or 0], now)
    return Done(ticket)


def reopen(session: Session, desk: DeskPolicy, ticket: Ticket, actor: Actor, now: datetime) -> Result:
    """Back in the queue. Still unanswered: its original window again; answered: no new deadline."""
    if not actor.is_agent and ticket.filer_user_id != actor.user_id:
        return Refused(Refusal.NOT_FILER, ticket)
    if ticket_store.reopen_ticket(session, ticket.id or 0, now) is not ChangeResult.DONE:
        return Refused(Refusal.NOT_RESOLVED, ticket)
    fresh = ticket_store.get_ticket(session, ticket.id or 0) or ticket
    if fresh.first_response_at is None:
        calendar, window = window_of(desk, fresh)
        ping_store.restore_deadline_pings(session, fresh.id or 0, deadline_pings(desk, calendar, window))
    incident = incident_store.get_incident(session, fresh.incident_id) if fresh.incident_id else None
    if incident is not None and incident.status == IncidentStatus.RESOLVED:
        # Its incident is over: the ticket is handled on its own now, with a card of its own.
        incident_store.unlink(session, incident.id or 0, fresh.id or 0)
        ping_store.owe(session, fresh.id or 0, PingKind.CARD, now, once=True)
        fresh = ticket_store.get_ticket(session, ticket.id or 0) or fresh
    _changed(
        session,
        ticket,
        actor.user_id,
        "reopened",
        now,
        notice=views.reopened_notice(actor.user_id, ticket.ref),
    )
    return Done(fresh)


def reclassify(
    session: Session,
    desk: DeskPolicy,
    ticket: Ticket,
    actor: Actor,
    klass: str,
    reason: str | None,
    now: datetime,
) -> Result:
    """A Technical Support ticket's new class: its window runs from the filing, and the new window's
    pings replace the old ones. What is already past of the new window is not posted as a burst."""
    if not actor.is_agent:
        return Refused(Refusal.AGENTS_ONLY, ticket)
    if ticket.queue != Queue.TECH:
        return Refused(Refusal.NOT_TECH, ticket)
    critical = klass == TicketClass.CRITICAL
    if klass not in set(TicketClass) or (critical and reason not in rules.CRITICAL_REASONS):
        return Refused(Refusal.BAD_CLASS, ticket)
    if ticket.klass == klass:
        return Refused(Refusal.SAME_CLASS, ticket)
    calendar = desk.desks.calendar(ticket.desk)
    window = first_response_window(calendar, ticket.queue, klass, ticket.filed_at, desk.desks.policy)
    changed = ticket_store.change_class(
        session, ticket.id or 0, klass, reason if critical else None, window.due_at, window.business_time
    )
    if changed is not ChangeResult.DONE:
        return Refused(Refusal.RESOLVED, ticket)
    fresh = ticket_store.get_ticket(session, ticket.id or 0) or ticket
    ping_store.replan_deadline_pings(session, ticket.id or 0, remaining_deadline_pings(desk, fresh, now))
    next_response.reclassified(session, desk, fresh, now)
    label = desk.desks.labels.get(ticket.desk, ticket.desk)
    due = views.due_in_words(window.due_at, now, calendar.timezone, label)
    notice = views.class_changed_notice(actor.user_id, ticket.ref, klass, due)
    _changed(session, ticket, actor.user_id, "class_changed", now, notice=notice, klass=klass)
    return Done(fresh, due_at=window.due_at)


def _not_held(ticket: Ticket) -> Refused:
    if ticket.status == TicketStatus.CLAIMED:
        return Refused(Refusal.HELD_BY_OTHER, ticket, holder=ticket.claimant_user_id)
    if ticket.status == TicketStatus.RESOLVED:
        return Refused(Refusal.RESOLVED, ticket)
    return Refused(Refusal.NOT_CLAIMED, ticket)


def _changed(
    session: Session,
    ticket: Ticket,
    actor: str,
    event: str,
    now: datetime,
    notice: str | None = None,
    **detail: Any,
) -> None:
    """Audited, the card re-rendered, and the filer told in their thread where they should know."""
    ticket_store.audit(session, ticket.id, actor, event, now, **detail)
    ping_store.owe(session, ticket.id or 0, PingKind.CARD_UPDATE, now)
    if notice:
        ping_store.owe(session, ticket.id or 0, PingKind.NOTICE, now, text=notice)
