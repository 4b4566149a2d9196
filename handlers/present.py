"""From stored tickets to what the builders show."""

from __future__ import annotations

from sqlmodel import Session

from handlers.desks import DeskBook
from handlers.views import TicketView
from storage.directory import get_partner
from storage.models import Ticket


def view_of(session: Session, ticket: Ticket, desks: DeskBook) -> TicketView:
    partner = get_partner(session, ticket.partner_id)
    calendar = desks.calendars.get(ticket.desk)
    return TicketView(
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
        desk_label=desks.labels.get(ticket.desk, ticket.desk.upper()),
        timezone=calendar.timezone if calendar else "UTC",
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
    )
