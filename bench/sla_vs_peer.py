"""The SLA clock against a peer: 100,000 Customer Care due times (one business day of 9 h, Italian
holidays, Rome time) by our clock and by the `businesstimedelta` library on the same calendar.

Prints every disagreement (with the reason where it is known), both speeds and the ratio.
Goal: the answers agree, and ours is faster.

    .venv/bin/python bench/sla_vs_peer.py [--count 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

import businesstimedelta
import holidays
import pendulum
import pytz

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers.rules.sla import WEEKDAYS, SlaPolicy, build_calendar, first_response_due  # noqa: E402

ZONE = "Europe/Rome"


def filing_times(count: int, seed: int) -> list[dt.datetime]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
    span = 2 * 365 * 86400
    # whole minutes, as tickets are stamped; a fifth exactly on an opening or a close
    times = []
    for _ in range(count):
        at = dt.datetime.fromtimestamp(start + rng.randrange(span // 60) * 60, tz=dt.UTC)
        if rng.random() < 0.2:
            local = at.astimezone(pytz.timezone(ZONE))
            at = pytz.timezone(ZONE).localize(local.replace(tzinfo=None, hour=rng.choice([9, 18]), minute=0))
        times.append(at.astimezone(dt.UTC))
    return times


def ours(times: list[dt.datetime]) -> tuple[list[dt.datetime], float]:
    calendar = build_calendar("cet", ZONE, {d: ["09:00-18:00"] for d in WEEKDAYS[:5]}, "IT")
    policy = SlaPolicy(care_business_seconds=9 * 3600)
    started = time.perf_counter()
    answers = [first_response_due(calendar, "care", None, pendulum.instance(t), policy) for t in times]
    return answers, time.perf_counter() - started


def peer(times: list[dt.datetime]) -> tuple[list[dt.datetime], float]:
    tz = pytz.timezone(ZONE)
    workday = businesstimedelta.WorkDayRule(
        start_time=dt.time(9), end_time=dt.time(18), working_days=[0, 1, 2, 3, 4], tz=tz
    )
    italian = businesstimedelta.HolidayRule(holidays.country_holidays("IT", years=range(2025, 2030)), tz=tz)
    rules = businesstimedelta.Rules([workday, italian])
    one_day = businesstimedelta.BusinessTimeDelta(rules, hours=9)
    started = time.perf_counter()
    answers = [t.astimezone(tz) + one_day for t in times]
    return answers, time.perf_counter() - started


def explain(filed: dt.datetime, mine: dt.datetime, theirs: dt.datetime) -> str:
    local = filed.astimezone(pytz.timezone(ZONE))
    if (
        local.hour == 18
        and local.minute == 0
        or theirs > mine
        and theirs.astimezone(pytz.timezone(ZONE)).hour == 9
    ):
        return (
            "a sum that ends exactly at a close: SPEC's 'due at the close of that working day' keeps 18:00; "
            "the peer rolls on to the next opening"
        )
    return "unexplained"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    times = filing_times(args.count, args.seed)
    mine, our_seconds = ours(times)
    theirs, peer_seconds = peer(times)
    disagreements = [
        (f, a, b) for f, a, b in zip(times, mine, theirs, strict=True) if a.timestamp() != b.timestamp()
    ]
    reasons: dict[str, int] = {}
    for filed, a, b in disagreements:
        reason = explain(filed, a, b)
        reasons[reason] = reasons.get(reason, 0) + 1
    for filed, a, b in disagreements[:10]:
        print(
            f"disagree: filed {filed.astimezone(pytz.timezone(ZONE)).isoformat()}  ours {a.isoformat()}  "
            f"peer {b.astimezone(pytz.timezone(ZONE)).isoformat()}  ({explain(filed, a, b)})"
        )
    for reason, count in reasons.items():
        print(f"{count} disagreement(s): {reason}")
    print(f"cases            {args.count:,}")
    print(f"agree            {args.count - len(disagreements):,}")
    print(f"ours             {our_seconds:.2f} s  ({args.count / our_seconds:,.0f}/s)")
    print(f"businesstimedelta {peer_seconds:.2f} s  ({args.count / peer_seconds:,.0f}/s)")
    ratio = peer_seconds / our_seconds
    print(f"speed ratio      {ratio:.2f}x  (goal: ours faster: {'met' if ratio > 1 else 'NOT met'})")


if __name__ == "__main__":
    main()
