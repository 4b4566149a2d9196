"""The SLA clock as it was before its precomputed timeline (issue 17): the walk over each day's
intervals, kept as the oracle the fast clock must agree with to the microsecond.

The SLA clock: business calendars and first-response due times.

Pure: plain values in, pendulum date-times out. Everything is computed on UTC
instants; the desk's zone is used only to find day boundaries, so daylight-saving
switches are the time library's business, never a hand-written offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pendulum

from handlers.rules.sla import (  # noqa: F401 (the calendar's data is shared; the walk is the oracle)
    DeskCalendar,
    SlaPolicy,
    SlaWindow,
    build_calendar,
    local_date,
    support_intervals,
)
from storage.vocabulary import Queue, TicketClass

# A calendar with no working day in this many days has no working days at all.
MAX_SEARCH_DAYS = 3 * 366


# --- intervals -------------------------------------------------------------------------------------------

Interval = tuple[datetime, datetime]  # UTC instants, opening included, closing excluded


def _intervals_from(calendar: DeskCalendar, at: datetime) -> Iterator[Interval]:
    """Support intervals that end after `at`, in order (starting on at's local day)."""
    day = local_date(calendar, at) - timedelta(days=1)  # a shifted DST day may start "yesterday"
    for _ in range(MAX_SEARCH_DAYS):
        for start, end in support_intervals(calendar, day):
            if end > at:
                yield start, end
        day += timedelta(days=1)
    raise ValueError(f"desk {calendar.name!r} has no working day within {MAX_SEARCH_DAYS} days")


def is_open(calendar: DeskCalendar, at: datetime) -> bool:
    at = _utc(at)
    return any(start <= at < end for start, end in support_intervals(calendar, local_date(calendar, at)))


def next_opening(calendar: DeskCalendar, at: datetime) -> pendulum.DateTime:
    """`at` itself when within support hours, else the start of the next support interval."""
    at = _utc(at)
    start, _ = next(_intervals_from(calendar, at))
    return _local(calendar, max(start, at))


def close_of_day(calendar: DeskCalendar, day: date) -> pendulum.DateTime:
    intervals = support_intervals(calendar, day)
    if not intervals:
        raise ValueError(f"{day} is not a working day of desk {calendar.name!r}")
    return _local(calendar, intervals[-1][1])


def business_seconds_between(calendar: DeskCalendar, start: datetime, end: datetime) -> float:
    """Support time between two instants (0 when end is not after start)."""
    start, end = _utc(start), _utc(end)
    total = 0.0
    if end <= start:
        return total
    for opening, closing in _intervals_from(calendar, start):
        if opening >= end:
            break
        total += (min(closing, end) - max(opening, start)).total_seconds()
    return total


def add_business_seconds(calendar: DeskCalendar, start: datetime, seconds: float) -> pendulum.DateTime:
    """The instant when `seconds` of support time have passed after `start`.

    A sum that ends exactly at a close returns that close, not the next opening.
    """
    at = _utc(start)
    remaining = timedelta(seconds=seconds)
    for opening, closing in _intervals_from(calendar, at):
        begin = max(opening, at)
        available = closing - begin
        if remaining <= available:
            return _local(calendar, begin + remaining)
        remaining -= available
    raise AssertionError("unreachable: _intervals_from raises before running out")


# --- the SLA table ---------------------------------------------------------------------------------------


def first_response_window(
    calendar: DeskCalendar,
    queue: Queue | str,
    klass: TicketClass | str | None,
    filed_at: datetime,
    policy: SlaPolicy = SlaPolicy(),
) -> SlaWindow:
    """The first-response window of SPEC's SLA table for a ticket filed at `filed_at`."""
    filed = _local(calendar, _utc(filed_at))
    outside = not is_open(calendar, filed)
    queue = Queue(queue)
    if queue is Queue.TECH and TicketClass(klass or TicketClass.STANDARD) is TicketClass.CRITICAL:
        # Critical issues have a 24/7 on-call: 30 minutes of calendar time, in or out of hours.
        due = filed.add(seconds=int(policy.critical_seconds))
        return SlaWindow(filed, _local(calendar, _utc(due)), business_time=False, outside_hours=outside)
    start = next_opening(calendar, filed)
    if queue is Queue.TECH:
        # Close of the working day on which support is next open: the same day when filed in hours
        # (or before opening), the next working day when filed after the close.
        due = close_of_day(calendar, local_date(calendar, start))
    else:
        due = add_business_seconds(calendar, start, policy.care_business_seconds)
    return SlaWindow(filed, due, business_time=True, outside_hours=outside)


def first_response_due(*window: Any, **named: Any) -> pendulum.DateTime:
    """The due time alone; takes what `first_response_window` takes."""
    return first_response_window(*window, **named).due_at


def elapsed_share(calendar: DeskCalendar, window: SlaWindow, at: datetime) -> float:
    """How much of the window has passed at `at` (0.0 at filing, 1.0 at due, more after)."""
    if window.business_time:
        total = business_seconds_between(calendar, window.filed_at, window.due_at)
        passed = business_seconds_between(calendar, window.filed_at, at)
        if _utc(at) > _utc(window.due_at):
            passed = total + business_seconds_between(calendar, window.due_at, at)
    else:
        total = (window.due_at - window.filed_at).total_seconds()
        passed = (_utc(at) - _utc(window.filed_at)).total_seconds()
    if total <= 0:
        return 1.0
    return max(passed, 0.0) / total


def instant_at_share(calendar: DeskCalendar, window: SlaWindow, share: float) -> pendulum.DateTime:
    """The inverse of elapsed_share: when `share` of the window will have passed."""
    if window.business_time:
        total = business_seconds_between(calendar, window.filed_at, window.due_at)
        return add_business_seconds(calendar, window.filed_at, total * share)
    total = (window.due_at - window.filed_at).total_seconds()
    return _local(calendar, _utc(window.filed_at) + timedelta(seconds=total * share))


def escalation_times(
    calendar: DeskCalendar, due_at: datetime, interval_seconds: float, count: int
) -> list[pendulum.DateTime]:
    """Escalations after a breach, every `interval_seconds` of business time."""
    return [add_business_seconds(calendar, due_at, interval_seconds * n) for n in range(1, count + 1)]


# --- helpers ---------------------------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive date-time: the SLA clock needs an instant with a time zone")
    return at.astimezone(pendulum.UTC)


def _local(calendar: DeskCalendar, at: datetime) -> pendulum.DateTime:
    return pendulum.instance(at).in_timezone(calendar.timezone)


def deadline_plan(
    calendar: DeskCalendar,
    window: SlaWindow,
    warning_shares: Iterable[float],
    escalation_interval_seconds: float,
    escalation_count: int,
) -> list[tuple[str, int, pendulum.DateTime]]:
    """(kind, seq, when) of every warning, the breach alert and the escalations of one window."""
    plan: list[tuple[str, int, pendulum.DateTime]] = [
        ("warning", index, instant_at_share(calendar, window, share))
        for index, share in enumerate(sorted(warning_shares))
    ]
    plan.append(("breach", 0, window.due_at))
    for index, at in enumerate(
        escalation_times(calendar, window.due_at, escalation_interval_seconds, escalation_count), start=1
    ):
        plan.append(("escalation", index, at))
    return plan
