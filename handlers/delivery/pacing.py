"""Slack's pace: one message a second per channel, kept by every process together through the
store's `channelpace` rows (`storage/pace.py`)."""

from __future__ import annotations

import logging
import time

from sqlalchemy.engine import Engine

from handlers.delivery.renderers import Message
from storage import pace
from storage import pings as ping_store
from storage.db import session_scope

log = logging.getLogger(__name__)
# A turn of a channel's pace within this many seconds is waited for; a later one is tried again then.
LONGEST_PACE_WAIT_SECONDS = 1.5


def wait_for_turn(engine: Engine, gap: float, message: Message) -> float | None:
    """Keep the channel's pace: None once this process's turn has come (waiting for it when it is
    near), or how long until the channel is free when it is not near."""
    if (
        gap <= 0
        or message.reaction
        or message.delete_ts
        or message.files
        or message.pin_ts
        or not message.channel
    ):
        return None
    with session_scope(engine) as session:
        now = lambda: ping_store.store_now(session)  # noqa: E731
        turn = pace.take_turn(session, message.channel, now, gap, LONGEST_PACE_WAIT_SECONDS)
    if not turn.taken:
        return turn.wait
    if turn.wait > 0:
        time.sleep(turn.wait)
    return None


def hold_off(engine: Engine, channel: str, seconds: float) -> None:
    try:
        with session_scope(engine) as session:
            pace.hold_off(session, channel, ping_store.store_now(session), seconds)
    except Exception as error:  # the row's own retry still waits: the pace is a courtesy to others
        log.warning("could not hold off %s after a 429: %r", channel, error)
