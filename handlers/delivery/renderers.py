"""One renderer per kind of ping: what the bot says, where, from the facts the delivery read.

Pure: every fact arrives as an argument (`PingFacts`), so rendering never reads the store; a
renderer answers a `Message` to post, or a `Skip` saying why not now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.config import DeskConfig
from handlers.rules import retry
from handlers.rules.sla import DeskCalendar
from handlers.ui import channels as channel_views
from handlers.ui import deadlines
from handlers.ui import incidents as incident_views
from handlers.ui import satisfaction as satisfaction_views
from handlers.ui import tickets as views
from handlers.ui.incidents import IncidentView
from handlers.ui.tickets import TicketView
from storage.vocabulary import DEADLINE_KINDS, NEXT_KINDS, SUPERSEDED, PingKind, TicketStatus, Turn

# An edit that arrived before its message's copy was recorded waits this long for it.
WAIT_FOR_COPY_SECONDS = 120.0
PARENT_WAIT, IN_TURN = retry.PARENT_WAIT_SECONDS, retry.IN_TURN_SECONDS
# An update whose message an older, not yet rendered update will show as it is then: not needed.
COVERED = "covered by an older update still to go out"


@dataclass
class Message:
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    update_ts: str | None = None  # chat.update of this message instead of a new post
    late: bool = False
    delete_ts: str | None = None  # chat.delete of this message instead
    reaction: str | None = None  # reactions.add of this name to the message at `thread_ts`
    pin_ts: str | None = None  # pins.add of this message instead
    files: list[tuple[str, bytes, str]] = field(default_factory=list)  # (filename, content, title)


@dataclass(frozen=True)
class Skip:
    """Not posted now: dropped for good, or tried again in `retry_in` seconds."""

    reason: str
    retry_in: float | None = None  # None: dropped


@dataclass(frozen=True)
class PingFacts:
    kind: PingKind
    seq: int
    text: str | None
    planned_at: datetime
    ticket: TicketView
    queue_channel: str
    card_ts: str | None
    filer_user_id: str
    filer_channel: str | None
    filer_thread_ts: str | None
    outside_hours: bool
    payload: dict[str, Any] = field(default_factory=dict)  # what the conversation rows carry
    copy_channel: str | None = None  # for an edit or deletion: where its copy went,
    copy_ts: str | None = None  # ... its message,
    copy_unposted: bool = False  # ... and whether it is still to go out
    earlier_copy_unposted: bool = False  # a copy of an earlier message of the same thread waits
    report: tuple[str, list[tuple[str, bytes, str]]] | None = None  # a report's text and files
    answered: bool = False  # a first response, or resolved: deadline pings are moot
    later_due: bool = False  # a later deadline ping of the same plan is due too
    missed: int = 0  # earlier deadline pings of the plan that never went out
    slack_refused: bool = False  # earlier attempts failed at Slack
    card_pending: bool = False  # the card is still owed
    card_update_in_flight: bool = False  # an older update of the card is being posted
    card_update_covered: bool = False  # an older update, not yet rendered, will show the latest state
    confirmation_pending: bool = False
    leads: tuple[str, ...] = field(default_factory=tuple)
    # An incident's own rows: the incident as it is now. For them `card_ts` is the incident message,
    # `card_pending` that message still owed, and `card_update_in_flight` an update of it in flight.
    incident: IncidentView | None = None
    # A linked ticket without a card of its own: its thread copies go to the incident message's thread.
    via_incident: bool = False
    # A partner channel's intro: the company, its desk's calendar and label.
    intro: tuple[str, DeskCalendar, str] | None = None
    # A next-response ping: its window's due time and the partner message that opened it (a link).
    window_due: datetime | None = None
    window_link: str | None = None
    # Waiting on the partner: the resolve for want of an answer is due too (the reminder gives way).
    resolve_due: bool = False


Rendered = Message | Skip


def render(facts: PingFacts, now: datetime, config: DeskConfig) -> Rendered:
    if facts.kind in DEADLINE_KINDS or facts.kind in NEXT_KINDS:
        if facts.answered:
            return Skip("answered before the ping was due")
        if facts.later_due:
            return Skip(SUPERSEDED)
    if facts.incident is not None:
        return INCIDENT_RENDERERS[facts.kind](facts, now, config)
    return RENDERERS[facts.kind](facts, now, config)


def _late(facts: PingFacts, now: datetime, config: DeskConfig) -> str:
    """Deadline pings and pages posted well after their time say so."""
    if facts.kind not in (*DEADLINE_KINDS, *NEXT_KINDS, PingKind.PAGE):
        return ""
    grace = config.worker_interval_seconds * 3 + 60
    if now.timestamp() - facts.planned_at.timestamp() <= grace:
        return ""
    where = facts.incident or facts.ticket
    return views.late_note(
        facts.planned_at, where.timezone, where.desk_label, facts.missed, facts.slack_refused
    )


def _card(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    text, blocks = views.ticket_card(facts.ticket)
    return Message(facts.queue_channel, text, blocks)


def _card_update(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    return _update_in_place(facts, "the card") or Message(
        facts.queue_channel, *views.ticket_card(facts.ticket), update_ts=facts.card_ts
    )


def _update_in_place(facts: PingFacts, what: str) -> Skip | None:
    """Why an update of the card (or the incident message) can't go out now, if it can't."""
    if not facts.card_ts:
        # It may be in flight with what it showed before this change: update it once it is posted.
        if facts.card_pending:
            return Skip(f"waiting for {what}", PARENT_WAIT)
        return Skip(f"{what} could not be posted")
    if facts.card_update_covered:
        return Skip(COVERED)
    if facts.card_update_in_flight:
        # Updates of one message go out oldest first, one at a time: none lands after a later one.
        return Skip(f"waiting for an older update of {what}", IN_TURN)
    return None


def _confirmation(facts: PingFacts, _now: datetime, config: DeskConfig) -> Rendered:
    incident = facts.payload.get("incident")
    text = views.confirmation_text(
        facts.ticket,
        facts.ticket.filed_at,
        facts.outside_hours,
        config.support_phone,
        redirected=facts.text == "redirected" or bool(facts.payload.get("redirected")),
        incident_line=incident_views.known_line(incident) if incident else None,
    )
    # A ticket made from a partner's message: the confirmation is a reply in that message's thread.
    return Message(facts.filer_channel or facts.filer_user_id, text, thread_ts=facts.filer_thread_ts)


def _notice(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    if not facts.filer_thread_ts and facts.confirmation_pending:
        return Skip("waiting for the confirmation", PARENT_WAIT)
    return Message(
        facts.filer_channel or facts.filer_user_id, facts.text or "", thread_ts=facts.filer_thread_ts
    )


# The deadline pings of a ticket and of an incident: one renderer each, worded by `ui/deadlines.py`.


def _warning(facts: PingFacts, now: datetime, config: DeskConfig) -> Rendered:
    if not facts.card_ts and facts.card_pending:
        return Skip("waiting for " + ("the incident message" if facts.incident else "the card"), PARENT_WAIT)
    shares = config.warning_shares
    share = shares[facts.seq] if facts.seq < len(shares) else 0.5
    note = _late(facts, now, config)
    text = deadlines.warning_text(_watched(facts), share, now, note)
    return Message(facts.queue_channel, text, thread_ts=facts.card_ts, late=bool(note))


def _breach(facts: PingFacts, now: datetime, config: DeskConfig) -> Rendered:
    note = _late(facts, now, config)
    text = deadlines.breach_text(_watched(facts), _who(facts, config), note)
    return Message(facts.queue_channel, text, late=bool(note))


def _escalation(facts: PingFacts, now: datetime, config: DeskConfig) -> Rendered:
    note = _late(facts, now, config)
    text = deadlines.escalation_text(_watched(facts), facts.seq, _who(facts, config), now, note)
    return Message(facts.queue_channel, text, late=bool(note))


def _page(facts: PingFacts, now: datetime, config: DeskConfig) -> Rendered:
    note = _late(facts, now, config)
    text = views.page_text(facts.ticket) + note
    return Message(_oncall(facts, config), text, late=bool(note))


def _lead_alert(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    if not facts.leads:
        return Skip("no desk lead to tell")
    return Message(facts.leads[0], facts.text or "")


def _to_card(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    return _in_card_thread(facts, "copy it to", in_order=True)


def _in_card_thread(facts: PingFacts, what: str, in_order: bool) -> Rendered:
    """A copy or a note in the card's thread (a linked ticket's: the incident message's, prefixed)."""
    if not facts.card_ts and facts.card_pending:
        return Skip("waiting for the card", PARENT_WAIT)
    if in_order and facts.earlier_copy_unposted:
        return Skip("waiting for the copy of an earlier message", IN_TURN)
    if not facts.card_ts:
        return Skip(f"no card or incident message to {what}")
    text = facts.payload.get("text", "")
    if facts.via_incident:
        text = f"*{facts.ticket.ref}* · {text}"
    return Message(facts.queue_channel, text, thread_ts=facts.card_ts)


