"""Next-response windows: opened by a partner's message, closed by support's answer (one open at a
time per ticket), and the queries the views and reports read them by."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from storage.models import ResponseWindow


def open_window(session: Session, window: ResponseWindow) -> ResponseWindow | None:
    """Open it unless one is open already (several partner messages in a row: the oldest counts)."""
    if open_window_of(session, window.ticket_id) is not None:
        return None
    try:
        with session.begin_nested():
            session.add(window)
    except IntegrityError:  # another process opened one for the same ticket first
        return None
    return window


def open_window_of(session: Session, ticket_id: int) -> ResponseWindow | None:
    query = select(ResponseWindow).where(
        ResponseWindow.ticket_id == ticket_id, col(ResponseWindow.closed_at).is_(None)
    )
    return session.exec(query).first()


def close_window(
    session: Session, window: ResponseWindow, by: str, at: datetime, elapsed_seconds: float
) -> bool:
    """Closed once: True when this call closed it."""
    result = session.execute(
        update(ResponseWindow)
        .execution_options(synchronize_session=False)
        .where(col(ResponseWindow.id) == window.id, col(ResponseWindow.closed_at).is_(None))
        .values(closed_at=at, closed_by=by, met=at <= window.due_at, elapsed_seconds=elapsed_seconds)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_due(session: Session, window: ResponseWindow, due_at: datetime, business_time: bool) -> None:
    window.due_at, window.business_time = due_at, business_time
    session.add(window)
    session.flush()


def get_window(session: Session, window_id: int) -> ResponseWindow | None:
    return session.get(ResponseWindow, window_id)


def open_windows_of(session: Session, ticket_ids: Sequence[int]) -> dict[int, ResponseWindow]:
    """The open window of each of these tickets (for lists and the queue's order)."""
    if not ticket_ids:
        return {}
    query = select(ResponseWindow).where(
        col(ResponseWindow.ticket_id).in_(ticket_ids), col(ResponseWindow.closed_at).is_(None)
    )
    return {w.ticket_id: w for w in session.exec(query)}


def windows_opened_between(session: Session, first: datetime, last: datetime) -> list[ResponseWindow]:
    query = select(ResponseWindow).where(
        col(ResponseWindow.opened_at) >= first, col(ResponseWindow.opened_at) < last
    )
    return list(session.exec(query))
