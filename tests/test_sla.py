"""The SLA clock, on its own: hand-checked cases and properties."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.rules.sla import (
    WEEKDAYS,
    add_business_seconds,
    build_calendar,
    business_seconds_between,
    deadline_plan,
    elapsed_share,
    first_response_due,
    first_response_window,
    instant_at_share,
    is_open,
    next_opening,
    parse_instant,
    support_intervals,
)

WEEK = {day: ["09:00-18:00"] for day in WEEKDAYS[:5]}
LUNCH = {day: ["09:00-13:00", "14:00-18:00"] for day in WEEKDAYS[:5]}
CET = build_calendar("cet", "Europe/Rome", WEEK, "IT")
EST = build_calendar("est", "America/New_York", WEEK, "US")
CET_LUNCH = build_calendar("cet", "Europe/Rome", LUNCH, "IT")
CALENDARS = {"cet": CET, "est": EST, "lunch": CET_LUNCH}

CASES = [
    # calendar, queue, class, filed, due
    ("cet", "tech", "standard", "2026-11-27T17:59:00+01:00", "2026-11-27T18:00:00+01:00"),  # Friday 17:59
    ("cet", "tech", "standard", "2026-11-27T18:00:00+01:00", "2026-11-30T18:00:00+01:00"),  # at close: Monday
    ("cet", "tech", "standard", "2026-11-28T10:00:00+01:00", "2026-11-30T18:00:00+01:00"),  # Saturday
    ("cet", "tech", "standard", "2026-11-30T07:30:00+01:00", "2026-11-30T18:00:00+01:00"),  # before opening
    ("cet", "tech", "standard", "2026-11-30T09:00:00+01:00", "2026-11-30T18:00:00+01:00"),  # at opening
    ("cet", "tech", "standard", "2026-12-07T18:30:00+01:00", "2026-12-09T18:00:00+01:00"),  # 8 Dec holiday
    ("cet", "tech", "standard", "2026-12-08T10:00:00+01:00", "2026-12-09T18:00:00+01:00"),  # on the holiday
    ("cet", "care", None, "2026-11-24T11:00:00+01:00", "2026-11-25T11:00:00+01:00"),  # SPEC's example
    ("cet", "care", None, "2026-11-27T17:00:00+01:00", "2026-11-30T17:00:00+01:00"),  # over a weekend
    ("cet", "care", None, "2026-11-28T12:00:00+01:00", "2026-11-30T18:00:00+01:00"),  # Saturday: next close
    ("cet", "care", None, "2026-12-07T14:00:00+01:00", "2026-12-09T14:00:00+01:00"),  # over 8 Dec
    ("cet", "care", None, "2026-11-24T09:00:00+01:00", "2026-11-24T18:00:00+01:00"),  # at opening
    ("cet", "tech", "critical", "2026-11-27T17:59:00+01:00", "2026-11-27T18:29:00+01:00"),
    ("cet", "tech", "critical", "2026-11-28T03:00:00+01:00", "2026-11-28T03:30:00+01:00"),  # 24/7 on-call
    # Rome, spring forward on Sunday 29 March 2026 and fall back on Sunday 25 October 2026
    ("cet", "tech", "standard", "2026-03-27T17:00:00+01:00", "2026-03-27T18:00:00+01:00"),
    ("cet", "care", None, "2026-03-27T17:00:00+01:00", "2026-03-30T17:00:00+02:00"),
    ("cet", "tech", "critical", "2026-03-29T01:50:00+01:00", "2026-03-29T03:20:00+02:00"),
    ("cet", "care", None, "2026-10-23T15:00:00+02:00", "2026-10-26T15:00:00+01:00"),
    ("cet", "tech", "critical", "2026-10-25T02:50:00+02:00", "2026-10-25T02:20:00+01:00"),
    # New York: Thanksgiving 26 November 2026, spring forward 8 March, fall back 1 November
    ("est", "tech", "standard", "2026-11-25T18:30:00-05:00", "2026-11-27T18:00:00-05:00"),
    ("est", "care", None, "2026-11-25T15:00:00-05:00", "2026-11-27T15:00:00-05:00"),
    ("est", "care", None, "2026-03-06T12:00:00-05:00", "2026-03-09T12:00:00-04:00"),
    ("est", "tech", "standard", "2026-10-31T12:00:00-04:00", "2026-11-02T18:00:00-05:00"),
    ("est", "tech", "standard", "2026-11-24T18:00:00-05:00", "2026-11-25T18:00:00-05:00"),  # at close
    ("est", "tech", "standard", "2026-11-24T09:00:00-05:00", "2026-11-24T18:00:00-05:00"),  # at opening
    # Several intervals a day: lunch 13:00-14:00 in Rome
    ("lunch", "care", None, "2026-11-24T12:00:00+01:00", "2026-11-25T13:00:00+01:00"),
    ("lunch", "care", None, "2026-11-24T13:30:00+01:00", "2026-11-25T15:00:00+01:00"),
    ("lunch", "tech", "standard", "2026-11-24T13:30:00+01:00", "2026-11-24T18:00:00+01:00"),
    ("lunch", "tech", "standard", "2026-11-24T18:00:00+01:00", "2026-11-25T18:00:00+01:00"),
]


@pytest.mark.parametrize(("calendar", "queue", "klass", "filed", "due"), CASES)
def test_first_response_due_table(calendar: str, queue: str, klass: str | None, filed: str, due: str) -> None:
    result = first_response_due(CALENDARS[calendar], queue, klass, pendulum.parse(filed))
    assert result.isoformat() == due
    assert result.timestamp() == pendulum.parse(due).timestamp()


def test_interval_bounds_are_half_open() -> None:
    assert is_open(CET, pendulum.parse("2026-11-24T09:00:00+01:00"))
    assert not is_open(CET, pendulum.parse("2026-11-24T18:00:00+01:00"))
    assert not is_open(CET, pendulum.parse("2026-12-08T10:00:00+01:00"))  # Immacolata


def test_outside_hours_flag() -> None:
    window = first_response_window(CET, "tech", "critical", pendulum.parse("2026-11-28T03:00:00+01:00"))
    assert window.outside_hours and not window.business_time
    window = first_response_window(CET, "tech", "standard", pendulum.parse("2026-11-27T17:00:00+01:00"))
    assert not window.outside_hours and window.business_time


def test_friday_warnings_at_half_and_eighty_percent() -> None:
    window = first_response_window(CET, "tech", "standard", pendulum.parse("2026-11-27T17:00:00+01:00"))
    plan = deadline_plan(CET, window, [0.5, 0.8], 3600, 3)
    times = {(kind, seq): at.isoformat() for kind, seq, at in plan}
    assert times[("warning", 0)] == "2026-11-27T17:30:00+01:00"
    assert times[("warning", 1)] == "2026-11-27T17:48:00+01:00"
    assert times[("breach", 0)] == "2026-11-27T18:00:00+01:00"
    # escalations every business hour after the breach: Monday 10:00, 11:00, 12:00
    assert times[("escalation", 1)] == "2026-11-30T10:00:00+01:00"
    assert times[("escalation", 3)] == "2026-11-30T12:00:00+01:00"


def test_saturday_filing_warns_on_monday() -> None:
    window = first_response_window(CET, "tech", "standard", pendulum.parse("2026-11-28T11:00:00+01:00"))
    plan = deadline_plan(CET, window, [0.5, 0.8], 3600, 0)
    assert [at.isoformat() for _, _, at in plan] == [
        "2026-11-30T13:30:00+01:00",
        "2026-11-30T16:12:00+01:00",
        "2026-11-30T18:00:00+01:00",
    ]


def test_elapsed_share_business_and_calendar() -> None:
    window = first_response_window(CET, "care", None, pendulum.parse("2026-11-24T11:00:00+01:00"))
    assert elapsed_share(CET, window, pendulum.parse("2026-11-24T11:00:00+01:00")) == 0
    assert elapsed_share(CET, window, pendulum.parse("2026-11-24T20:00:00+01:00")) == pytest.approx(7 / 9)
    assert elapsed_share(CET, window, window.due_at) == pytest.approx(1)
    assert elapsed_share(CET, window, pendulum.parse("2026-11-25T12:30:00+01:00")) == pytest.approx(10.5 / 9)
    critical = first_response_window(CET, "tech", "critical", pendulum.parse("2026-11-28T03:00:00+01:00"))
    assert elapsed_share(CET, critical, pendulum.parse("2026-11-28T03:15:00+01:00")) == pytest.approx(0.5)


def test_calendar_helpers() -> None:
    friday_evening = pendulum.parse("2026-11-27T19:00:00+01:00")
    assert next_opening(CET, friday_evening).isoformat() == "2026-11-30T09:00:00+01:00"
    assert business_seconds_between(CET, friday_evening, pendulum.parse("2026-11-30T10:00:00+01:00")) == 3600
    assert support_intervals(CET, pendulum.date(2026, 12, 25)) == ()
    assert add_business_seconds(CET, pendulum.parse("2026-11-24T17:00:00+01:00"), 3600).hour == 18


def test_extra_closed_days_and_bad_calendars() -> None:
    closed = build_calendar("cet", "Europe/Rome", WEEK, "IT", [pendulum.date(2026, 11, 30)])
    due = first_response_due(closed, "tech", "standard", pendulum.parse("2026-11-27T18:30:00+01:00"))
    assert due.isoformat() == "2026-12-01T18:00:00+01:00"
    with pytest.raises(ValueError, match="HH:MM"):
        build_calendar("x", "Europe/Rome", {"mon": ["nine to five"]})
    with pytest.raises(ValueError, match="overlap"):
        build_calendar("x", "Europe/Rome", {"mon": ["09:00-13:00", "12:00-18:00"]})
    with pytest.raises(ValueError, match="no support hours"):
        build_calendar("x", "Europe/Rome", {})


def test_parse_instant_reads_naive_times_in_the_desk_zone() -> None:
    assert parse_instant("2026-11-27T17:59", "Europe/Rome").isoformat() == "2026-11-27T17:59:00+01:00"
    with pytest.raises(ValueError):
        parse_instant("next friday", "Europe/Rome")


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda naive: pendulum.instance(naive, tz="UTC")
)


def _inside_hours(calendar, due) -> bool:  # type: ignore[no-untyped-def]
    day = pendulum.instance(due).in_timezone(calendar.timezone).date()
    return any(start < due <= end for start, end in support_intervals(calendar, day))


@settings(max_examples=300, deadline=None)
@given(filed=instants, name=st.sampled_from(sorted(CALENDARS)), queue=st.sampled_from(["tech", "care"]))
def test_business_due_falls_inside_support_hours(filed: pendulum.DateTime, name: str, queue: str) -> None:
    calendar = CALENDARS[name]
    due = first_response_due(calendar, queue, "standard", filed)
    assert due > filed
    assert _inside_hours(calendar, due)


@settings(max_examples=300, deadline=None)
@given(
    filed=instants,
    later_by=st.integers(min_value=0, max_value=5 * 86400),
    name=st.sampled_from(sorted(CALENDARS)),
    queue=st.sampled_from(["tech", "care"]),
)
def test_due_never_moves_earlier_when_filing_later(
    filed: pendulum.DateTime, later_by: int, name: str, queue: str
) -> None:
    calendar = CALENDARS[name]
    earlier = first_response_due(calendar, queue, "standard", filed)
    later = first_response_due(calendar, queue, "standard", filed + timedelta(seconds=later_by))
    assert later >= earlier


@settings(max_examples=200, deadline=None)
@given(filed=instants, share=st.floats(min_value=0.01, max_value=0.99))
def test_instant_at_share_inverts_elapsed_share(filed: pendulum.DateTime, share: float) -> None:
    window = first_response_window(CET, "care", None, filed)
    at = instant_at_share(CET, window, share)
    assert elapsed_share(CET, window, at) == pytest.approx(share, abs=1e-6)
