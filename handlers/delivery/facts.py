"""Reading the facts a delivery row is rendered from, in one go (rendering itself reads nothing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from handlers.delivery.renderers import PingFacts
from handlers.desks import DeskBook
from handlers.operations.present import incident_view, view_of
from handlers.operations.reports import report_files
from handlers.ui.tickets import TicketView
from storage import channels as channel_store
from storage import incidents as incident_store
from storage import pings as ping_store
from storage import windows as window_store
from storage.directory import desk_leads, get_partner
from storage.models import DEADLINE_KINDS, IncidentStatus, Ping, PingKind, PingState, Ticket, TicketStatus
from storage.vocabulary import COPY_KINDS, NEXT_KINDS, ChannelStatus

UNPOSTED = (PingState.PLANNED, PingState.SENDING)
# What a direct message that belongs to no ticket renders against.
NO_TICKET = TicketView(
    ref="", queue="", klass=None, topic=None, subject="", description="", product=None,
    critical_reason=None, company="", filer="", status="", desk_label="", timezone="UTC",
    filed_at=datetime.fromtimestamp(0, UTC), due_at=datetime.fromtimestamp(0, UTC),
)  # fmt: skip


def _slack_refused(ping: Ping) -> bool:
    """Earlier attempts failed at Slack (not merely waited for their turn or their parent)."""
    return ping.attempts > 1 and bool(ping.last_error) and "waiting" not in (ping.last_error or "")


def _incident_answered(session: Any, incident: Any) -> bool:
    """Nobody is waiting: the incident is claimed or resolved, or each of its tickets is answered."""
    if incident.claimant_user_id is not None or incident.status == IncidentStatus.RESOLVED:
        return True
    return incident_store.earliest_unanswered_ticket(session, incident.id or 0) is None


def _older_update(ping: Ping, others: list[Ping], kind: PingKind, state: PingState) -> bool:
    """An older update of the same message in `state`. Updates go out oldest first: one rendered
    earlier never lands after a later one, and two processes never wait for each other."""
    return any(p.kind == kind and p.state == state and (p.id or 0) < (ping.id or 0) for p in others)


def ticketless_facts(
    desks: DeskBook, session: Any, ping: Ping, payload: dict[str, Any], now: datetime
) -> PingFacts:
    """A direct message, a report or a digest: no ticket's (a report's files are made here)."""
    kind = PingKind(ping.kind)
    facts = PingFacts(kind, ping.seq, ping.text, ping.planned_at, NO_TICKET, "", None, "", None, None, False)
    facts = replace(facts, payload=payload)
    if kind in (PingKind.REPORT, PingKind.DIGEST):
        first, last = date.fromisoformat(payload["first"]), date.fromisoformat(payload["last"])
        desk, queue = payload.get("desk"), payload.get("queue")
        facts = replace(facts, report=report_files(session, desks, first, last, desk, queue, now))
    if kind is PingKind.INTRO:
        facts = replace(facts, intro=_intro_facts(desks, session, str(payload.get("channel") or "")))
    if kind is PingKind.LEAD_ALERT and payload.get("desk"):
        facts = replace(facts, leads=tuple(desk_leads(session, str(payload["desk"]))))
    return facts


def _after_first_answer(
    session: Any, ping: Ping, ticket: Ticket, others: list[Ping], now: datetime
) -> dict[str, Any]:
    """Whether a deadline ping is moot, and what a next-response ping and a reminder need to know."""
    kind = PingKind(ping.kind)
    resolved = ticket.status == TicketStatus.RESOLVED
    if kind not in NEXT_KINDS:
        resolve_due = kind is PingKind.REMINDER and any(
            p.kind == PingKind.AUTO_RESOLVE and p.state in UNPOSTED and p.planned_at <= now for p in others
        )
        return {"answered": ticket.first_response_at is not None or resolved, "resolve_due": resolve_due}
    window = window_store.get_window(session, ping_store.window_of_plan(ping.plan))
    if window is None:
        return {"answered": True}
    return {
        "answered": window.closed_at is not None or resolved,
        "window_due": window.due_at,
        "window_link": _message_link(ticket, window.opened_channel, window.opened_ts),
    }


def _message_link(ticket: Ticket, channel: str, ts: str) -> str | None:
    """A partner's message in their thread, linked from the permalink Slack gave for that thread."""
    base = ticket.filer_permalink or ""
    if "/archives/" not in base or not ticket.filer_thread_ts:
        return None
    root = base.split("/archives/")[0]
    thread = ticket.filer_thread_ts
    return f"{root}/archives/{channel}/p{ts.replace('.', '')}?thread_ts={thread}&cid={channel}"


def _channel_lost(session: Any, channel_id: str | None) -> bool:
    channel = channel_store.get_channel(session, channel_id) if channel_id else None
    return channel is not None and channel.status in (ChannelStatus.UNSHARED, ChannelStatus.LEFT)


def _intro_facts(desks: DeskBook, session: Any, channel_id: str) -> tuple[str, Any, str] | None:
    """The company a partner channel serves, and its desk's calendar and label (None: it serves none)."""
    channel = channel_store.get_channel(session, channel_id)
    partner = get_partner(session, channel.partner_id) if channel else None
    if channel is None or partner is None or channel.status != ChannelStatus.CONNECTED:
        return None
    desk = partner.desk if partner.desk in desks.calendars else next(iter(sorted(desks.calendars)))
    return partner.name, desks.calendar(desk), desks.labels.get(desk, desk.upper())


