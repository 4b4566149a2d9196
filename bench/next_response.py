"""Next-response pings for 10,000 open tickets with a follow-up each, on SQLite and PostgreSQL.

Every ticket has had its first answer; then its partner writes again (the real operation,
`conversation.carry_message`), which opens a next-response window and plans its warnings, breach
alert and escalations. Printed: planning time per follow-up, the store's size after planning, and
the worker's rounds when every ticket's first warning falls due at once (the fake Slack answers).

    .venv/bin/python bench/next_response.py [--tickets 10000] [--batch 200]
    (PostgreSQL: a database of its own, sla_desk_bench, on BENCH_PG_SERVER or 127.0.0.1:5432)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pendulum
from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_postgres_url  # noqa: E402
from bot.clock import SettableClock  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from handlers.operations import conversation  # noqa: E402
from handlers.operations.conversation import Author, SlackMessage  # noqa: E402
from storage.db import make_engine, session_scope  # noqa: E402
from storage.models import Ping, ResponseWindow, Ticket  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402
from tests.helpers import load_ticket, make_settings, seed  # noqa: E402

FILED = pendulum.parse("2026-11-24T09:30:00+01:00")
FOLLOW_UP = pendulum.parse("2026-11-24T10:00:00+01:00")  # due at 18:00: first warning at 14:00
ALICE = Author("UALICE", "alice", False, "Acme Telecom")


def answered_tickets(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    rows = [
        load_ticket(
            n, FILED, FILED.add(hours=8), card_ts=f"1700000000.{n:06d}", filer_channel="CPARTNER",
            filer_thread_ts=f"1700000001.{n:06d}", first_response_at=FILED.add(minutes=5),
            first_response_by="UAGENT1", sla_met=True, turn="partner",
        )
        for n in range(count)
    ]  # fmt: skip
    with engine.begin() as connection:
        for start in range(0, count, 5000):
            connection.execute(insert(Ticket), rows[start : start + 5000])


def store_size(url: str, engine) -> str:  # type: ignore[no-untyped-def]
    if url.startswith("postgresql"):
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        return f"{size / 1e6:.1f} MB (database)"
    return f"{os.path.getsize(url.removeprefix('sqlite:///')) / 1e6:.1f} MB (file)"


def measure(url: str, label: str, tickets: int, batch: int, fake: FakeSlack) -> None:
    if url.startswith("postgresql"):
        reset = make_engine(url)
        with reset.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        reset.dispose()
    fake.reset()
    clock = SettableClock(FOLLOW_UP)
    settings = make_settings(url, fake.url, worker_batch=batch, waiting_on_partner=False)
    runtime = build_runtime(settings, clock, store_clock=False)
    seed(runtime.engine)
    answered_tickets(runtime.engine, tickets)
    with session_scope(runtime.engine) as session:
        ids = [int(i) for (i,) in session.execute(select(Ticket.id).order_by(Ticket.id))]  # type: ignore[call-overload]
    started = time.perf_counter()
    for chunk in range(0, len(ids), 500):  # one transaction a follow-up, as Slack's events come
        with session_scope(runtime.engine) as session:
            for ticket_id in ids[chunk : chunk + 500]:
                ticket = session.get(Ticket, ticket_id)
                assert ticket is not None
                message = SlackMessage(
                    "CPARTNER",
                    f"{FOLLOW_UP.timestamp() + ticket_id / 1e4:.6f}",
                    ticket.filer_thread_ts or "",
                    "news?",
                )
                conversation.carry_message(session, ticket, message, ALICE, FOLLOW_UP, runtime.policy)
    planning = time.perf_counter() - started
    with session_scope(runtime.engine) as session:
        windows = session.execute(select(func.count()).select_from(ResponseWindow)).scalar_one()
        pings = session.execute(select(func.count()).select_from(Ping)).scalar_one()
    print(
        f"{label:10} {tickets:,} follow-ups planned in {planning:.1f} s "
        f"({planning * 1000 / tickets:.2f} ms each): {windows:,} windows, {pings:,} delivery rows; "
        f"store {store_size(url, runtime.engine)}",
        flush=True,
    )
    with runtime.engine.begin() as connection:  # the copies are not what is measured here
        connection.execute(text("UPDATE ping SET state = 'dropped' WHERE kind IN ('to_card', 'card_update')"))
    clock.set(pendulum.parse("2026-11-24T14:01:00+01:00"))  # every first warning is due
    rounds: list[float] = []
    posted = 0
    started = time.perf_counter()
    while True:
        round_started = time.perf_counter()
        delivered = runtime.deliverer.deliver_due()
        if not delivered:
            break
        rounds.append(time.perf_counter() - round_started)
        posted += delivered
    total = time.perf_counter() - started
    print(
        f"{label:10} {posted:,} next-response warnings posted in {len(rounds)} rounds of {batch}: "
        f"round p50 {statistics.median(rounds) * 1000:.0f} ms, max {max(rounds) * 1000:.0f} ms, "
        f"{posted / total:.0f} pings/s; store {store_size(url, runtime.engine)}",
        flush=True,
    )
    runtime.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    fake = FakeSlack()
    try:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{folder}/bench.db", "sqlite", args.tickets, args.batch, fake)
        pg = bench_postgres_url()
        if pg:
            measure(pg, "postgresql", args.tickets, args.batch, fake)
    finally:
        fake.close()


if __name__ == "__main__":
    main()
