"""Satisfaction answers: the question asked at a resolve, and the partner's last answer to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import SatisfactionAnswer


def ask(session: Session, ticket_id: int, at: datetime) -> SatisfactionAnswer | None:
    """The question of this resolve, once (None: asked already for it)."""
    row = SatisfactionAnswer(ticket_id=ticket_id, asked_at=at)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def ask_many(session: Session, ticket_ids: Sequence[int], at: datetime) -> list[tuple[int, int]]:
    """The questions of one resolve of many tickets (an incident's): (ticket id, answer id) each, in
    one multi-row insert when none was asked already; one at a time otherwise."""
    rows = [{"ticket_id": ticket_id, "asked_at": at, "alerted": False} for ticket_id in ticket_ids]
    statement = insert(SatisfactionAnswer).returning(
        col(SatisfactionAnswer.ticket_id), col(SatisfactionAnswer.id), sort_by_parameter_order=True
    )
    try:
        with session.begin_nested():
            return [(int(t), int(i)) for t, i in session.execute(statement, rows).all()]
    except IntegrityError:
        asked = [ask(session, ticket_id, at) for ticket_id in ticket_ids]
        return [(row.ticket_id, row.id or 0) for row in asked if row is not None]


def get_answer(session: Session, answer_id: int) -> SatisfactionAnswer | None:
    return session.get(SatisfactionAnswer, answer_id, with_for_update=True)


def latest_rating(session: Session, ticket_id: int) -> int | None:
    query = (
        select(SatisfactionAnswer.rating)
        .where(SatisfactionAnswer.ticket_id == ticket_id, col(SatisfactionAnswer.rating).is_not(None))
        .order_by(col(SatisfactionAnswer.answered_at).desc())
        .limit(1)
    )
    return session.exec(query).first()


def answers_for(session: Session, ticket_ids: Sequence[int]) -> list[SatisfactionAnswer]:
    """The answered questions of these tickets (reports)."""
    if not ticket_ids:
        return []
    query = select(SatisfactionAnswer).where(
        col(SatisfactionAnswer.ticket_id).in_(ticket_ids), col(SatisfactionAnswer.rating).is_not(None)
    )
    return list(session.exec(query))
