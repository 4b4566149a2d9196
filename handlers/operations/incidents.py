"""Mass incidents, the desk's side: detection at filing, and claim, update, resolve and unlink.

When the vendor's cloud fails, many partners file Critical tickets about it within minutes. The
N-th such ticket (different companies, one desk, one reason, within M minutes) opens an incident:
one message in the queue channel instead of a card per ticket, one page, one deadline series, and
every linked partner kept up to date in their own thread. Like the ticket operations, each takes
plain values and a session, records what is owed to Slack, and returns what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from handlers.operations import deadlines, next_response, satisfaction
from handlers.operations.context import Actor, DeskPolicy
from handlers.rules import eligibility as rules
from handlers.ui import incidents as incident_views
from handlers.ui import tickets as views
from storage import incidents as incident_store
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.models import Incident, Ticket
from storage.tickets import FirstResponse
from storage.vocabulary import INCIDENT_REASONS, IncidentStatus, PingKind, TicketClass, TicketStatus


@dataclass(frozen=True)
class Joined:
    incident: Incident
    opened: bool  # this filing opened the incident (its ticket is one of the openers)


class IncidentRefusal(StrEnum):
    AGENTS_ONLY = "agents_only"
    CLAIMED = "claimed"  # by `holder`
    RESOLVED = "resolved"
    NOT_LINKED = "not_linked"
    EMPTY = "empty"  # an update without text


@dataclass(frozen=True)
class Tally:
    """What an incident operation did to its linked tickets."""

    changed: int = 0  # linked tickets the operation changed
    met: int = 0  # first responses within the SLA that it gave
    breached: int = 0  # ... and after their deadline


@dataclass(frozen=True)
class IncidentRefused:
    reason: IncidentRefusal
    incident: Incident
    holder: str | None = None  # who holds it, when claimed


@dataclass(frozen=True)
class IncidentDone:
    incident: Incident
    tally: Tally


IncidentResult = IncidentDone | IncidentRefused


def may_join(ticket: Ticket) -> bool:
    return ticket.klass == TicketClass.CRITICAL and ticket.critical_reason in INCIDENT_REASONS


def join_or_open(session: Session, desk: DeskPolicy, ticket: Ticket, now: datetime) -> Joined | None:
    """A new matching Critical: linked to its desk's open incident for the reason, or the N-th from
    different companies within M minutes opens one. Decided under the watch row's lock."""
    assert ticket.id is not None and ticket.critical_reason is not None
    reason = ticket.critical_reason
    # Joining an open incident needs no turn: only opening one is decided one filing at a time.
    incident = incident_store.open_incident_or_turn(session, ticket.desk, reason, now)
    if incident is not None:
        _join(session, desk, incident, ticket, now)
        return Joined(incident, opened=False)
    config = desk.config
    since = now - timedelta(minutes=config.incident_window_minutes)
    matches = incident_store.unlinked_matches(session, ticket.desk, reason, since)
    if len({t.partner_id for t in matches}) < config.incident_min_tickets:
        return None
    # Timed by the earliest due ticket nobody has answered yet (an opener may have been claimed already).
    unanswered = [t for t in matches if t.first_response_at is None]
    due_at = min(t.due_at for t in unanswered or matches)
    try:
        with session.begin_nested():
            incident = incident_store.create_incident(
                session, ticket.desk, ticket.queue, reason, ticket.queue_channel, now, due_at
            )
    except IntegrityError:  # opened meanwhile after all (the unique key, behind the watch row): join it
        opened = incident_store.open_incident_for(session, ticket.desk, reason, joining=True)
        if opened is None:
            raise
        _join(session, desk, opened, ticket, now)
        return Joined(opened, opened=False)
    assert incident.id is not None
    incident_store.link(session, incident.id, [t.id or 0 for t in matches])
    earlier = [t for t in matches if t.id != ticket.id]
    ping_store.fold_ticket_pings(session, [t.id or 0 for t in earlier], f"folded into {incident.ref}")
    for other in earlier:  # they were filed before anyone knew: told now, in their thread
        ping_store.owe(session, other.id or 0, PingKind.CARD_UPDATE, now)
        ping_store.owe(
            session, other.id or 0, PingKind.NOTICE, now, text=incident_views.known_line(incident.ref)
        )
    ping_store.owe_for_incident(session, incident.id, PingKind.INCIDENT, now, "message")
    ping_store.owe_for_incident(session, incident.id, PingKind.PAGE, now, "page")
    if unanswered:
        earliest = min(unanswered, key=lambda t: t.due_at)
        series = deadlines.remaining_deadline_pings(desk, earliest, now)
        ping_store.plan_incident_deadlines(session, incident.id, series)
    companies = len({t.partner_id for t in matches})
    for linked in matches:
        ticket_store.audit(session, linked.id, "sla-desk", "incident_linked", now, incident=incident.ref)
    ticket_store.audit(
        session, None, "sla-desk", "incident_opened", now, incident=incident.ref, companies=companies
    )
    return Joined(incident, opened=True)


