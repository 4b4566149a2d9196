"""Promises under a slow Slack (part two), over signed HTTP against the fake Slack: no Slack call under
a write lock, look-before-resend where a message really went, one alert per key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pendulum
import pytest
import requests
from sqlalchemy.engine import Engine
from sqlmodel import select

from handlers.ui import tickets as views
from storage import pings as ping_store
from storage.db import session_scope
from storage.models import Ping, PingKind, Ticket
from tests.fake_slack import FakeSlack, Latency
from tests.helpers import Desk, add_companies, file, filed, load_ticket, reply, seed, tickets
from tests.test_acks import tech_form_submission


@pytest.fixture
def impatient(served: Callable[..., Desk]) -> Desk:
    """A desk whose Slack client gives up after 1 s: an answer slower than that is lost."""
    return served(slack_timeout_seconds=1, worker_lease_seconds=10)


def partner_threads(desk: Desk, count: int) -> list[tuple[str, str]]:
    """Open tickets of `count` partner members, each with its partner thread: (user, thread ts)."""
    now = desk.clock()
    threads = [(f"UP{n:03d}", f"1795510000.{n:06d}") for n in range(1, count + 1)]
    add_companies(desk.engine, count)
    with session_scope(desk.engine) as session:
        session.add_all(
            Ticket(
                **load_ticket(
                    n,
                    now,
                    now.add(hours=6),
                    card_ts=f"1700000000.{n:06d}",
                    filer_user_id=user,
                    filer_channel="CPARTNER",
                    filer_thread_ts=thread_ts,
                )
            )
            for n, (user, thread_ts) in enumerate(threads, start=1)
        )
    return threads


@pytest.mark.heavy  # seconds of a slow Slack: CI runs it
def test_slow_name_lookups_never_hold_the_write_lock_against_a_form(desk: Desk) -> None:
    """users.info answering in 2 s, 20 partner messages from authors not cached yet, and a form in the
    middle: the form files at once (no "busy"), and every request is acknowledged within 3 s."""
    threads = partner_threads(desk, 20)
    desk.fake.latencies["users.info"] = Latency(2.0, 2.0)

    def message(n: int, user: str, thread_ts: str) -> requests.Response:
        event = {
            "type": "message",
            "channel": "CPARTNER",
            "user": user,
            "text": f"Any news? ({n})",
            "ts": f"1795520000.{n:06d}",
            "thread_ts": thread_ts,
        }
        return desk.slack.event(event)

    timings: list[tuple[str, float, requests.Response]] = []
    lock = threading.Lock()

    def timed(label: str, send: object) -> None:
        started = time.monotonic()
        response = send()  # type: ignore[operator]
        with lock:
            timings.append((label, time.monotonic() - started, response))

    with ThreadPoolExecutor(max_workers=24) as pool:
        for n, (user, thread_ts) in enumerate(threads[:10], start=1):
            pool.submit(timed, "message", lambda n=n, u=user, t=thread_ts: message(n, u, t))
        time.sleep(0.3)  # the first lookups are under way
        form = tech_form_submission()
        pool.submit(timed, "form", lambda: desk.slack.view_submission(form, "UALICE", view_id="VMID"))
        for n, (user, thread_ts) in enumerate(threads[10:], start=11):
            pool.submit(timed, "message", lambda n=n, u=user, t=thread_ts: message(n, u, t))
    desk.settle(60)
    assert len(timings) == 21 and all(r.status_code == 200 for _, _, r in timings)
    slowest = max(seconds for _, seconds, _ in timings)
    assert slowest < 3.0, f"an ack took {slowest:.2f} s"
    [(_, _, form_answer)] = [t for t in timings if t[0] == "form"]
    assert not form_answer.content or "errors" not in form_answer.json(), form_answer.text
    assert [t.submission_key for t in tickets(desk)].count("VMID") == 1
    with session_scope(desk.engine) as session:
        copied = session.exec(select(Ping).where(Ping.kind == PingKind.TO_CARD.value)).all()
    assert len(copied) == 20  # every message carried over, names or not


def _lose_answers_then_retry(desk: Desk, when: str) -> None:
    """Slack made the posts but their answers never arrived (the client gave up); later the worker
    tries again with Slack answering promptly."""
    desk.settle()
    desk.fake.hang_after.clear()
    desk.at(when)
    desk.tick()


@pytest.mark.heavy  # Slack's lost answers cost seconds: CI runs it
def test_a_page_whose_answer_was_lost_is_posted_once(impatient: Desk) -> None:
    desk = impatient
    desk.at("2026-11-24T22:00:00+01:00")  # after hours: a Critical pages the on-call (here the lead)
    desk.fake.hang_after["chat.postMessage"] = 1.5
    file(desk, "tech", "UALICE", **{"class": "critical", "critical_reason": "cloud_unreachable"})
    _lose_answers_then_retry(desk, "2026-11-24T22:10:00+01:00")
    pages = [m for m in desk.fake.delivered("DAGENT1") if ":pager:" in (m["text"] or "")]
    assert len(pages) == 1, [m["text"] for m in desk.fake.delivered("DAGENT1")]
    with session_scope(desk.engine) as session:
        page = session.exec(select(Ping).where(Ping.kind == PingKind.PAGE.value)).one()
        assert page.state == "sent" and page.channel == "DAGENT1" and page.attempts >= 2
    assert desk.fake.calls_to("conversations.history")  # it looked, where the page went


@pytest.mark.heavy  # Slack's lost answers cost seconds: CI runs it
def test_a_reassign_dm_whose_answer_was_lost_is_posted_once(impatient: Desk) -> None:
    desk = impatient
    filed(desk)
    desk.fake.hang_after["chat.postMessage"] = 1.5
    assert reply(desk, "reassign T-1 <@UAGENT2>", "UAGENT1") == "T-1 is now with <@UAGENT2>."
    _lose_answers_then_retry(desk, "2026-11-24T10:10:00+01:00")
    told = [m for m in desk.fake.delivered("DAGENT2") if "handed *T-1* to you" in (m["text"] or "")]
    assert len(told) == 1


@pytest.mark.heavy  # Slack's lost answers cost seconds: CI runs it
def test_a_card_is_found_behind_300_newer_messages_and_not_posted_again(impatient: Desk) -> None:
    desk = impatient
    desk.fake.hang_after["chat.postMessage"] = 1.5
    file(desk, "tech", "UALICE")
    desk.settle()
    for n in range(300):  # a busy queue channel: the card is on the second page of its history
        desk.fake.messages["CTECH"].append(
            {"type": "message", "user": "USOMEONE", "ts": f"1900000000.{n:06d}", "text": "chatter"}
        )
    _lose_answers_then_retry(desk, "2026-11-24T10:10:00+01:00")
    cards = [m for m in desk.fake.delivered("CTECH") if (m["text"] or "").startswith("T-1 (Technical")]
    assert len(cards) == 1
    pages_read = [c for c in desk.fake.calls_to("conversations.history") if c.get("channel") == "CTECH"]
    assert len(pages_read) >= 2
    assert tickets(desk)[0].card_ts == cards[0]["ts"]


def test_two_processes_failing_in_one_channel_at_once_alert_the_lead_once(engine: Engine) -> None:
    """Two tickets' posts fail in the same channel in two transactions at the same moment."""
    seed(engine)
    now = pendulum.parse("2026-11-24T10:00:00+01:00")
    with session_scope(engine) as session:
        rows = [Ticket(**load_ticket(n, now, now.add(hours=6))) for n in (1, 2)]
        session.add_all(rows)
        session.flush()
        ids = [t.id or 0 for t in rows]
    barrier = threading.Barrier(2)

    def alert(ticket_id: int) -> bool:
        with session_scope(engine) as session:
            barrier.wait(timeout=5)
            return ping_store.owe_lead_alert(session, ticket_id, "CTECH", "not_in_channel", "text", now)

    with ThreadPoolExecutor(max_workers=2) as pool:
        owed = list(pool.map(alert, ids))
    assert sorted(owed) == [False, True]
    with session_scope(engine) as session:
        alerts = session.exec(select(Ping).where(Ping.kind == PingKind.LEAD_ALERT.value)).all()
    assert len(alerts) == 1