def ticket_facts(
    desks: DeskBook, session: Any, ping: Ping, ticket: Ticket | None, now: datetime
) -> PingFacts:
    """Everything the renderer needs, read in one go (rendering itself reads nothing)."""
    kind = PingKind(ping.kind)
    payload = ping_store.payload_of(ping)
    if ticket is None:  # a direct message, a report, a digest: no ticket's
        return ticketless_facts(desks, session, ping, payload, now)
    later_due, missed = False, 0
    if kind in DEADLINE_KINDS or kind in NEXT_KINDS:
        later_due, missed = ping_store.earlier_due_deadline_pings(session, ping, now)
    others = [p for p in ping_store.pings_for(session, ticket.id or 0) if p.id != ping.id]
    lost = _channel_lost(session, ticket.filer_channel)
    # Read again after its pings: a card recorded as posted has its ts on the ticket by now (both are
    # written in one transaction), so "posted, but no ts" is never seen half-way.
    session.refresh(ticket)
    pending = {p.kind for p in others if p.state in UNPOSTED}
    copy = next((p for p in others if p.id == payload.get("copy")), None)
    if copy is None and payload.get("source"):  # an edit that came before its copy was recorded
        copy = ping_store.by_source(session, COPY_KINDS, str(payload["source"]))
    card_ts, card_pending, via_incident = ticket.card_ts, PingKind.CARD in pending, False
    if ticket.incident_id and not card_ts and not ping_store.has_card(session, ticket.id or 0):
        # A linked ticket has no card of its own: the incident message's thread stands in for it.
        incident = incident_store.get_incident(session, ticket.incident_id)
        card_ts, via_incident = (incident.message_ts if incident else None), True
        card_pending = incident is not None and incident.message_ts is None
    return PingFacts(
        kind=kind,
        seq=ping.seq,
        text=ping.text,
        planned_at=ping.planned_at,
        ticket=view_of(session, ticket, desks),
        queue_channel=ticket.queue_channel,
        card_ts=card_ts,
        filer_user_id=ticket.filer_user_id,
        # A partner channel unshared, archived or left: the filer is answered in their DM from then on.
        filer_channel=None if lost else ticket.filer_channel,
        filer_thread_ts=None if lost else ticket.filer_thread_ts,
        outside_hours=ticket.outside_hours,
        payload=payload,
        copy_channel=copy.channel if copy and copy.state == PingState.SENT else None,
        copy_ts=copy.message_ts if copy and copy.state == PingState.SENT else None,
        copy_unposted=bool(copy and copy.state in UNPOSTED),
        earlier_copy_unposted=kind in COPY_KINDS and ping_store.earlier_copy_unposted(session, ping),
        **_after_first_answer(session, ping, ticket, others, now),
        later_due=later_due,
        missed=missed,
        slack_refused=_slack_refused(ping),
        card_pending=card_pending,
        card_update_in_flight=_older_update(ping, others, PingKind.CARD_UPDATE, PingState.SENDING),
        card_update_covered=_older_update(ping, others, PingKind.CARD_UPDATE, PingState.PLANNED),
        confirmation_pending=PingKind.CONFIRMATION in pending,
        leads=tuple(desk_leads(session, ticket.desk)),
        via_incident=via_incident,
    )


def incident_facts(desks: DeskBook, session: Any, ping: Ping, now: datetime) -> PingFacts:
    """An incident's own row: the incident as it is now, its message, and its other rows."""
    incident = incident_store.get_incident(session, ping.incident_id or 0)
    assert incident is not None
    kind = PingKind(ping.kind)
    later_due, missed = False, 0
    if kind in DEADLINE_KINDS:
        later_due, missed = ping_store.earlier_due_deadline_pings(session, ping, now)
    others = [p for p in ping_store.incident_pings(session, incident.id or 0) if p.id != ping.id]
    session.refresh(incident)  # after its pings, as with a ticket's card (see `_facts`)
    payload = {}
    if kind is PingKind.PAGE:  # the on-call may have been paged for some of its tickets already
        payload["paged"] = [f"T-{n}" for n in incident_store.paged_already(session, incident.id or 0)]
    return PingFacts(
        kind=kind,
        seq=ping.seq,
        text=ping.text,
        planned_at=ping.planned_at,
        ticket=NO_TICKET,
        queue_channel=incident.queue_channel,
        card_ts=incident.message_ts,
        filer_user_id="",
        filer_channel=None,
        filer_thread_ts=None,
        outside_hours=False,
        payload=payload,
        answered=kind in DEADLINE_KINDS and _incident_answered(session, incident),
        later_due=later_due,
        missed=missed,
        slack_refused=_slack_refused(ping),
        card_pending=any(p.kind == PingKind.INCIDENT and p.state in UNPOSTED for p in others),
        card_update_in_flight=_older_update(ping, others, PingKind.INCIDENT_UPDATE, PingState.SENDING),
        card_update_covered=_older_update(ping, others, PingKind.INCIDENT_UPDATE, PingState.PLANNED),
        leads=tuple(desk_leads(session, incident.desk)),
        incident=incident_view(session, incident, desks),
    )