def _to_partner(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    if not facts.filer_thread_ts and facts.confirmation_pending:
        return Skip("waiting for the confirmation", PARENT_WAIT)
    if facts.earlier_copy_unposted:
        return Skip("waiting for the copy of an earlier message", IN_TURN)
    channel = facts.filer_channel or facts.filer_user_id
    return Message(channel, facts.payload.get("text", ""), thread_ts=facts.filer_thread_ts)


def _edit(facts: PingFacts, now: datetime, _config: DeskConfig) -> Rendered:
    if not (facts.copy_channel and facts.copy_ts):
        return _no_copy_yet(facts, now)
    return Message(facts.copy_channel, facts.payload.get("text", ""), update_ts=facts.copy_ts)


def _no_copy_yet(facts: PingFacts, now: datetime) -> Skip:
    """An edit or a deletion whose copy is not out: it waits for it, or there is nothing to change."""
    if facts.copy_unposted:
        return Skip("waiting for the copy", PARENT_WAIT)
    if facts.payload.get("source") and (now - facts.planned_at).total_seconds() < WAIT_FOR_COPY_SECONDS:
        # Another process may still be recording the copy of the message this edits.
        return Skip("waiting for the copy to be recorded", PARENT_WAIT)
    return Skip("the copy was never posted")


def _delete(facts: PingFacts, now: datetime, _config: DeskConfig) -> Rendered:
    if not (facts.copy_channel and facts.copy_ts):
        return _no_copy_yet(facts, now)
    return Message(facts.copy_channel, "", delete_ts=facts.copy_ts)


def _reaction(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    payload = facts.payload
    return Message(payload.get("channel", ""), "", thread_ts=payload.get("ts"), reaction=payload.get("name"))


def _note(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    return _in_card_thread(facts, "add the note to", in_order=False)


def _intro(facts: PingFacts, _now: datetime, config: DeskConfig) -> Rendered:
    if facts.intro is None:
        return Skip("the channel serves no company any more")
    company, calendar, label = facts.intro
    text, blocks = channel_views.intro_message(company, calendar, label, config.support_phone)
    return Message(facts.payload.get("channel", ""), text, blocks)


def _pin(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    return Message(facts.payload.get("channel", ""), "", pin_ts=facts.payload.get("ts"))


def _offer(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    payload = facts.payload
    text, blocks = channel_views.offer_message(str(payload.get("message") or ""))
    return Message(str(payload.get("channel") or ""), text, blocks, thread_ts=payload.get("thread"))


def _waiting_still(facts: PingFacts) -> Skip | None:
    if facts.ticket.status == TicketStatus.RESOLVED or facts.ticket.turn != Turn.PARTNER:
        return Skip("the partner wrote, or the ticket is resolved")
    return None


def _in_partner_thread(facts: PingFacts, text: str, blocks: list[Any] | None = None) -> Rendered:
    if not facts.filer_thread_ts and facts.confirmation_pending:
        return Skip("waiting for the confirmation", PARENT_WAIT)
    channel = facts.filer_channel or facts.filer_user_id
    return Message(channel, text, blocks, thread_ts=facts.filer_thread_ts)


def _reminder(facts: PingFacts, _now: datetime, config: DeskConfig) -> Rendered:
    if (skip := _waiting_still(facts)) is not None:
        return skip
    if facts.resolve_due:
        return Skip(SUPERSEDED)
    return _in_partner_thread(facts, views.reminder_text(facts.ticket, config.partner_auto_resolve_days))


def _auto_resolve(facts: PingFacts, _now: datetime, config: DeskConfig) -> Rendered:
    """The notice; the ticket is resolved once it is posted (`delivery/record.py`)."""
    if (skip := _waiting_still(facts)) is not None:
        return skip
    return _in_partner_thread(facts, views.auto_resolved_text(facts.ticket, config.reopen_days))


def _csat(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    if facts.ticket.status != TicketStatus.RESOLVED:
        return Skip("reopened before the question went out")
    text, blocks = satisfaction_views.question(facts.ticket.ref, int(facts.payload.get("answer") or 0))
    return _in_partner_thread(facts, text, blocks)


def _csat_alert(facts: PingFacts, _now: datetime, config: DeskConfig) -> Rendered:
    contacts = config.contacts.get(facts.ticket.desk)
    channel = (contacts.report_channel if contacts else None) or (facts.leads[0] if facts.leads else None)
    if not channel:
        return Skip("no lead channel to tell")
    return Message(channel, str(facts.payload.get("text") or ""))


def _direct(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    text = facts.payload.get("text", "")
    if facts.payload.get("card_link") and facts.ticket.card_link:
        text += f" <{facts.ticket.card_link}|Open the card of {facts.ticket.ref}>"
    return Message(facts.payload.get("to", ""), text)


def _report(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    if facts.report is None:
        return Skip("nothing to report")
    text, files = facts.report
    heading = "Weekly SLA digest" if facts.kind is PingKind.DIGEST else "Your SLA report"
    return Message(facts.payload.get("to", ""), f"*{heading}*\n```{text[:3500]}```", files=files)


def _watched(facts: PingFacts) -> deadlines.Watched:
    """What a deadline ping is about: the incident, for an incident's row, else the ticket (its next
    response, for a next-response ping)."""
    if facts.kind in NEXT_KINDS and facts.window_due is not None:
        ticket, words = facts.ticket, views.next_response_deadline_words(facts.ticket, facts.window_link)
        return deadlines.Watched(ticket.ref, facts.window_due, ticket.timezone, ticket.desk_label, **words)
    if facts.incident is not None:
        view, words = facts.incident, incident_views.incident_deadline_words(facts.incident)
        return deadlines.Watched(view.ref, view.due_at, view.timezone, view.desk_label, **words)
    ticket, words = facts.ticket, views.ticket_deadline_words(facts.ticket)
    return deadlines.Watched(ticket.ref, ticket.due_at, ticket.timezone, ticket.desk_label, **words)


def _who(facts: PingFacts, config: DeskConfig) -> str:
    """The desk's leads, to mention on a breach or an escalation (a ticket's or an incident's)."""
    contacts = config.contacts.get((facts.incident or facts.ticket).desk)
    return views.mentions(facts.leads, contacts.lead_group if contacts else None)


def _oncall(facts: PingFacts, config: DeskConfig) -> str:
    """Where a page goes: the desk's on-call, else its first lead, else the queue channel."""
    contacts = config.contacts.get((facts.incident or facts.ticket).desk)
    oncall = contacts.oncall if contacts else None
    return oncall or (facts.leads[0] if facts.leads else facts.queue_channel)


RENDERERS: dict[PingKind, Callable[[PingFacts, datetime, DeskConfig], Rendered]] = {
    PingKind.CARD: _card,
    PingKind.CARD_UPDATE: _card_update,
    PingKind.CONFIRMATION: _confirmation,
    PingKind.NOTICE: _notice,
    PingKind.WARNING: _warning,
    PingKind.BREACH: _breach,
    PingKind.ESCALATION: _escalation,
    PingKind.PAGE: _page,
    PingKind.LEAD_ALERT: _lead_alert,
    PingKind.TO_CARD: _to_card,
    PingKind.TO_PARTNER: _to_partner,
    PingKind.EDIT: _edit,
    PingKind.DELETE: _delete,
    PingKind.REACTION: _reaction,
    PingKind.NOTE: _note,
    PingKind.DIRECT: _direct,
    PingKind.REPORT: _report,
    PingKind.DIGEST: _report,
    PingKind.INTRO: _intro,
    PingKind.PIN: _pin,
    PingKind.OFFER: _offer,
    PingKind.NEXT_WARNING: _warning,
    PingKind.NEXT_BREACH: _breach,
    PingKind.NEXT_ESCALATION: _escalation,
    PingKind.REMINDER: _reminder,
    PingKind.AUTO_RESOLVE: _auto_resolve,
    PingKind.CSAT: _csat,
    PingKind.CSAT_ALERT: _csat_alert,
}


# --- a mass incident's rows ---------------------------------------------------------------------------------


def _incident_of(facts: PingFacts) -> IncidentView:
    assert facts.incident is not None
    return facts.incident


def _incident_message(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    text, blocks = incident_views.incident_message(_incident_of(facts))
    return Message(facts.queue_channel, text, blocks)


def _incident_update(facts: PingFacts, _now: datetime, _config: DeskConfig) -> Rendered:
    return _update_in_place(facts, "the incident message") or Message(
        facts.queue_channel, *incident_views.incident_message(_incident_of(facts)), update_ts=facts.card_ts
    )


def _incident_page(facts: PingFacts, now: datetime, config: DeskConfig) -> Rendered:
    note = _late(facts, now, config)
    paged = facts.payload.get("paged") or []
    text = incident_views.page_text(_incident_of(facts), config.support_phone, paged) + note
    return Message(_oncall(facts, config), text, late=bool(note))


INCIDENT_RENDERERS: dict[PingKind, Callable[[PingFacts, datetime, DeskConfig], Rendered]] = {
    PingKind.INCIDENT: _incident_message,
    PingKind.INCIDENT_UPDATE: _incident_update,
    PingKind.PAGE: _incident_page,
    PingKind.WARNING: _warning,
    PingKind.BREACH: _breach,
    PingKind.ESCALATION: _escalation,
}
