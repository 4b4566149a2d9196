"""The SLA clock: business calendars and first-response due times.

Pure: plain values in, pendulum date-times out. Everything is computed on UTC
instants; the desk's zone is used only to find day boundaries, so daylight-saving
switches are the time library's business, never a hand-written offset.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import holidays as holidays_lib
import pendulum

from storage.vocabulary import Queue, TicketClass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no working day in this many days has no working days at all.
MAX_SEARCH_DAYS = 3 * 366


@dataclass(frozen=True)
class DeskCalendar:
    """A desk's weekly support intervals, time zone and closed days."""

    name: str
    timezone: str
    # weekly[weekday] = ((open, close), ...) in local wall time, Monday = 0.
    weekly: tuple[tuple[tuple[time, time], ...], ...]
    country: str | None = None
    extra_closed: frozenset[date] = frozenset()
    _holidays: Mapping[date, str] = field(default_factory=dict, compare=False, hash=False, repr=False)
    # The business intervals of the years in use, built once (see `_timeline`).
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def is_holiday(self, day: date) -> bool:
        return day in self.extra_closed or day in self._holidays


def parse_interval(text: str) -> tuple[time, time]:
    """'09:00-13:00' -> (09:00, 13:00); the close must be after the opening."""
    try:
        start_text, end_text = text.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"support interval {text!r} is not of the form HH:MM-HH:MM") from None
    if end <= start:
        raise ValueError(f"support interval {text!r} closes before it opens")
    return start, end


def build_calendar(
    name: str,
    timezone: str,
    hours: Mapping[str, Iterable[str]],
    country: str | None = None,
    closed_days: Iterable[date] = (),
) -> DeskCalendar:
    """Build a desk calendar once from settings-shaped values."""
    pendulum.timezone(timezone)  # fails early on an unknown zone
    weekly: list[tuple[tuple[time, time], ...]] = []
    for weekday in WEEKDAYS:
        intervals = sorted(parse_interval(text) for text in hours.get(weekday, ()))
        for (_, earlier_end), (later_start, _) in zip(intervals, intervals[1:], strict=False):
            if later_start < earlier_end:
                raise ValueError(f"support intervals on {weekday} overlap")
        weekly.append(tuple(intervals))
    if not any(weekly):
        raise ValueError(f"desk {name!r} has no support hours on any weekday")
    national: Mapping[date, str] = holidays_lib.country_holidays(country) if country else {}
    return DeskCalendar(
        name=name,
        timezone=timezone,
        weekly=tuple(weekly),
        country=country,
        extra_closed=frozenset(closed_days),
        _holidays=national,
    )


# --- intervals -------------------------------------------------------------------------------------------

Interval = tuple[datetime, datetime]  # UTC instants, opening included, closing excluded


@lru_cache(maxsize=65536)
def support_intervals(calendar: DeskCalendar, day: date) -> tuple[Interval, ...]:
    """The support intervals of a local date as UTC instants (empty on a closed day)."""
    local = calendar.weekly[day.weekday()]
    if not local or calendar.is_holiday(day):
        return ()
    tz = pendulum.timezone(calendar.timezone)
    result = []
    for opening, closing in local:
        start = pendulum.datetime(day.year, day.month, day.day, opening.hour, opening.minute, tz=tz)
        end = pendulum.datetime(day.year, day.month, day.day, closing.hour, closing.minute, tz=tz)
        result.append((_utc(start), _utc(end)))
    return tuple(result)


def local_date(calendar: DeskCalendar, at: datetime) -> date:
    return pendulum.instance(at).in_timezone(calendar.timezone).date()


# --- the timeline: every support interval of the years in use, in microseconds since the epoch -------------
# A due time is then a few bisections: no walk over days, no time-zone arithmetic but at the edges.

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
DAY_US = 86_400_000_000
MARGIN_US = 300 * DAY_US
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Timeline:
    first_year: int
    last_year: int
    low_us: int  # the first instant of first_year (UTC), and the first after last_year
    high_us: int
    starts: list[int]  # interval openings, in order
    ends: list[int]  # ... and closings
    before: list[int]  # support time before each interval
    through: list[int]  # ... and up to its close
    day_close: list[int]  # the close of the local day each interval belongs to

    def covers(self, us: int) -> bool:
        return bool(self.starts) and self.starts[0] <= us and us < self.ends[-1]


