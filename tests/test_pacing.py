"""Slack's pace: about one message a second per channel, kept in the store for every process; a 429
holds the whole channel; a burst of incident links costs a few updates of its message, not one each."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from storage import pace
from storage.db import session_scope
from storage.models import Incident
from storage.pings import owe
from storage.vocabulary import PingKind
from tests.fake_slack import FakeSlack
from tests.helpers import Desk, add_companies, file, filed, tickets

# Slack's one second scaled down, so the tests take less time; the fake's limit is scaled alike. The
# margin is wider than in production (1.1 s for Slack's 1 s): here the fake times arrivals in the same
# busy process as the app, beside CI's other tests.
GAP = 0.5
FAKE_LIMIT = 0.25


def assert_paced(fake: FakeSlack, channel: str) -> None:
    """Every message the bot sent the channel (refused ones too) came a gap after the one before: the
    median interval is the gap (timer slop aside). One interval may be shorter where a busy machine
    stalled a thread between its turn and its post (the late post pushes the next one closer); Slack's
    429 then is honoured and the message sent again, so a few of them may be seen, never many:
    unpaced, nearly every message of these bursts gets one."""
    posts = [c for c in fake.calls if c.method in ("chat.postMessage", "chat.update")]
    times = [c.at for c in posts if c.params.get("channel") == channel]
    intervals = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert intervals and statistics.median(intervals) >= GAP * 0.9, intervals
    assert fake.rate_limited <= max(1, len(times) // 4), (fake.rate_limited, intervals)


@pytest.fixture
def paced(served: Callable[..., Desk]) -> Desk:
    running = served(channel_pace_seconds=GAP)
    running.fake.pace_per_channel = FAKE_LIMIT  # 429 to a second message within that time
    return running


def run_worker_until(desk: Desk, done: object, timeout: float = 20.0) -> None:
    """Tick after tick, the desk's clock moving with the real one (retry waits are on it)."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        desk.clock.set(desk.clock() + timedelta(seconds=0.25))
        desk.tick()
        time.sleep(0.05)


def accepted_at(fake: FakeSlack, channel: str) -> list[float]:
    return [
        c.at
        for c in fake.calls
        if c.method == "chat.postMessage" and c.params.get("channel") == channel and c.params.get("thread_ts")
    ]


@pytest.mark.heavy
def test_posts_to_one_channel_keep_slacks_pace(paced: Desk) -> None:
    ticket = filed(paced)
    with session_scope(paced.engine) as session:
        for number in range(5):
            owe(session, ticket.id or 0, PingKind.NOTICE, paced.clock(), text=f"notice {number}")
    run_worker_until(paced, lambda: len(paced.fake.delivered("CPARTNER")) >= 6)
    notices = [m["text"] for m in paced.fake.delivered("CPARTNER") if m.get("thread_ts")]
    assert notices == [f"notice {n}" for n in range(5)]
    assert_paced(paced.fake, "CPARTNER")
    times = accepted_at(paced.fake, "CPARTNER")
    assert times[-1] - times[0] >= 4 * GAP * 0.9  # spread out at the pace, not sent as a burst


@pytest.mark.heavy
def test_a_429_holds_the_whole_channel_for_its_retry_after(paced: Desk) -> None:
    ticket = filed(paced)
    paced.fake.pace_per_channel = 0.0
    paced.fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=1)
    with session_scope(paced.engine) as session:
        for number in range(2):
            owe(session, ticket.id or 0, PingKind.NOTICE, paced.clock(), text=f"notice {number}")
    refused_at = time.monotonic()
    run_worker_until(paced, lambda: len(paced.fake.delivered("CPARTNER")) >= 3)
    times = [t for t in accepted_at(paced.fake, "CPARTNER") if t > refused_at]
    assert len(times) == 3  # the refused attempt, then both notices
    assert times[1] - times[0] >= 0.95  # nobody posted to the channel before Retry-After had passed


def test_turns_are_shared_by_every_process(engine: Engine) -> None:
    """Eight threads with their own transactions (as processes would) take turns of one channel:
    no two turns closer than the gap."""
    start = datetime.now(UTC)
    turns: list[datetime] = []
    lock = threading.Lock()

    def take() -> None:
        with session_scope(engine) as session:
            turn = pace.take_turn(session, "CTECH", start, GAP, longest_wait=60)
        with lock:
            turns.append(start + timedelta(seconds=turn.wait))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    turns.sort()
    assert len(turns) == 8 and turns[0] == start
    assert all((b - a).total_seconds() >= GAP - 1e-6 for a, b in zip(turns, turns[1:], strict=False))
    with session_scope(engine) as session:  # a turn further off than the caller waits is not taken
        assert pace.take_turn(session, "CTECH", start, GAP, longest_wait=1.5).taken is False


@pytest.mark.heavy  # ten filings at Slack's pace: CI runs it
def test_a_burst_of_links_costs_a_few_updates_of_the_incident_message(paced: Desk) -> None:
    users = add_companies(paced.engine, 10)
    started = time.monotonic()
    for number, user in enumerate(users):
        critical = {"class": "critical", "critical_reason": "cloud_unreachable"}
        file(paced, "tech", user, view_id=f"VSTORM{number}", **critical)
    paced.settle()

    def incident() -> Incident | None:
        with session_scope(paced.engine) as session:
            return session.get(Incident, 1)

    def shows_all() -> bool:
        found = incident()
        messages = paced.fake.delivered("CTECH")
        shown = [m for m in messages if found and m["ts"] == found.message_ts]
        return bool(shown) and "10 tickets from 10 companies" in shown[0]["text"]

    run_worker_until(paced, shows_all)
    elapsed = time.monotonic() - started
    found = incident()
    assert found is not None and shows_all()
    updates = [u for u in paced.fake.calls_to("chat.update") if u.get("ts") == found.message_ts]
    assert len(updates) <= elapsed / GAP + 1  # at most one a turn, each with the latest state
    assert_paced(paced.fake, "CTECH")
    assert len([t for t in tickets(paced) if t.incident_id == 1]) == 10
    shown = (
        updates[-1]["blocks"]
        if updates
        else [m for m in paced.fake.delivered("CTECH") if m["ts"] == found.message_ts][0]["blocks"]
    )
    assert json.dumps(shown).count("Partner 0") == 10
