"""A cloud outage: N partners file Critical `cloud_unreachable` tickets within a minute, against two
`serve` processes sharing PostgreSQL, with a fake Slack that answers 429 to a second message within a
second in one channel (Slack's documented pace).

Prints first how long an incident's claim and resolve hold the store's write lock with N linked
tickets (SQLite and PostgreSQL; goal: under 1 s each), then: time to the incident message, time
until the last filer's confirmation, 429s, messages
posted twice, and the acknowledgements. Goals: every ack < 3 s, one incident, one page, 0 429s,
0 duplicates.

    .venv/bin/python bench/storm.py [--filings 500] [--spread 50]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PG_SERVER  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402
from tests.incident_load import print_lock_holds  # noqa: E402
from tests.storm import run_storm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=500)
    parser.add_argument("--spread", type=float, default=50.0, help="seconds over which they file")
    parser.add_argument("--locks-only", action="store_true", help="only the claim/resolve lock figures")
    args = parser.parse_args()
    # An incident's claim and resolve, with as many linked tickets: how long each holds the write lock.
    print("\n".join(print_lock_holds(f"{PG_SERVER}/test", args.filings)))
    if args.locks_only:
        return
    fake = FakeSlack()
    try:
        figures = run_storm(f"{PG_SERVER}/postgres", fake, args.filings, spread=args.spread, timeout=180)
    finally:
        fake.close()
    print("\n".join(figures.lines()))


if __name__ == "__main__":
    main()
