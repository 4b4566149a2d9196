"""Reports over a year of a busy desk: 100,000 tickets.

Goals: the figures in under 1 s on SQLite and PostgreSQL, the CSV of those 100,000 rows in under 5 s,
the chart in under 1 s, peak memory (Python allocations, tracemalloc) under 100 MB.

    .venv/bin/python bench/report.py [--tickets 100000]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import pendulum

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_postgres_url  # noqa: E402
from bot.desks import build_desks  # noqa: E402
from handlers.operations import reports as reports  # noqa: E402
from storage.db import make_engine, migrate, session_scope  # noqa: E402
from storage.reports import figures, report_rows, weekly_met  # noqa: E402
from tests.helpers import make_settings, seed  # noqa: E402

YEAR = (date(2025, 12, 1), date(2026, 11, 30))


def fill(url: str, count: int) -> None:
    """A year of tickets: 70% answered in time, 20% late, 10% never; a third resolved, some reopened."""
    engine = make_engine(url)
    migrate(engine)
    seed(engine)
    rng = random.Random(42)
    start = pendulum.datetime(2025, 12, 1, tz="Europe/Rome")
    rows = []
    for n in range(count):
        filed = start.add(seconds=rng.randrange(365 * 24 * 3600))
        due = filed.add(hours=8)
        fate = rng.random()
        answered = (
            filed.add(minutes=rng.randrange(10, 400))
            if fate < 0.7
            else due.add(hours=2)
            if fate < 0.9
            else None
        )
        queue, klass = rng.choice([("tech", "standard"), ("tech", "critical"), ("care", None)])
        rows.append(
            {
                "queue": queue, "klass": klass, "subject": "s", "description": "d", "filer_user_id": "UALICE",
                "partner_id": rng.choice([1, 2, 3]), "desk": rng.choice(["cet", "est"]), "status": "open",
                "filed_at": filed, "due_at": due, "business_time": klass != "critical",
                "outside_hours": False,
                "queue_channel": "CTECH", "first_response_at": answered,
                "first_response_by": rng.choice(["UAGENT1", "UAGENT2"]) if answered else None,
                "sla_met": (answered <= due) if answered else None,
                "first_response_seconds": (answered - filed).total_seconds() if answered else None,
                "resolved_at": filed.add(hours=30) if n % 3 == 0 else None,
                "resolution_seconds": 30 * 3600.0 if n % 3 == 0 else None,
                "reopened_at": filed.add(hours=40) if n % 50 == 0 else None, "turn": "support",
            }
        )  # fmt: skip
    from storage.models import Ticket

    with engine.begin() as connection:
        for chunk in range(0, len(rows), 10_000):
            connection.execute(Ticket.__table__.insert(), rows[chunk : chunk + 10_000])  # type: ignore[attr-defined]
    engine.dispose()


def run_once(session: object, desks: object, url: str) -> tuple[float, float, float, int, int, int]:
    """(figures s, csv s, chart s, groups, rows, png bytes)."""
    names = sorted(desks.calendars)  # type: ignore[attr-defined]
    period = reports.bounds(desks.calendars, names, *YEAR)  # type: ignore[attr-defined]
    now = pendulum.datetime(2026, 12, 1, tz="UTC")
    started = time.perf_counter()
    rows = figures(session, period, now)  # type: ignore[arg-type]
    figures_s = time.perf_counter() - started
    out = io.StringIO()
    zones = {name: c.timezone for name, c in desks.calendars.items()}  # type: ignore[attr-defined]
    started = time.perf_counter()
    written = reports.write_csv(report_rows(session, period), out, zones, now)  # type: ignore[arg-type]
    csv_s = time.perf_counter() - started
    started = time.perf_counter()
    weeks = reports.weeks(desks.calendars, names, YEAR[1])  # type: ignore[attr-defined]
    series = weekly_met(session, [b for _, b in weeks], now)  # type: ignore[arg-type]
    png = reports.chart_png(list(zip([s for s, _ in weeks], series, strict=True)), "SLAs met per week")
    chart_s = time.perf_counter() - started
    return figures_s, csv_s, chart_s, len(rows), written, len(png)


def measure(label: str, url: str) -> None:
    engine = make_engine(url)
    desks = build_desks(make_settings(url, "http://x/api/"))
    with session_scope(engine) as session:
        run_once(session, desks, url)  # warm: matplotlib imported, caches filled, as in a running bot
        figures_s, csv_s, chart_s, groups, written, png = run_once(session, desks, url)
        tracemalloc.start()  # a pass of its own: tracemalloc slows Python down several times
        run_once(session, desks, url)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    engine.dispose()
    verdict = "met" if figures_s < 1 and csv_s < 5 and chart_s < 1 and peak_mb < 100 else "NOT met"
    print(
        f"{label:10} figures {figures_s * 1000:5.0f} ms ({groups} groups)  "
        f"csv {csv_s:4.2f} s ({written} rows)  chart {chart_s * 1000:4.0f} ms ({png // 1024} KB)  "
        f"peak {peak_mb:4.1f} MB  goals: {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{folder}/report.db"
        fill(sqlite_url, args.tickets)
        measure("sqlite", sqlite_url)
    postgres_url = bench_postgres_url()
    if postgres_url:
        fill(postgres_url, args.tickets)
        measure("postgresql", postgres_url)


if __name__ == "__main__":
    main()
