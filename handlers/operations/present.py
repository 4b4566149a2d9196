"""From stored tickets to what the builders show."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from handlers.desks import DeskBook
from handlers.ui.incidents import IncidentLine, IncidentView
from handlers.ui.tickets import TicketView
from storage import windows as window_store
from storage.directory import get_partner
from storage.incidents import linked_with_companies
from storage.models import Incident, Ticket
from storage.satisfaction import latest_rating


def _shown_in(desks: DeskBook, desk: str) -> dict[str, str]:
    """A desk's label and time zone, as times are shown to people."""
    calendar = desks.calendars.get(desk)
    return {
        "desk_label": desks.labels.get(desk, desk.upper()),
        "timezone": calendar.timezone if calendar else "UTC",
    }


def view_of(session: Session, ticket: Ticket, desks: DeskBook) -> TicketView:
    partner = get_partner(session, ticket.partner_id)
    return TicketView(
        **_shown_in(desks, ticket.desk),
        ref=ticket.ref,
        queue=ticket.queue,
        klass=ticket.klass,
        topic=ticket.topic,
        subject=ticket.subject,
        description=ticket.description,
        product=ticket.product,
        critical_reason=ticket.critical_reason,
        company=partner.name if partner else "?",
        filer=ticket.filer_user_id,
        status=ticket.status,
        filed_at=ticket.filed_at,
        due_at=ticket.due_at,
        first_response_at=ticket.first_response_at,
        sla_met=ticket.sla_met,
        claimant=ticket.claimant_user_id,
        resolved_at=ticket.resolved_at,
        resolution_note=ticket.resolution_note,
        reopened=ticket.reopened_at is not None,
        desk=ticket.desk,
        turn=ticket.turn,
        card_link=ticket.card_permalink,
        filer_link=ticket.filer_permalink,
        incident=f"I-{ticket.incident_id}" if ticket.incident_id else None,
        next_due_at=_next_due(session, ticket),
        turn_since=ticket.turn_since,
        rating=latest_rating(session, ticket.id or 0) if ticket.resolved_at is not None else None,
    )


def _next_due(session: Session, ticket: Ticket) -> datetime | None:
    """The running next-response window's due time, after the first answer."""
    window = window_store.open_window_of(session, ticket.id or 0) if ticket.first_response_at else None
    return window.due_at if window is not None else None


def incident_view(session: Session, incident: Incident, desks: DeskBook) -> IncidentView:
    lines = tuple(
        IncidentLine(t.ref, company, t.subject, t.filed_at, t.status, t.card_permalink)
        for t, company in linked_with_companies(session, incident.id or 0)
    )
    return IncidentView(
        **_shown_in(desks, incident.desk),
        ref=incident.ref,
        desk=incident.desk,
        reason=incident.reason,
        status=incident.status,
        opened_at=incident.opened_at,
        due_at=incident.due_at,
        claimant=incident.claimant_user_id,
        claimed_at=incident.claimed_at,
        latest_update=incident.latest_update,
        updated_at=incident.updated_at,
        resolved_by=incident.resolved_by,
        resolution_note=incident.resolution_note,
        link=incident.message_permalink,
        tickets=lines,
    )
