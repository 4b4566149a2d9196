"""One worker tick with 1,000 / 10,000 / 100,000 open tickets, on SQLite and PostgreSQL.

Every open ticket has its warnings, breach and escalations planned in the future; a fixed 200 pings are
due. The goal: a tick's cost follows the due pings, not the open tickets (tick(100k) <= 2 x tick(1k)).

    .venv/bin/python bench/worker_tick.py [--sizes 1000,10000,100000] [--due 200]
    (PostgreSQL: a database of its own, sla_desk_bench, on BENCH_PG_SERVER or 127.0.0.1:5432)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pendulum
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_postgres_url, rss_mb  # noqa: E402
from bot.clock import SettableClock  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import Ping, Ticket  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402
from tests.helpers import load_ticket, make_settings, seed  # noqa: E402

NOW = pendulum.parse("2026-11-30T12:00:00+01:00")
KINDS = [("warning", 0), ("warning", 1), ("breach", 0), ("escalation", 1)]


def fill(engine, open_tickets: int, due: int) -> None:  # type: ignore[no-untyped-def]
    future, past = NOW.add(days=2), NOW.subtract(minutes=5)
    batch = 5000
    with engine.begin() as connection:
        for start in range(0, open_tickets, batch):
            count = min(batch, open_tickets - start)
            connection.execute(
                insert(Ticket),
                [
                    load_ticket(n, NOW, future, card_ts=f"1700000000.{n:06d}")
                    for n in range(start, start + count)
                ],
            )
        first_id = connection.execute(text("SELECT MIN(id) FROM ticket")).scalar_one()
        for start in range(0, open_tickets, batch):
            count = min(batch, open_tickets - start)
            rows = []
            for offset in range(start, start + count):
                ticket_id = first_id + offset
                for kind, seq in KINDS:
                    # the first `due` pings are due now; all others wait in the future
                    when = past if len(rows) + start * len(KINDS) < due else future
                    rows.append(
                        dict(
                            ticket_id=ticket_id,
                            kind=kind,
                            seq=seq,
                            planned_at=when,
                            next_attempt_at=when,
                            state="planned",
                            attempts=0,
                            late=False,
                        )
                    )
            connection.execute(insert(Ping), rows)


def measure(
    url: str, label: str, sizes: list[int], due: int, fake: FakeSlack
) -> list[tuple[int, float, float]]:
    results = []
    for size in sizes:
        if url.startswith("postgresql"):
            reset = make_engine(url)
            with reset.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
            reset.dispose()
        else:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        fake.reset()
        runtime = build_runtime(make_settings(url, fake.url, worker_batch=due), SettableClock(NOW))
        seed(runtime.engine)
        started = time.perf_counter()
        fill(runtime.engine, size, due)
        if url.startswith("postgresql"):
            with runtime.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        filled = time.perf_counter() - started
        rss_before = rss_mb(os.getpid())
        started = time.perf_counter()
        delivered = runtime.deliverer.deliver_due()
        elapsed = time.perf_counter() - started
        rss_after = rss_mb(os.getpid())
        assert delivered == due, delivered
        # the same tick again (rows back to planned), under tracemalloc: what one tick allocates at its peak
        with runtime.engine.begin() as connection:
            connection.execute(text("UPDATE ping SET state = 'planned' WHERE state = 'sent'"))
        tracemalloc.start()
        runtime.deliverer.deliver_due()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results.append((size, elapsed, peak / 1e6))
        print(
            f"{label:10} open={size:>7,}  due={due}  tick={elapsed * 1000:7.1f} ms "
            f"({elapsed * 1000 / due:4.1f} ms a ping)  peak alloc={peak / 1e6:5.1f} MB  "
            f"RSS {rss_after - rss_before:+.1f} MB  (fill {filled:.0f} s)",
            flush=True,
        )
        runtime.engine.dispose()
    if len(results) > 1:
        ratio = results[-1][1] / results[0][1]
        verdict = "met" if ratio <= 2 else "NOT met"
        print(
            f"{label:10} tick({sizes[-1]:,}) / tick({sizes[0]:,}) = {ratio:.2f}  (goal <= 2: {verdict})",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--due", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    fake = FakeSlack()
    try:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{folder}/bench.db", "sqlite", sizes, args.due, fake)
        pg = bench_postgres_url()
        if pg:
            measure(pg, "postgresql", sizes, args.due, fake)
    finally:
        fake.close()


if __name__ == "__main__":
    main()