def _join(session: Session, desk: DeskPolicy, incident: Incident, ticket: Ticket, now: datetime) -> None:
    """A later matching ticket: a line of the incident message, no card, no pings of its own."""
    assert incident.id is not None and ticket.id is not None
    incident_store.link(session, incident.id, [ticket.id])
    if incident.claimant_user_id:  # someone is on it already: the partner is told so at once
        ticket_store.claim_ticket(session, ticket.id, incident.claimant_user_id)
        deadlines.record_first_response(session, ticket, incident.claimant_user_id, now, desk)
    ticket_store.audit(session, ticket.id, "sla-desk", "incident_linked", now, incident=incident.ref)
    _refresh_due(session, desk, incident, now)
    ping_store.owe_incident_update(session, incident.id, now)


def _refresh_due(session: Session, desk: DeskPolicy, incident: Incident, now: datetime) -> None:
    """The incident's series is timed by its earliest due open ticket: replanned when that changes."""
    assert incident.id is not None
    earliest = incident_store.earliest_unanswered_ticket(session, incident.id)
    if earliest is None or earliest.due_at == incident.due_at:
        return  # (nobody waiting: the series' pings find the incident answered when they fall due)
    incident_store.set_due(session, incident.id, earliest.due_at)
    if incident.claimant_user_id is None:
        plan = deadlines.remaining_deadline_pings(desk, earliest, now)
        ping_store.plan_incident_deadlines(session, incident.id, plan)


# --- agents at work on an incident ----------------------------------------------------------------------


def claim(
    session: Session, desk: DeskPolicy, incident: Incident, actor: Actor, now: datetime
) -> IncidentResult:
    """The first response for every linked ticket: each claimed by the agent unless someone holds it."""
    assert incident.id is not None
    if not actor.is_agent:
        return IncidentRefused(IncidentRefusal.AGENTS_ONLY, incident)
    if not incident_store.claim_incident(session, incident.id, actor.user_id, now):
        fresh = incident_store.get_incident(session, incident.id) or incident
        if fresh.status == IncidentStatus.RESOLVED:
            return IncidentRefused(IncidentRefusal.RESOLVED, fresh)
        return IncidentRefused(IncidentRefusal.CLAIMED, fresh, holder=fresh.claimant_user_id)
    ping_store.drop_incident_deadlines(session, incident.id)
    # Set-based: a few statements for the whole incident, however many tickets it links, so the
    # write lock is held briefly (a storm links hundreds).
    linked = incident_store.linked_tickets(session, incident.id, open_only=True)
    # What is needed of the tickets, read before they change (a changed row is read again when used).
    ids, refs = [t.id or 0 for t in linked], [t.ref for t in linked]
    unclaimed = [t.id or 0 for t in linked if t.status == TicketStatus.OPEN]
    responses = _first_responses(desk, linked, now)
    ticket_store.claim_tickets(session, unclaimed, actor.user_id)
    answered = _answer_all(session, responses, actor, now)
    notice = incident_views.claimed_notice(actor.user_id, incident.ref)
    _tell_all(session, {i: notice.format(ref=ref) for i, ref in zip(ids, refs, strict=True)}, now)
    ticket_store.audit_many(session, ids, actor.user_id, "claimed", now, incident=incident.ref)
    ping_store.owe_incident_update(session, incident.id, now)
    return _done(session, incident, replace(answered, changed=len(ids)))


def _first_responses(desk: DeskPolicy, linked: list[Ticket], now: datetime) -> list[FirstResponse]:
    return [deadlines.first_response_of(t, now, desk) for t in linked if t.first_response_at is None]


def _answer_all(session: Session, responses: list[FirstResponse], actor: Actor, now: datetime) -> Tally:
    """The first response for every linked ticket nobody had answered, at once."""
    ticket_store.record_first_responses(session, actor.user_id, responses)
    ping_store.drop_deadline_pings_of(session, [r.ticket_id for r in responses])
    met = [r.ticket_id for r in responses if r.met]
    breached = [r.ticket_id for r in responses if not r.met]
    for ids, verdict in ((met, deadlines.Verdict.MET), (breached, deadlines.Verdict.BREACHED)):
        ticket_store.audit_many(session, ids, actor.user_id, "first_response", now, sla=verdict.value)
    return Tally(met=len(met), breached=len(breached))


def _tell_all(session: Session, notices: dict[int, str | None], now: datetime) -> None:
    """Each filer in their thread, and each card that exists re-rendered: a few inserts in all."""
    ping_store.owe_each(session, notices, PingKind.NOTICE, now)
    ping_store.card_updates_owed(session, list(notices), now)