def _build(calendar: DeskCalendar, first_year: int, last_year: int) -> _Timeline:
    starts: list[int] = []
    ends: list[int] = []
    day_close: list[int] = []
    day = date(first_year, 1, 1)
    while day.year <= last_year:
        intervals = support_intervals(calendar, day)
        for opening, closing in intervals:
            starts.append(_us(opening))
            ends.append(_us(closing))
            day_close.append(_us(intervals[-1][1]))
        day += timedelta(days=1)
    before, through, total = [], [], 0
    for start, end in zip(starts, ends, strict=True):
        before.append(total)
        total += end - start
        through.append(total)
    low, high = _us(datetime(first_year, 1, 1, tzinfo=UTC)), _us(datetime(last_year + 1, 1, 1, tzinfo=UTC))
    return _Timeline(first_year, last_year, low, high, starts, ends, before, through, day_close)


def _timeline(calendar: DeskCalendar, us: int, ahead_days: int = 0) -> _Timeline:
    """The calendar's timeline covering `us` and `ahead_days` after it (grown by whole years)."""
    line: _Timeline | None = calendar._cache.get("timeline")
    until = us + (ahead_days + 8) * DAY_US
    if line is not None and line.low_us + MARGIN_US <= us and until + MARGIN_US < line.high_us:
        return line  # built with a year either side: most of it is margin enough
    need_from, need_to = _year_of(us) - 1, _year_of(until) + 1
    with _BUILD_LOCK:
        line = calendar._cache.get("timeline")
        if line is None or not (line.first_year <= need_from and need_to <= line.last_year):
            low = min(need_from, line.first_year if line else need_from)
            high = max(need_to, line.last_year if line else need_to)
            line = _build(calendar, low, high)
            calendar._cache["timeline"] = line
    return line


def _year_of(us: int) -> int:
    return (EPOCH + us * MICROSECOND).year


def _us(at: datetime) -> int:
    # Exact: a timestamp's float is within 0.25 µs of the instant for centuries around now.
    return round(at.timestamp() * 1_000_000)


def _next_index(calendar: DeskCalendar, us: int) -> tuple[_Timeline, int]:
    """The first support interval that ends after `us`."""
    line = _timeline(calendar, us)
    index = bisect_right(line.ends, us)
    if index == len(line.ends):
        line = _timeline(calendar, us, MAX_SEARCH_DAYS)
        index = bisect_right(line.ends, us)
        if index == len(line.ends):
            raise ValueError(f"desk {calendar.name!r} has no working day within {MAX_SEARCH_DAYS} days")
    return line, index


def _support_before(line: _Timeline, us: int) -> int:
    """Support time from the timeline's start to `us`."""
    index = bisect_right(line.starts, us) - 1
    if index < 0:
        return 0
    return line.before[index] + min(us, line.ends[index]) - line.starts[index]


def _after_support(calendar: DeskCalendar, start_us: int, amount_us: int) -> int:
    """The instant when `amount_us` of support time have passed after `start_us` (a sum that ends
    exactly at a close is that close; nothing to add is the next moment of support)."""
    line, index = _next_index(calendar, start_us)
    if amount_us <= 0:
        return max(line.starts[index], start_us)
    target = _support_before(line, start_us) + amount_us
    ahead = 0
    while target > line.through[-1]:
        ahead += 366
        if ahead > MAX_SEARCH_DAYS + 366 * 10:
            raise ValueError(f"desk {calendar.name!r} has too little support time ahead")
        line = _timeline(calendar, start_us, ahead)
        target = _support_before(line, start_us) + amount_us
    found = bisect_left(line.through, target)
    return line.starts[found] + target - line.before[found]


def is_open(calendar: DeskCalendar, at: datetime) -> bool:
    us = _us(_utc(at))
    line = _timeline(calendar, us)
    index = bisect_right(line.starts, us) - 1
    return index >= 0 and us < line.ends[index]


def next_opening(calendar: DeskCalendar, at: datetime) -> pendulum.DateTime:
    """`at` itself when within support hours, else the start of the next support interval."""
    us = _us(_utc(at))
    line, index = _next_index(calendar, us)
    return _local_us(calendar, max(line.starts[index], us))


def close_of_day(calendar: DeskCalendar, day: date) -> pendulum.DateTime:
    intervals = support_intervals(calendar, day)
    if not intervals:
        raise ValueError(f"{day} is not a working day of desk {calendar.name!r}")
    return _local(calendar, intervals[-1][1])


