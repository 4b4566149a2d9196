"""The one place the bot reads the time, so tests and demos can set it."""

from __future__ import annotations

import threading

import pendulum

from handlers.rules.sla import Clock


def system_clock() -> pendulum.DateTime:
    return pendulum.now("UTC")


class SettableClock:
    """A clock that stands still until told to move: for tests and `frozen_time`."""

    def __init__(self, at: pendulum.DateTime):
        self._at = at.in_timezone("UTC")
        self._lock = threading.Lock()

    def __call__(self) -> pendulum.DateTime:
        with self._lock:
            return self._at

    def set(self, at: pendulum.DateTime) -> None:
        with self._lock:
            self._at = at.in_timezone("UTC")

    def advance(self, **delta: float) -> pendulum.DateTime:
        with self._lock:
            self._at = self._at.add(**delta)  # type: ignore[arg-type]
            return self._at


def clock_from_setting(frozen_time: str | None) -> Clock:
    if not frozen_time:
        return system_clock
    parsed = pendulum.parse(frozen_time)
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError("FROZEN_TIME must be an ISO-8601 date-time")
    return SettableClock(parsed)