def update(
    session: Session, incident: Incident, actor: Actor, text: str, key: str, now: datetime
) -> IncidentResult:
    """TEXT into every linked partner's thread, once per partner even when the request comes twice
    (`key`: the request's own id)."""
    assert incident.id is not None
    if not actor.is_agent:
        return IncidentRefused(IncidentRefusal.AGENTS_ONLY, incident)
    text = rules.clean(text)[: rules.NOTE_MAX]
    if not text:
        return IncidentRefused(IncidentRefusal.EMPTY, incident)
    if not incident_store.record_update(session, incident.id, text, now):
        return IncidentRefused(IncidentRefusal.RESOLVED, incident)
    notice = incident_views.update_notice(incident.ref, text)
    told = 0
    for ticket in incident_store.linked_tickets(session, incident.id, open_only=True):
        source = f"{incident.ref}:update:{key}:{ticket.ref}"
        if ping_store.owe_once(session, PingKind.NOTICE, source, now, ticket.id, notice) is not None:
            told += 1
    ticket_store.audit(session, None, actor.user_id, "incident_update", now, incident=incident.ref, text=text)
    ping_store.owe_incident_update(session, incident.id, now)
    return _done(session, incident, Tally(changed=told))


def resolve(
    session: Session,
    desk: DeskPolicy,
    incident: Incident,
    actor: Actor,
    note: str | None,
    now: datetime,
) -> IncidentResult:
    """Every linked open ticket resolved with NOTE; each filer told once (one notice, the resolve)."""
    assert incident.id is not None
    if not actor.is_agent:
        return IncidentRefused(IncidentRefusal.AGENTS_ONLY, incident)
    note = rules.clean(note)[: rules.NOTE_MAX] or None
    if not incident_store.resolve_incident(session, incident.id, actor.user_id, note, now):
        return IncidentRefused(IncidentRefusal.RESOLVED, incident)
    ping_store.drop_incident_deadlines(session, incident.id)
    linked = incident_store.linked_tickets(session, incident.id, open_only=True)
    refs = {t.id: t.ref for t in linked}
    filed = {t.id or 0: t.filed_at for t in linked}
    # Resolving is an answer too: a ticket nobody had answered gets its first response now.
    answered = _answer_all(session, _first_responses(desk, linked, now), actor, now)
    resolved = ticket_store.resolve_tickets(session, filed, actor.user_id, note, now)
    ping_store.drop_deadline_pings_of(session, resolved)
    next_response.closed(session, resolved, actor.user_id, now, desk)
    satisfaction.ask_after_resolve(session, desk, resolved, now)
    _tell_all(session, {i: views.resolved_notice(actor.user_id, refs[i], note) for i in resolved}, now)
    ticket_store.audit_many(
        session, resolved, actor.user_id, "resolved", now, incident=incident.ref, note=note
    )
    ping_store.owe_incident_update(session, incident.id, now)
    return _done(session, incident, replace(answered, changed=len(resolved)))


def unlink(
    session: Session,
    desk: DeskPolicy,
    incident: Incident,
    ticket: Ticket,
    actor: Actor,
    now: datetime,
) -> IncidentResult:
    """A ticket that is not part of it: handled on its own again, with its own card and pings."""
    assert incident.id is not None and ticket.id is not None
    if not actor.is_agent:
        return IncidentRefused(IncidentRefusal.AGENTS_ONLY, incident)
    if incident.status == IncidentStatus.RESOLVED:
        return IncidentRefused(IncidentRefusal.RESOLVED, incident)
    if not incident_store.unlink(session, incident.id, ticket.id):
        return IncidentRefused(IncidentRefusal.NOT_LINKED, incident)
    fresh = ticket_store.get_ticket(session, ticket.id) or ticket
    if fresh.status != TicketStatus.RESOLVED:  # a resolved ticket just leaves the list
        if fresh.first_response_at is None:
            plan = deadlines.remaining_deadline_pings(desk, fresh, now)
            ping_store.replan_deadline_pings(session, ticket.id, plan)
        if ping_store.owe(session, ticket.id, PingKind.CARD, now, once=True) is None:
            ping_store.owe(session, ticket.id, PingKind.CARD_UPDATE, now)  # it had a card: it changes
        _tell(session, fresh, now, incident_views.unlinked_notice(ticket.ref, incident.ref))
    ticket_store.audit(session, ticket.id, actor.user_id, "incident_unlinked", now, incident=incident.ref)
    _refresh_due(session, desk, incident, now)
    ping_store.owe_incident_update(session, incident.id, now)
    return _done(session, incident, Tally(changed=1))


def _tell(session: Session, ticket: Ticket, now: datetime, text: str) -> None:
    """The filer in their thread, and the ticket's card, if it has one, re-rendered."""
    ping_store.owe(session, ticket.id or 0, PingKind.NOTICE, now, text=text)
    if ping_store.has_card(session, ticket.id or 0):
        ping_store.owe(session, ticket.id or 0, PingKind.CARD_UPDATE, now)


def _done(session: Session, incident: Incident, tally: Tally) -> IncidentDone:
    fresh = incident_store.get_incident(session, incident.id or 0) or incident
    return IncidentDone(fresh, tally)


def parse_incident_id(text: str | None) -> int | None:
    """'I-3', 'i-3', 'I3' or '3' -> 3; anything else -> None."""
    word = (text or "").strip().lower().removeprefix("i").removeprefix("-")
    return int(word) if word.isdigit() and len(word) <= 9 else None