def business_seconds_between(calendar: DeskCalendar, start: datetime, end: datetime) -> float:
    """Support time between two instants (0 when end is not after start)."""
    start_us, end_us = _us(_utc(start)), _us(_utc(end))
    if end_us <= start_us:
        return 0.0
    line = _timeline(calendar, start_us, (end_us - start_us) // DAY_US + 1)
    return (_support_before(line, end_us) - _support_before(line, start_us)) / 1_000_000


def add_business_seconds(calendar: DeskCalendar, start: datetime, seconds: float) -> pendulum.DateTime:
    """The instant when `seconds` of support time have passed after `start`.

    A sum that ends exactly at a close returns that close, not the next opening.
    """
    amount = timedelta(seconds=seconds) // MICROSECOND
    return _local_us(calendar, _after_support(calendar, _us(_utc(start)), amount))


def business_days_after(calendar: DeskCalendar, at: datetime, days: int) -> pendulum.DateTime:
    """The same local time on the `days`-th working day after `at`'s (waiting on the partner: "after 3
    business days"); at the day's close when that day closes earlier."""
    local = pendulum.instance(at).in_timezone(calendar.timezone)
    day, counted = local.date(), 0
    for _ in range(days * 7 + 60):  # a year of holidays cannot outlast this
        if counted == days:
            break
        day += timedelta(days=1)
        if support_intervals(calendar, day):
            counted += 1
    moment = pendulum.datetime(
        day.year, day.month, day.day, local.hour, local.minute, local.second, tz=calendar.timezone
    )
    intervals = support_intervals(calendar, day)
    if intervals and moment > intervals[-1][1]:
        return _local(calendar, intervals[-1][1])
    return moment


# --- the SLA table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaWindow:
    """A first-response window: from filing to due, measured in business or calendar time."""

    filed_at: pendulum.DateTime
    due_at: pendulum.DateTime
    business_time: bool
    outside_hours: bool = False


@dataclass(frozen=True)
class SlaPolicy:
    """The operator-tunable numbers of SPEC's SLA table."""

    care_business_seconds: float = 9 * 3600
    critical_seconds: float = 30 * 60


def first_response_window(
    calendar: DeskCalendar,
    queue: Queue | str,
    klass: TicketClass | str | None,
    filed_at: datetime,
    policy: SlaPolicy = SlaPolicy(),
) -> SlaWindow:
    """The first-response window of SPEC's SLA table for a ticket filed at `filed_at`."""
    filed = _local(calendar, filed_at)
    filed_us = _us(filed)
    line, index = _next_index(calendar, filed_us)
    outside = not (line.starts[index] <= filed_us)
    queue = Queue(queue)
    if queue is Queue.TECH and TicketClass(klass or TicketClass.STANDARD) is TicketClass.CRITICAL:
        # Critical issues have a 24/7 on-call: 30 minutes of calendar time, in or out of hours.
        due = filed.add(seconds=int(policy.critical_seconds))
        return SlaWindow(filed, _local(calendar, due), business_time=False, outside_hours=outside)
    if queue is Queue.TECH:
        # Close of the working day on which support is next open: the same day when filed in hours
        # (or before opening), the next working day when filed after the close.
        due_us = line.day_close[index]
    else:
        start_us = max(line.starts[index], filed_us)
        due_us = _after_support(
            calendar, start_us, timedelta(seconds=policy.care_business_seconds) // MICROSECOND
        )
    return SlaWindow(filed, _local_us(calendar, due_us), business_time=True, outside_hours=outside)


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
    if isinstance(at, pendulum.DateTime) and at.timezone_name == calendar.timezone:
        return at
    return _local_us(calendar, _us(_utc(at)))


def _local_us(calendar: DeskCalendar, us: int) -> pendulum.DateTime:
    """The instant in the desk's zone: the zone converts (DST included), pendulum only wraps it."""
    zone = calendar._cache.get("zone")
    if zone is None:
        zone = calendar._cache["zone"] = pendulum.timezone(calendar.timezone)
    at = zone.convert(EPOCH + us * MICROSECOND)
    return pendulum.DateTime(
        at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond, tzinfo=zone, fold=at.fold
    )


def parse_instant(text: str, timezone: str) -> pendulum.DateTime:
    """ISO-8601 text to an instant; a time without an offset is read in `timezone`."""
    try:
        parsed = pendulum.parse(text, tz=timezone, strict=False)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as error:
        raise ValueError(f"{text!r} is not an ISO-8601 date-time: {error}") from None
    if not isinstance(parsed, pendulum.DateTime):
        raise ValueError(f"{text!r} is not a date-time (a date and a time are needed)")
    return parsed


Clock = Callable[[], pendulum.DateTime]


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
