"""Deadline pings: planned from the SLA clock, posted exactly once, late but never lost."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pendulum
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import make_engine, migrate, session_scope
from storage.models import Ping, PingKind, PingState, Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import (
    PG_URL,
    Desk,
    _fresh_postgres,
    at,
    blocks_of,
    bulk_due_pings,
    deadline_posts,
    file,
    file_without_card,
    filed,
    pings,
    posted_ping_ids,
    reply,
    scheduler,
    start_desk,
)

ROOT = Path(__file__).resolve().parent.parent


def test_friday_standard_ticket_warns_at_1730_and_1748_breaches_at_1800(desk: Desk) -> None:
    desk.at("2026-11-27T17:00:00+01:00")
    ticket = filed(desk)
    planned = pings(desk.engine)
    assert planned[("warning", 0)].planned_at == pendulum.parse("2026-11-27T17:30:00+01:00")
    assert planned[("warning", 1)].planned_at == pendulum.parse("2026-11-27T17:48:00+01:00")
    assert planned[("breach", 0)].planned_at == pendulum.parse("2026-11-27T18:00:00+01:00")
    at(desk, "2026-11-27T17:29:59+01:00")
    assert deadline_posts(desk.fake) == []
    at(desk, "2026-11-27T17:30:00+01:00")
    at(desk, "2026-11-27T17:30:05+01:00")
    [(channel, text)] = deadline_posts(desk.fake)
    assert channel == "CTECH" and "50%" in text
    warning = desk.fake.delivered("CTECH")[-1]
    assert warning["thread_ts"] == ticket.card_ts  # in the card's thread
    at(desk, "2026-11-27T17:48:00+01:00")
    at(desk, "2026-11-27T18:00:00+01:00")
    at(desk, "2026-11-27T18:00:30+01:00")
    posts = deadline_posts(desk.fake)
    assert [("80%" in t, ":rotating_light:" in t) for _, t in posts] == [
        (False, False),
        (True, False),
        (False, True),
    ]
    breach = desk.fake.delivered("CTECH")[-1]
    assert breach["thread_ts"] is None and "<@UAGENT1>" in breach["text"]  # in the channel, the lead named
    assert all(not p.late for p in pings(desk.engine).values() if p.state == PingState.SENT)
    # escalations: every business hour after the breach, Monday 10:00, 11:00, 12:00
    at(desk, "2026-11-30T09:59:00+01:00")
    assert len(deadline_posts(desk.fake)) == 3
    for hour in ("10", "11", "12", "13"):
        at(desk, f"2026-11-30T{hour}:00:00+01:00")
    escalations = [t for _, t in deadline_posts(desk.fake) if ":fire:" in t]
    assert len(escalations) == 3 and "Escalation 3" in escalations[-1]


def test_saturday_ticket_gets_its_pings_on_monday(desk: Desk) -> None:
    desk.at("2026-11-28T11:00:00+01:00")
    filed(desk)
    at(desk, "2026-11-30T13:29:00+01:00")
    assert deadline_posts(desk.fake) == []
    at(desk, "2026-11-30T13:30:00+01:00")
    at(desk, "2026-11-30T16:12:00+01:00")
    at(desk, "2026-11-30T18:00:00+01:00")
    assert len(deadline_posts(desk.fake)) == 3


def test_first_response_drops_the_remaining_pings(desk: Desk) -> None:
    desk.at("2026-11-27T17:00:00+01:00")
    filed(desk)
    at(desk, "2026-11-27T17:31:00+01:00")
    reply(desk, "claim T-1", "UAGENT2")
    at(desk, "2026-11-30T18:00:00+01:00")
    assert len(deadline_posts(desk.fake)) == 1
    states = Counter(p.state for (kind, _), p in pings(desk.engine).items() if kind != "card")
    assert states[PingState.DROPPED] >= 4


def test_bot_down_for_a_weekend_posts_only_the_most_advanced_ping_once(desk: Desk) -> None:
    desk.at("2026-11-27T17:00:00+01:00")
    filed(desk, view_id="VLATE")
    filed(desk, view_id="VANSWERED")
    reply(desk, "claim T-2", "UAGENT1")  # answered before anything fell due
    at(desk, "2026-11-30T10:30:00+01:00")  # the first tick after the weekend
    at(desk, "2026-11-30T10:30:10+01:00")
    posts = deadline_posts(desk.fake)
    # two warnings, the breach and the first escalation fell due: only the escalation goes out
    [(channel, text)] = posts
    assert channel == "CTECH" and "Escalation 1" in text and "T-1" in text
    assert "posted late" in text and "3 earlier reminders" in text and "offline" not in text
    states = {key: p.state for key, p in pings(desk.engine, 1).items() if key[0] != "card"}
    assert states[("escalation", 1)] == PingState.SENT and pings(desk.engine, 1)[("escalation", 1)].late
    assert [states[k] for k in [("warning", 0), ("warning", 1), ("breach", 0)]] == [PingState.DROPPED] * 3
    assert not [
        p for p in pings(desk.engine, 2).values() if p.kind == "warning" and p.state == PingState.SENT
    ]


def test_slack_429_then_200_and_500_for_a_while(desk: Desk) -> None:
    desk.at("2026-11-27T17:00:00+01:00")
    filed(desk)
    desk.fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after=2)
    at(desk, "2026-11-27T17:30:00+01:00")
    assert deadline_posts(desk.fake) == []
    at(desk, "2026-11-27T17:30:03+01:00")
    assert len(deadline_posts(desk.fake)) == 1
    desk.fake.outage("chat.postMessage", 3600)
    for minute in range(48, 70, 2):
        at(
            desk,
            f"2026-11-27T17:{minute:02d}:00+01:00"
            if minute < 60
            else f"2026-11-27T18:{minute - 60:02d}:00+01:00",
        )
    assert len(deadline_posts(desk.fake)) == 1
    desk.fake.recover()
    at(desk, "2026-11-27T19:00:00+01:00")
    at(desk, "2026-11-27T19:30:00+01:00")
    posts = deadline_posts(desk.fake)
    # the 80% warning fell due during the outage, then the breach: the breach alone stands for both
    assert len(posts) == 2 and ":rotating_light:" in posts[1][1]
    assert "Slack did not accept it in time" in posts[1][1] and "1 earlier reminder" in posts[1][1]


def test_unreachable_queue_channel_is_reported_to_the_lead_once(desk: Desk) -> None:
    desk.fake.channel_errors["CTECH"] = "not_in_channel"
    desk.at("2026-11-27T17:00:00+01:00")
    filed_ticket = file_without_card(desk)
    file(desk, "tech", "UALICE", view_id="VSECOND")  # a second ticket in the same broken channel
    desk.settle()
    at(desk, "2026-11-27T17:30:00+01:00")
    at(desk, "2026-11-27T18:00:00+01:00")
    alerts = [m for m in desk.fake.delivered("DAGENT1") if "could not post" in (m["text"] or "")]
    assert len(alerts) == 1 and "not_in_channel" in alerts[0]["text"]
    with session_scope(desk.engine) as session:
        ticket = session.get(Ticket, filed_ticket)
        assert ticket is not None and "not_in_channel" in (ticket.slack_error or "")


# --- several processes, and a process killed mid-post ---------------------------------------------------


def test_four_workers_on_postgresql_post_2000_pings_exactly_once(
    pg_engine: Engine, fake_slack: FakeSlack
) -> None:
    fake_slack.reset()
    now = pendulum.parse("2026-11-30T12:00:00+01:00")
    total = bulk_due_pings(pg_engine, 500, now)
    workers = [scheduler(PG_URL or "", fake_slack, now.isoformat()) for _ in range(4)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    ids = posted_ping_ids(fake_slack)
    assert len(ids) == total and set(ids.values()) == {1}
    shares = [int(out.strip().splitlines()[-1].split()[-1]) for out in outputs]
    assert sum(shares) == total and sum(1 for s in shares if s > 0) >= 2  # the work was shared
    with session_scope(pg_engine) as session:
        states = Counter(p.state for p in session.exec(select(Ping)))
    assert states == {PingState.SENT: total}


@pytest.mark.heavy
def test_worker_killed_while_posting_loses_and_doubles_nothing(db_url: str, fake_slack: FakeSlack) -> None:
    if db_url.startswith("postgresql"):
        _fresh_postgres(db_url)
    engine = make_engine(db_url)
    migrate(engine)
    fake_slack.reset()
    now = pendulum.parse("2026-11-30T12:00:00+01:00")
    total = bulk_due_pings(engine, 20, now)
    fake_slack.delay = 0.02
    short = {"WORKER_LEASE_SECONDS": "2", "SLACK_TIMEOUT_SECONDS": "1"}
    try:
        victim = scheduler(db_url, fake_slack, now.isoformat(), once=False, **short)
        deadline = time.monotonic() + 60
        while len(posted_ping_ids(fake_slack)) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert 0 < len(posted_ping_ids(fake_slack)) < total
        # after the lease ran out (on the store's clock), a new process finishes the job: it looks
        # in Slack before posting what the dead one held
        time.sleep(2.1)
        survivor = scheduler(db_url, fake_slack, now.isoformat(), **short)
        assert survivor.wait(timeout=120) == 0
    finally:
        fake_slack.delay = 0.0
    ids = posted_ping_ids(fake_slack)
    assert len(ids) == total and set(ids.values()) == {1}
    with session_scope(engine) as session:
        assert {p.state for p in session.exec(select(Ping))} == {PingState.SENT}
    engine.dispose()


def test_serve_runs_the_worker_in_process(sqlite_url: str, fake_slack: FakeSlack) -> None:
    desk = start_desk(
        sqlite_url,
        fake_slack,
        when="2026-11-27T17:00:00+01:00",
        worker_enabled=True,
        worker_interval_seconds=0.1,
    )
    try:
        from bot.worker import Worker

        worker = Worker(desk.runtime.deliverer, 0.1)
        worker.start_in_thread()
        filed(desk)
        desk.at("2026-11-27T17:30:00+01:00")
        deadline = time.monotonic() + 10
        while not deadline_posts(fake_slack) and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.stop()
        assert len(deadline_posts(fake_slack)) == 1
        kinds = {k for (k, _), p in pings(desk.engine).items() if p.state == PingState.SENT}
        assert {PingKind.CARD, PingKind.CONFIRMATION, PingKind.WARNING} <= kinds
    finally:
        desk.close()
        desk.engine.dispose()


def test_class_change_replans_from_the_filing_time(desk: Desk) -> None:
    desk.at("2026-11-27T17:00:00+01:00")
    filed(desk)
    at(desk, "2026-11-27T17:31:00+01:00")
    assert len(deadline_posts(desk.fake)) == 1  # the 50% warning of the standard window
    assert "Only support agents" in reply(desk, "class T-1 critical call_drops", "UALICE")
    assert "Usage" in reply(desk, "class T-1 critical", "UAGENT1")
    answer = reply(desk, "class T-1 critical call_drops", "UAGENT1")
    # due 30 min after the filing: already past, so nobody is promised 17:30
    assert answer == "T-1 is now critical; first response due now: it is overdue (due 17:30 CET today)."
    with session_scope(desk.engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None and ticket.klass == "critical"
        assert ticket.due_at == pendulum.parse("2026-11-27T17:30:00+01:00")  # 30 min from the filing
    with session_scope(desk.engine) as session:
        rows = {(p.plan, p.kind, p.seq): p for p in session.exec(select(Ping).where(Ping.ticket_id == 1))}
    assert rows[(0, "warning", 0)].state == PingState.SENT  # what was posted is kept
    assert rows[(0, "breach", 0)].state == PingState.DROPPED  # the old window's breach never comes
    assert rows[(1, "breach", 0)].planned_at == pendulum.parse("2026-11-27T17:31:00+01:00")  # at once
    assert not [key for key in rows if key[0] == 1 and key[1] == "warning"]  # no stale warnings
    at(desk, "2026-11-27T17:31:05+01:00")
    posts = deadline_posts(desk.fake)
    assert len(posts) == 2 and ":rotating_light:" in posts[1][1] and "late" not in posts[1][1]
    notice = desk.fake.wait_for("chat.postMessage", 1, thread_ts=filed_thread(desk))
    assert any("overdue" in n["text"] for n in notice)
    assert reply(desk, "class T-1 critical call_drops", "UAGENT1") == "T-1 is already critical."


def filed_thread(desk: Desk) -> str | None:
    with session_scope(desk.engine) as session:
        ticket = session.get(Ticket, 1)
        return ticket.filer_thread_ts if ticket else None


def test_class_change_to_standard_plans_the_new_windows_pings(desk: Desk) -> None:
    """Critical at 10:00, bot away until 10:40, then made Standard: warnings and breach of the new
    window (due 18:00) come on time; nothing of the old window is posted."""
    desk.at("2026-11-24T10:00:00+01:00")
    filed(desk, **{"class": "critical", "critical_reason": "call_drops"})
    desk.at("2026-11-24T10:40:00+01:00")
    assert "first response due by 18:00 CET today" in reply(desk, "class T-1 standard", "UAGENT1")
    at(desk, "2026-11-24T10:40:05+01:00")
    assert deadline_posts(desk.fake) == []  # the critical window's pings are gone
    at(desk, "2026-11-24T14:00:00+01:00")  # 50% of 10:00-18:00
    at(desk, "2026-11-24T16:24:00+01:00")  # 80%
    at(desk, "2026-11-24T18:00:00+01:00")
    posts = [text for _, text in deadline_posts(desk.fake)]
    assert len(posts) == 3 and "50%" in posts[0] and "80%" in posts[1] and ":rotating_light:" in posts[2]
    assert not any("late" in text for text in posts)


def test_made_critical_after_the_new_due_time_tells_overdue_and_alerts_at_once(desk: Desk) -> None:
    desk.at("2026-11-24T10:00:00+01:00")
    filed(desk)
    desk.at("2026-11-24T10:40:00+01:00")
    answer = reply(desk, "class T-1 critical cloud_unreachable", "UAGENT1")
    assert "overdue" in answer and "by 10:30" not in answer
    at(desk, "2026-11-24T10:40:01+01:00")
    [(_, breach)] = deadline_posts(desk.fake)
    assert ":rotating_light:" in breach and "late" not in breach
    at(desk, "2026-11-24T11:30:00+01:00")  # one business hour after the due time
    posts = deadline_posts(desk.fake)
    assert len(posts) == 2 and "Escalation 1" in posts[1][1] and "late" not in posts[1][1]


def test_reopened_ticket_keeps_its_verdict_and_heads_the_queue(desk: Desk) -> None:
    desk.at("2026-11-24T10:00:00+01:00")
    filed(desk, view_id="VOLD")
    filed(desk, view_id="VNEW")
    reply(desk, "claim T-1", "UAGENT1")
    reply(desk, "resolve T-1 fixed the trunk", "UAGENT1")
    desk.at("2026-11-24T11:00:00+01:00")
    assert reply(desk, "reopen T-1", "UALICE") == "T-1 is open again."
    _, blocks = blocks_of(desk, "queue", "UAGENT2")
    rows = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert rows[0].startswith(":arrows_counterclockwise: reopened · *") and "|T-1>*" in rows[0]
    assert "|T-2>*" in rows[1]
    at(desk, "2026-11-24T18:30:00+01:00")
    assert [t for _, t in deadline_posts(desk.fake) if "T-1" in t] == []  # no new deadline for T-1
