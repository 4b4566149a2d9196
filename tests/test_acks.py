"""Every request acknowledged within Slack's 3 seconds, whatever Slack or the store is doing."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlmodel import select

from handlers.ui import forms
from handlers.ui import tickets as views
from storage.db import session_scope
from storage.directory import import_directory, parse_directory_csv
from storage.models import Ticket
from tests.fake_slack import Latency
from tests.helpers import Desk, load_ticket, tickets
from tests.slack_requests import submitted

SLACK_WAIT = 3.0


def timed(send: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def open_tickets(desk: Desk, count: int) -> None:
    now = desk.clock()
    with session_scope(desk.engine) as session:
        session.add_all(
            Ticket(**load_ticket(n, now, now.add(hours=6), card_ts=f"1700000000.{n:06d}"))
            for n in range(1, count + 1)
        )


def tech_form_submission(answers: dict[str, Any] | None = None) -> dict[str, Any]:
    form = forms.tech_form(forms.form_metadata("CPARTNER"), "https://docs.example")
    values = {"subject": "Calls drop", "description": "Every call drops after 30 s.", "product": "PBX 1"}
    return submitted(form, {**values, **(answers or {})})


@contextmanager
def write_lock_held(desk: Desk, seconds: float) -> Iterator[None]:
    """Another writer holds SQLite's write lock (as a big import or a long write did)."""
    path = desk.engine.url.database or ""
    holder = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE partner SET desk = desk")
    release = threading.Timer(seconds, lambda: (holder.execute("COMMIT"), holder.close()))
    release.start()
    try:
        yield
    finally:
        release.join()


def answer_to(desk: Desk, response: requests.Response, timeout: float = 10) -> dict[str, Any]:
    [answer] = desk.fake.wait_for("hook", 1, timeout=timeout, cmd=response.ref)  # type: ignore[attr-defined]
    return answer


@pytest.mark.heavy
def test_a_slow_slack_and_twenty_presses_at_once_miss_no_ack(desk: Desk) -> None:
    open_tickets(desk, 20)
    desk.fake.delay = 0.5  # every Slack call, the response URL included
    sends: list[Callable[[], requests.Response]] = [
        (lambda n=n: desk.slack.button(views.CLAIM_ACTION, f"T-{n}", "UAGENT1")) for n in range(1, 21)
    ]
    sends += [
        lambda: desk.slack.command("help", "UALICE"),
        lambda: desk.slack.command("status T-1", "UALICE"),
        lambda: desk.slack.command("queue", "UAGENT2"),
        lambda: desk.slack.view_submission(tech_form_submission(), "UALICE", view_id="VSLOW"),
    ]
    with ThreadPoolExecutor(len(sends)) as pool:
        results = list(pool.map(lambda send: timed(send), sends))
    slowest = max(seconds for _, seconds in results)
    assert [r.status_code for r, _ in results] == [200] * len(sends)
    assert slowest < SLACK_WAIT, f"slowest ack {slowest:.2f} s"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with session_scope(desk.engine) as session:
            claimed = session.exec(select(Ticket).where(Ticket.claimant_user_id == "UAGENT1")).all()
        if len(claimed) == 20:
            break
        time.sleep(0.1)
    assert len(claimed) == 20  # every press was applied, and every presser was told so
    assert len(desk.fake.wait_for("chat.postEphemeral", 20, timeout=30)) == 20
    assert [t.subject for t in tickets(desk) if t.submission_key == "VSLOW"] == ["Calls drop"]


@pytest.mark.heavy
def test_status_is_answered_while_another_writer_holds_the_store(desk: Desk) -> None:
    open_tickets(desk, 1)
    with write_lock_held(desk, 3.3):
        response, seconds = timed(lambda: desk.slack.command("status T-1", "UALICE"))
        assert response.status_code == 200 and seconds < SLACK_WAIT
        started = time.monotonic()
        answer = answer_to(desk, response)
        assert "T-1" in answer["text"] and time.monotonic() - started < SLACK_WAIT  # readers don't queue


@pytest.mark.heavy
def test_a_form_the_store_cannot_take_in_time_is_answered_busy_then_files_once(desk: Desk) -> None:
    form = tech_form_submission()
    with write_lock_held(desk, 3.3):
        response, seconds = timed(lambda: desk.slack.view_submission(form, "UALICE", view_id="VBUSY"))
        assert seconds < SLACK_WAIT
        body = response.json()
        assert body["response_action"] == "errors"
        assert "busy, submit again in a moment" in next(iter(body["errors"].values()))
        assert body["errors"].keys() <= {"subject", "description", "product", "class", "critical_reason"}
    assert tickets(desk) == []  # nothing filed
    for _ in range(2):  # the filer submits again (and Slack may deliver it twice)
        response = desk.slack.view_submission(form, "UALICE", view_id="VBUSY")
        assert response.status_code == 200 and not response.content
    assert len(tickets(desk)) == 1


@pytest.mark.heavy
def test_a_slow_users_info_delays_no_ack_and_no_form(desk: Desk) -> None:
    desk.fake.latencies["users.info"] = Latency(4.0, 4.0)
    desk.fake.emails["UCAROL"] = "carol@acme.example"  # Carol is known to the directory by e-mail only
    response, seconds = timed(lambda: desk.slack.command("list", "UCAROL"))
    assert response.status_code == 200 and seconds < SLACK_WAIT
    answer = answer_to(desk, response)
    assert "try again in a minute" in answer["text"]  # not "you are not a partner"
    started = time.monotonic()
    response, seconds = timed(lambda: desk.slack.command("new tech", "UCAROL"))
    assert seconds < SLACK_WAIT
    desk.fake.wait_for("views.open", 1, timeout=5)
    assert time.monotonic() - started < 1.0  # the trigger is used long before it expires
    desk.fake.latencies.clear()
    assert "Acme Telecom" in answer_to(desk, desk.slack.command("list", "UCAROL"))["text"]
    cached = len(desk.fake.calls_to("users.info"))
    answer_to(desk, desk.slack.command("list", "UCAROL"))
    assert len(desk.fake.calls_to("users.info")) == cached  # remembered, not asked again


@pytest.mark.heavy
def test_status_answers_during_a_100000_row_import(desk: Desk) -> None:
    open_tickets(desk, 1)
    header = "company,tier,desk,assigned_partner,email,slack_user_id,certification\n"
    text = header + "".join(f"Big Co,gold,cet,,u{n}@big.example,U{n:08d},W-FE\n" for n in range(100_000))
    rows = parse_directory_csv(io.StringIO(text), ["cet", "est"])
    importing = threading.Thread(target=import_directory, args=(desk.engine, rows))
    importing.start()
    slowest = 0.0
    try:
        while importing.is_alive():
            response, seconds = timed(lambda: desk.slack.command("status T-1", "UALICE"))
            answer_to(desk, response)
            slowest = max(slowest, seconds)
    finally:
        importing.join()
    assert slowest < SLACK_WAIT
