"""Each channel's pace: Slack takes about one message a second per channel, whichever process posts.

The next free moment of a channel is a row; a process takes a turn under that row's lock
(PostgreSQL: `FOR UPDATE`; SQLite: writers are serialised anyway), so all processes sharing the
store keep one pace together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from storage.models import ChannelPace


@dataclass(frozen=True)
class ChannelTurn:
    taken: bool  # the turn is this process's: post after `wait` seconds
    wait: float  # seconds from now until the turn (not taken: until the channel is free again)


def _row(session: Session, channel: str, store_time: datetime) -> ChannelPace:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(ChannelPace).values(channel=channel, next_at=store_time).on_conflict_do_nothing())
    query = select(ChannelPace).where(ChannelPace.channel == channel)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).one()


def take_turn(
    session: Session,
    channel: str,
    store_time: datetime | Callable[[], datetime],
    gap: float,
    longest_wait: float,
) -> ChannelTurn:
    """The channel's next turn, taken when it comes within `longest_wait` seconds; else nothing is
    taken and the caller tries again after `wait`. A callable `store_time` is read once the row is
    locked, so that waiting for the lock does not make the turn late."""

    def read() -> datetime:
        return store_time() if callable(store_time) else store_time

    row = _row(session, channel, read())
    now = read()
    turn = max(now, row.next_at)
    wait = (turn - now).total_seconds()
    if wait > longest_wait:
        return ChannelTurn(False, wait)
    row.next_at = turn + timedelta(seconds=gap)
    session.add(row)
    return ChannelTurn(True, wait)


def hold_off(session: Session, channel: str, store_time: datetime, seconds: float) -> None:
    """Slack said 429: nobody posts to the channel before its Retry-After has passed."""
    row = _row(session, channel, store_time)
    row.next_at = max(row.next_at, store_time + timedelta(seconds=seconds))
    session.add(row)
