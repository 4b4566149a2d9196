"""From stored tickets to what the builders show."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers.desks import DeskBook
from handlers.ui.incidents import IncidentLine, IncidentView
from handlers.ui.tickets import TicketView
from storage import windows as window_store
from storage.directory import get_partner
from storage.incidents import linked_with_companies
from storage.models import Incident, Ticket
from storage.satisfaction import latest_rating


def _shown_in(desks: DeskBook, desk: str) -> dict[str, Any]:
    """A desk's label and time zone, as times are shown to people."""
    calendar = desks.calendars.get(desk)
    return {
        "desk_label": desks.labels.get(desk, desk.upper()),
        "timezone": calendar.timezone if calendar else "UTC",
    }


def _same_named(row: Ticket | Incident, view: type[TicketView] | type[IncidentView]) -> dict[str, Any]:
    """The view's fields that the stored row keeps under the same name, as stored: a field added to
    both flows through, and only what a view words or derives differently is said below."""
    return {shown.name: getattr(row, shown.name) for shown in fields(view) if hasattr(row, shown.name)}


def view_of(session: Session, ticket: Ticket, desks: DeskBook) -> TicketView:
    partner = get_partner(session, ticket.partner_id)
    return TicketView(
        **_same_named(ticket, TicketView),
        **_shown_in(desks, ticket.desk),
        company=partner.name if partner else "?",
        filer=ticket.filer_user_id,
        next_due_at=_next_due(session, ticket),
        claimant=ticket.claimant_user_id,
        incident=f"I-{ticket.incident_id}" if ticket.incident_id else None,
        reopened=ticket.reopened_at is not None,
        rating=latest_rating(session, ticket.id or 0) if ticket.resolved_at is not None else None,
        card_link=ticket.card_permalink,
        filer_link=ticket.filer_permalink,
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
        **_same_named(incident, IncidentView),
        **_shown_in(desks, incident.desk),
        link=incident.message_permalink,
        tickets=lines,
        claimant=incident.claimant_user_id,
    )
