"""Hardening: hostile directory names, unsigned junk, other workspaces, a store that can't write,
clocks that step back or stand still, and replies that carry a file or go to the channel too."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import pendulum
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from bot.clock import SettableClock
from bot.runtime import build_runtime
from bot.server import store_health
from handlers.ui import tickets as views
from storage.db import describe_store_error, make_engine, migrate, session_scope
from storage.directory import import_directory, parse_directory_csv
from storage.models import Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import Desk, filed, load_ticket, make_settings, refusal, reply, seed, ticket_now

HOSTILE_CSV = """company,tier,desk,assigned_partner,email,slack_user_id,certification
<!channel> Phones,bronze,cet,Acme Telecom,mallory@hostile.example,UMALLORY,W-FE
<@UAGENT1> Gold,gold,cet,,trudy@hostile.example,UTRUDY,
<@UAGENT1> Gold,gold,cet,,a&b@hostile.example,,W-FE
"""


def test_company_and_member_names_are_escaped_in_refusals(desk: Desk) -> None:
    import_directory(desk.engine, parse_directory_csv(io.StringIO(HOSTILE_CSV), ["cet", "est"]))
    referred = refusal(desk, "new tech", "UMALLORY")
    assert "&lt;!channel&gt; Phones is a Bronze partner" in referred and "<!channel>" not in referred
    uncertified = refusal(desk, "new tech", "UTRUDY")
    assert "&lt;@UAGENT1&gt; Gold" in uncertified and "<@UAGENT1>" not in uncertified
    assert "a&amp;b@hostile.example" in uncertified


def test_unsigned_junk_is_refused_before_it_is_parsed(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for body, kind in [
        ("payload=%7B%7Bnot json", "application/x-www-form-urlencoded"),
        ("{]", "application/json"),
    ]:
        response = desk.slack.post_raw(body, kind, headers={"Content-Type": kind})
        assert response.status_code == 401
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_request_from_another_workspace_is_refused(desk: Desk) -> None:
    filed(desk)
    response = desk.slack.button(views.CLAIM_ACTION, "T-1", "UAGENT1", team="T0OTHER")
    assert response.status_code == 403
    desk.settle()
    assert ticket_now(desk, 1).claimant_user_id is None


def test_health_reports_a_store_that_reads_but_cannot_write(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    assert store_health(engine) == (True, "ok")
    engine.dispose()
    # From now on every connection can read but not write, as with a read-only file.
    event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA query_only=1"))
    caplog.set_level(logging.ERROR)
    assert store_health(engine) == (False, "read-only store")
    assert any("read-only store" in record.getMessage() for record in caplog.records)
    engine.dispose()


@pytest.mark.parametrize(
    ("message", "cause"),
    [
        ("database or disk is full", "disk full"),
        ('could not extend file "base/16384/2619": No space left on device', "disk full"),
        ("attempt to write a readonly database", "read-only store"),
        ("cannot execute UPDATE in a read-only transaction", "read-only store"),
        ("database is locked", "lock timeout (the store is busy)"),
        ("canceling statement due to lock timeout", "lock timeout (the store is busy)"),
        ('connection to server at "127.0.0.1", port 5432 failed', "store unreachable"),
    ],
)
def test_store_errors_are_named_by_their_cause(message: str, cause: str) -> None:
    error = OperationalError("UPDATE heartbeat", {}, Exception(message))
    assert describe_store_error(error) == cause


def test_a_first_response_is_never_before_the_filing(desk: Desk) -> None:
    desk.at("2026-11-24T10:00:00+01:00")
    filed(desk)
    desk.at("2026-11-24T09:50:00+01:00")  # the clock stepped back
    reply(desk, "claim T-1", "UAGENT1")
    ticket = ticket_now(desk, 1)
    assert ticket.first_response_at == ticket.filed_at and ticket.sla_met is True


@pytest.mark.heavy
def test_with_frozen_time_a_failed_post_is_still_retried(sqlite_url: str, fake_slack: FakeSlack) -> None:
    fake_slack.reset()
    frozen = "2026-11-24T10:00:00+01:00"
    settings = make_settings(sqlite_url, fake_slack.url, frozen_time=frozen)
    runtime = build_runtime(settings, SettableClock(pendulum.parse(frozen)))  # the store's clock for retries
    seed(runtime.engine)
    from storage.models import PingKind
    from storage.pings import owe

    with session_scope(runtime.engine) as session:
        at = pendulum.parse(frozen)
        ticket = Ticket(
            **load_ticket(
                1, at, at.add(hours=8), filer_channel="CPARTNER", filer_thread_ts="1700000000.000001"
            )
        )
        session.add(ticket)
        session.flush()
        owe(session, ticket.id or 0, PingKind.NOTICE, pendulum.parse(frozen), text="hello")
    fake_slack.fail("chat.postMessage", status=500)
    runtime.deliverer.drain()
    assert fake_slack.delivered("CPARTNER") == []
    deadline = time.monotonic() + 10
    while not fake_slack.delivered("CPARTNER") and time.monotonic() < deadline:
        runtime.deliverer.drain()
        time.sleep(0.2)
    assert [m["text"] for m in fake_slack.delivered("CPARTNER")] == ["hello"]
    runtime.engine.dispose()


@pytest.mark.parametrize("subtype", ["thread_broadcast", "file_share"])
def test_a_reply_sent_to_the_channel_too_or_with_a_file_is_a_first_response(desk: Desk, subtype: str) -> None:
    desk.at("2026-11-24T10:00:00+01:00")
    ticket = filed(desk, **{"class": "critical", "critical_reason": "call_drops"})
    desk.at("2026-11-24T10:05:00+01:00")
    reply_event: dict[str, Any] = {
        "type": "message",
        "subtype": subtype,
        "channel": "CTECH",
        "user": "UAGENT2",
        "text": "On it",
        "ts": "1800000101.000100",
        "thread_ts": ticket.card_ts,
    }
    if subtype == "file_share":
        reply_event["files"] = [{"id": "F1", "name": "trace.pcap", "permalink": "https://files.example/F1"}]
    desk.slack.event(reply_event)
    deadline = time.monotonic() + 5
    while ticket_now(desk, 1).first_response_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ticket_now(desk, 1).first_response_by == "UAGENT2"
    desk.at("2026-11-24T10:40:00+01:00")
    desk.tick()
    texts = [json.dumps(m) for m in desk.fake.delivered("CTECH")]
    assert not [t for t in texts if ":rotating_light:" in t or ":hourglass_flowing_sand:" in t]
