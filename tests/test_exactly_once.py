"""Exactly once when Slack is slow: two scheduler processes on one PostgreSQL database.

Slack answers chat.postMessage in 30-50 ms, and 5% of calls in 0.8 s (under the client's 1 s
timeout); a lease is 6 s. Scaled down ten times from the production failure (0.3-0.5 s, 5% at 8 s,
60 s leases), so that a batch of 200 rows would outlive its lease as it did there.
"""

from __future__ import annotations

import signal
import time
from collections import Counter

import pendulum
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.models import Ping, PingState, Ticket
from tests.fake_slack import FakeSlack, Latency
from tests.helpers import load_ticket, posted_ping_ids, scheduler, seed

NOW = pendulum.parse("2026-11-30T12:00:00+01:00")
SLOW_SLACK = {"WORKER_LEASE_SECONDS": "6", "SLACK_TIMEOUT_SECONDS": "1", "WORKER_BATCH": "200"}
TICKETS = 240


def critical_tickets_with_due_pings(engine: Engine, count: int) -> set[int]:
    """Critical tickets whose card is posted, each with one due ping (a thread warning or a breach
    alert): every ping must be posted, exactly once."""
    seed(engine)
    with session_scope(engine) as session:
        rows = [
            Ticket(
                **load_ticket(
                    n,
                    NOW.subtract(minutes=40),
                    NOW.subtract(minutes=10),
                    klass="critical",
                    critical_reason="cloud_unreachable",
                    business_time=False,
                    card_ts=f"1700000000.{n:06d}",
                    filer_channel="CPARTNER",
                    filer_thread_ts=f"1700000001.{n:06d}",
                )
            )
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        pings = [
            Ping(
                ticket_id=t.id or 0,
                kind="warning" if n % 2 else "breach",
                planned_at=NOW.subtract(minutes=10),
                next_attempt_at=NOW.subtract(minutes=10),
            )
            for n, t in enumerate(rows)
        ]
        session.add_all(pings)
        session.flush()
        return {p.id or 0 for p in pings}


def wait_until_all_sent(engine: Engine, expected: int, timeout: float = 120) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine) as session:
            states = Counter(p.state for p in session.exec(select(Ping)))
        if states[PingState.SENT] >= expected or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


@pytest.fixture
def slow_slack(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.reset()
    fake_slack.latencies["chat.postMessage"] = Latency(0.03, 0.05, slow_share=0.05, slow=0.8)
    return fake_slack


def run_two(engine: Engine, fake: FakeSlack, clocks: tuple[str, str], kill_first_after: int = 0) -> set[int]:
    from tests.conftest import PG_URL

    expected = critical_tickets_with_due_pings(engine, TICKETS)
    workers = [scheduler(PG_URL or "", fake, clock, once=False, **SLOW_SLACK) for clock in clocks]
    try:
        if kill_first_after:
            deadline = time.monotonic() + 60
            while len(posted_ping_ids(fake)) < kill_first_after and time.monotonic() < deadline:
                time.sleep(0.01)
            workers[0].send_signal(signal.SIGKILL)  # mid-batch: it holds rows it has not posted
            workers[0].wait(timeout=10)
        states = wait_until_all_sent(engine, len(expected))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    assert states == {PingState.SENT: len(expected)}, states
    return expected


def assert_exactly_once(fake: FakeSlack, expected: set[int]) -> None:
    posted = posted_ping_ids(fake)
    duplicates = {ping: n for ping, n in posted.items() if n > 1}
    missing = expected - set(posted)
    assert (len(duplicates), len(missing)) == (0, 0), f"duplicates {duplicates}, missing {missing}"


def test_two_schedulers_and_a_slow_slack_post_every_ping_once(
    pg_engine: Engine, slow_slack: FakeSlack
) -> None:
    expected = run_two(pg_engine, slow_slack, (NOW.isoformat(), NOW.isoformat()))
    assert_exactly_once(slow_slack, expected)


def test_clocks_two_minutes_apart_change_nothing(pg_engine: Engine, slow_slack: FakeSlack) -> None:
    expected = run_two(pg_engine, slow_slack, (NOW.isoformat(), NOW.add(minutes=2).isoformat()))
    assert_exactly_once(slow_slack, expected)


def test_one_scheduler_killed_mid_batch_loses_and_doubles_nothing(
    pg_engine: Engine,
    slow_slack: FakeSlack,
) -> None:
    expected = run_two(pg_engine, slow_slack, (NOW.isoformat(), NOW.isoformat()), kill_first_after=60)
    assert_exactly_once(slow_slack, expected)
