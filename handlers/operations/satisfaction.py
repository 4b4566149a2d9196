"""Satisfaction (SPEC "Satisfaction (CSAT)"): one question in the partner's thread per resolve, the
answer of a person of the ticket's company (the last within the answer window counts), the rating on
the card, and a low one told to the desk's lead channel once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session

from handlers.operations.context import DeskPolicy
from handlers.rules.eligibility import NOTE_MAX, clean, escape
from storage import pings as ping_store
from storage import satisfaction as csat_store
from storage import tickets as ticket_store
from storage.vocabulary import PingKind

LOW_RATING = 2  # this or less reaches the lead channel


def ask_after_resolve(
    session: Session, desk: DeskPolicy | None, ticket_ids: Sequence[int], now: datetime
) -> int:
    """The question, owed once per resolve of each ticket (one resolved by an incident or for want of
    an answer alike), in one insert for many; how many were asked."""
    if (desk is not None and not desk.config.csat_enabled) or not ticket_ids:
        return 0
    asked = csat_store.ask_many(session, ticket_ids, now)
    payloads = {ticket_id: {"answer": answer_id} for ticket_id, answer_id in asked}
    ping_store.owe_each(session, dict.fromkeys(payloads), PingKind.CSAT, now, payloads=payloads)
    return len(asked)


@dataclass(frozen=True)
class Answered:
    rating: int
    ticket_ref: str


class AnswerRefusal(StrEnum):
    NOT_THEIR_COMPANY = "not_their_company"
    TOO_LATE = "too_late"
    NO_QUESTION = "no_question"
    BAD_RATING = "bad_rating"


def answer(
    session: Session,
    desk: DeskPolicy,
    answer_id: int,
    partner_id: int | None,
    user_id: str,
    rating: int | None,
    comment: str | None,
    now: datetime,
) -> Answered | AnswerRefusal:
    """A rating (and perhaps a comment) from a person of `partner_id`; the last answer counts."""
    row = csat_store.get_answer(session, answer_id)
    ticket = ticket_store.get_ticket(session, row.ticket_id) if row is not None else None
    if row is None or ticket is None:
        return AnswerRefusal.NO_QUESTION
    if partner_id is None or partner_id != ticket.partner_id:
        return AnswerRefusal.NOT_THEIR_COMPANY
    if now - row.asked_at > timedelta(days=desk.config.csat_answer_days):
        return AnswerRefusal.TOO_LATE
    rating = rating if rating is not None else row.rating
    if rating is None or not 1 <= rating <= 5:
        return AnswerRefusal.BAD_RATING
    row.rating, row.answered_by, row.answered_at = rating, user_id, now
    if comment is not None:
        row.comment = clean(comment)[:NOTE_MAX] or None
    session.add(row)
    ping_store.owe(session, ticket.id or 0, PingKind.CARD_UPDATE, now)
    if rating <= LOW_RATING and not row.alerted:
        row.alerted = True
        text = low_rating_text(ticket.ref, rating, row.comment, user_id, ticket.card_permalink)
        payload = {"desk": ticket.desk, "text": text}
        ping_store.owe_once(
            session, PingKind.CSAT_ALERT, f"csat-low:{row.id}", now, ticket.id, payload=payload
        )
    ticket_store.audit(session, ticket.id, user_id, "csat", now, rating=rating)
    return Answered(rating, ticket.ref)


def low_rating_text(ref: str, rating: int, comment: str | None, by: str, card_link: str | None) -> str:
    said = f' "{escape(comment)}"' if comment else " (no comment)"
    link = f" <{card_link}|Open the card>" if card_link else ""
    return f":thumbsdown: *{ref}* was rated {rating}/5 by <@{by}>:{said}.{link}"