@pytest.mark.heavy  # seconds of a slow Slack: CI runs it
def test_forms_open_within_their_trigger_while_deliveries_crowd_the_after_ack_pool(desk: Desk) -> None:
    """20 Resolve and incident Update presses at once, beside 20 Claim presses whose after-ack work
    (replies and deliveries) fills the pool, Slack at 0.5 s a call: every views.open reaches Slack
    within 2.5 s of its press (a trigger lasts 3 s)."""
    from handlers.ui import incidents as incident_views
    from storage.models import Incident
    from tests.slack_requests import button_payload
    from tests.test_acks import open_tickets

    open_tickets(desk, 40)
    now = desk.clock()
    with session_scope(desk.engine) as session:
        session.add(
            Incident(
                desk="cet", queue="tech", reason="cloud_unreachable", opened_at=now,
                due_at=now.add(minutes=30), queue_channel="CTECH", open_key="cet:cloud_unreachable",
                message_ts="1700000009.000001",
            )
        )  # fmt: skip
    desk.fake.delay = 0.5
    presses = []
    for n in range(1, 21):
        presses.append((views.CLAIM_ACTION, f"T-{n + 20}", f"claim.{n}"))
        if n % 2:
            presses.append((views.RESOLVE_ACTION, f"T-{n}", f"form.{n}"))
        else:
            presses.append((incident_views.UPDATE_ACTION, "I-1", f"form.{n}"))
    pressed_at: dict[str, float] = {}

    def press(action: str, value: str, trigger: str) -> int:
        payload = {**button_payload(action, value, "UAGENT1"), "trigger_id": trigger}
        pressed_at[trigger] = time.monotonic()
        return desk.slack.interaction(payload).status_code

    with ThreadPoolExecutor(max_workers=len(presses)) as pool:
        assert set(pool.map(lambda p: press(*p), presses)) == {200}
    desk.fake.wait_for("views.open", 20, timeout=15)
    with desk.fake._lock:
        opened = {c.params["trigger_id"]: c.at for c in desk.fake.calls if c.method == "views.open"}
    assert len(opened) == 20
    late = {t: round(at - pressed_at[t], 2) for t, at in opened.items() if at - pressed_at[t] > 2.5}
    assert not late, late
    desk.settle(60)


