"""The SLA clock's precomputed timeline agrees with the walk over each day's intervals (the clock as it
was, `tests/sla_reference.py`) to the microsecond: due times, deadline plans, business time."""

from __future__ import annotations

import os
import random

import pendulum
import pytest

from handlers.rules import sla as sla
from tests import sla_reference as reference

WEEK = {d: ["09:00-18:00"] for d in sla.WEEKDAYS[:5]}
LUNCH = {d: ["09:00-13:00", "14:00-18:00"] for d in sla.WEEKDAYS[:5]}
SATURDAY = {**WEEK, "sat": ["10:00-12:30"]}
CALENDARS = [
    ("cet", "Europe/Rome", WEEK, "IT", ()),
    ("est", "America/New_York", WEEK, "US", ()),
    ("lunch", "Europe/Rome", LUNCH, "IT", (pendulum.date(2026, 12, 24), pendulum.date(2027, 8, 16))),
    ("sat", "Asia/Kolkata", SATURDAY, "IN", ()),
]
KINDS = [("tech", "standard"), ("tech", "critical"), ("care", None)]
# 100,000 cases in CI (and HEAVY_TESTS=1); a few thousand in the quick run.
CASES = 100_000 if os.environ.get("TEST_DATABASE_URL") or os.environ.get("HEAVY_TESTS") else 4_000


def both(spec: tuple) -> tuple[sla.DeskCalendar, reference.DeskCalendar]:  # type: ignore[type-arg]
    return sla.build_calendar(*spec), reference.build_calendar(*spec)


def instants(rng: random.Random, zone: str, count: int) -> list[pendulum.DateTime]:
    start = pendulum.datetime(2026, 1, 1, tz="UTC").int_timestamp
    found = []
    for _ in range(count):
        at = pendulum.from_timestamp(start + rng.randrange(3 * 365 * 1440) * 60, tz=zone)
        if rng.random() < 0.2:  # exactly on an opening, a close, or the lunch break's edges
            at = at.set(hour=rng.choice([9, 13, 14, 18]), minute=0)
        found.append(at)
    return found


@pytest.mark.parametrize("spec", CALENDARS, ids=[c[0] for c in CALENDARS])
def test_due_times_and_plans_agree_with_the_walk_over_days(spec: tuple) -> None:  # type: ignore[type-arg]
    fast, slow = both(spec)
    rng = random.Random(hash(spec[0]) % 1000)
    for filed in instants(rng, spec[1], CASES // len(CALENDARS)):
        queue, klass = rng.choice(KINDS)
        mine = sla.first_response_window(fast, queue, klass, filed)
        theirs = reference.first_response_window(slow, queue, klass, filed)
        assert (mine.due_at, mine.outside_hours) == (theirs.due_at, theirs.outside_hours), filed
        assert mine.due_at.timezone_name == spec[1]
        if rng.random() < 0.05:
            plan = sla.deadline_plan(fast, mine, (0.5, 0.8), 3600, 3)
            assert plan == reference.deadline_plan(slow, theirs, (0.5, 0.8), 3600, 3), filed
            later = filed.add(minutes=rng.randrange(1, 20_000))
            assert sla.business_seconds_between(fast, filed, later) == pytest.approx(
                reference.business_seconds_between(slow, filed, later), abs=1e-6
            )
            assert sla.is_open(fast, later) == reference.is_open(slow, later)
            assert sla.next_opening(fast, later) == reference.next_opening(slow, later)