def due_warnings(engine: Engine, count: int, now: pendulum.DateTime) -> None:
    """`count` open tickets with a card, each with a warning that fell due five minutes ago."""
    with session_scope(engine) as session:
        rows = [
            Ticket(**load_ticket(n, now.subtract(hours=3), now.add(hours=3), card_ts=f"1700000000.{n:06d}"))
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        due = now.subtract(minutes=5)
        session.add_all(
            Ping(ticket_id=t.id or 0, kind="warning", planned_at=due, next_attempt_at=due) for t in rows
        )


def test_a_direct_message_is_answered_within_a_second_whatever_else_is_due(desk: Desk) -> None:
    """Forty older pings are due (the worker has not come round yet): the DM's answer does not wait
    behind them, nor for the next tick."""
    due_warnings(desk.engine, 40, desk.clock())
    desk.fake.delay = 0.1
    event = {"type": "message", "channel_type": "im", "channel": "DALICE", "user": "UALICE", "text": "hi"}
    started = time.monotonic()
    assert desk.slack.event({**event, "ts": "1795510001.000100"}).status_code == 200
    answered = desk.fake.wait_for("chat.postMessage", 1, timeout=5, channel="DALICE")
    assert answered
    with desk.fake._lock:
        [at] = [
            c.at
            for c in desk.fake.calls
            if c.method == "chat.postMessage" and c.params["channel"] == "DALICE"
        ]
    assert at - started < 1.0
    desk.settle()


@pytest.mark.heavy  # seconds of a slow Slack: CI runs it
def test_a_batch_longer_than_its_lease_keeps_every_row(sqlite_url: str, fake_slack: FakeSlack) -> None:
    """WORKER_BATCH rows are claimed at once whatever the lease; with Slack at 0.3 s a call, 20 posts
    take 6 s, longer than the 4 s lease: the leases of the rows still waiting are renewed, so one
    round posts them all, once each."""
    from bot.clock import SettableClock
    from bot.runtime import build_runtime
    from tests.helpers import make_settings, posted_ping_ids

    fake_slack.reset()
    settings = make_settings(
        sqlite_url, fake_slack.url, worker_batch=20, worker_lease_seconds=4, slack_timeout_seconds=2
    )
    real_now = pendulum.now("UTC")
    runtime = build_runtime(settings, SettableClock(real_now), store_clock=True)
    seed(runtime.engine)
    due_warnings(runtime.engine, 20, real_now)
    assert runtime.deliverer.claim_size == 20
    fake_slack.delay = 0.3
    try:
        assert runtime.deliverer.deliver_due() == 20
        posted = posted_ping_ids(fake_slack)
        assert len(posted) == 20 and set(posted.values()) == {1}
    finally:
        fake_slack.delay = 0
        runtime.engine.dispose()


def test_auth_test_failing_at_start_is_asked_again_until_it_answers(desk: Desk) -> None:
    """Slack away at start: nothing is refused meanwhile, and the workspace check and the bot's own
    user id come once auth.test answers (not at the next restart)."""
    from bot.worker import until_known

    runtime = desk.runtime
    runtime.team_id = runtime.bot_user_id = ""
    desk.fake.fail("auth.test", times=3)
    stop = threading.Event()
    try:
        thread = until_known(runtime, 0.05, stop)
        assert thread is not None and not runtime.identity_known
        assert reply(desk, "help", "UALICE")  # served meanwhile
        thread.join(timeout=5)
        assert runtime.identity_known and runtime.team_id == "T0TEAM" and runtime.bot_user_id == "UBOTSLADESK"
        assert runtime.identity_failures == 3
    finally:
        stop.set()


def test_an_edit_that_arrives_before_its_copy_is_recorded_follows_it(desk: Desk) -> None:
    """Another process is still recording the copy when the edit arrives: the edit waits for it."""
    from handlers.operations import conversation as conversation
    from handlers.operations.conversation import Author, SlackMessage

    ticket = filed(desk)
    message = SlackMessage("CPARTNER", "1795510005.000100", ticket.filer_thread_ts or "", "Frist text")
    alice = Author("UALICE", "alice", False, "Acme Telecom")
    now = desk.clock()
    with session_scope(desk.engine) as session:  # the edit first
        fresh = session.get(Ticket, ticket.id)
        assert fresh is not None
        assert conversation.carry_edit(
            session, fresh, SlackMessage(*message.__dict__.values()), alice, "1795510006.000100", now
        )
    desk.tick()  # the edit waits: its copy is not recorded yet
    assert not desk.fake.calls_to("chat.update") or all(
        "First" not in str(c.get("text")) for c in desk.fake.calls_to("chat.update")
    )
    with session_scope(desk.engine) as session:  # then the copy
        fresh = session.get(Ticket, ticket.id)
        assert fresh is not None
        conversation.carry_message(session, fresh, message, alice, now)
    desk.tick()
    desk.at("2026-11-24T10:00:30+01:00")
    desk.tick()
    edits = [c for c in desk.fake.calls_to("chat.update") if "Frist" in str(c.get("text"))]
    assert edits, "the edit was given up"
