"""Listeners dispatched to the Bolt app in process, where the HTTP layer is not the subject."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pendulum
import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from sqlmodel import select

from bot.app import build_app
from bot.clock import SettableClock
from bot.runtime import build_runtime
from handlers.runtime import Runtime
from handlers.ui import tickets as views
from storage.db import session_scope
from storage.models import Ping, Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import load_ticket, make_settings, seed
from tests.slack_requests import SlackSender, button_payload, signed_headers

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bolt(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[tuple[App, Runtime]]:
    fake_slack.reset()
    settings = make_settings(sqlite_url, fake_slack.url, slack_team_id="T0TEAM")
    clock = SettableClock(pendulum.parse("2026-11-24T10:00:00+01:00"))
    runtime = build_runtime(settings, clock, store_clock=False)
    runtime.learn_team_id()
    seed(runtime.engine)
    with session_scope(runtime.engine) as session:
        now = clock()
        session.add(Ticket(**load_ticket(1, now, now.add(hours=8), card_ts="1700000000.000001")))
    yield build_app(runtime, settings), runtime
    runtime.engine.dispose()


def dispatch(app: App, body: str, kind: str = FORM) -> tuple[int, dict[str, Any]]:
    response = app.dispatch(BoltRequest(body=body, headers=signed_headers(body, kind)))
    return response.status, json.loads(response.body) if response.body else {}


def sender(fake: FakeSlack) -> SlackSender:
    return SlackSender("http://unused", fake.url.replace("/api/", "/response/hook"))


def test_help_is_in_the_ack_itself(bolt: tuple[App, Runtime], fake_slack: FakeSlack) -> None:
    app, _ = bolt
    status, body = dispatch(app, sender(fake_slack).command_body("help", "UALICE"))
    assert status == 200 and body["response_type"] == "ephemeral" and "/ticket queue" in body["text"]


def test_an_unknown_word_is_explained_escaped(bolt: tuple[App, Runtime], fake_slack: FakeSlack) -> None:
    app, _ = bolt
    _, body = dispatch(app, sender(fake_slack).command_body("<!channel>", "UALICE"))
    assert "I don't know `/ticket &lt;!channel&gt;`" in body["text"]


def test_status_acks_empty_then_answers_on_the_response_url(
    bolt: tuple[App, Runtime], fake_slack: FakeSlack
) -> None:
    app, runtime = bolt
    status, body = dispatch(app, sender(fake_slack).command_body("status T-1", "UALICE", ref=7))
    assert (status, body) == (200, {})
    assert runtime.wait_idle(10)
    [answer] = fake_slack.calls_to("hook")
    assert answer["cmd"] == "7" and "T-1" in answer["text"]


def test_claim_button_applies_after_its_ack(bolt: tuple[App, Runtime], fake_slack: FakeSlack) -> None:
    app, runtime = bolt
    payload = button_payload(views.CLAIM_ACTION, "T-1", "UAGENT2")
    status, _ = dispatch(app, urlencode({"payload": json.dumps(payload)}))
    assert status == 200 and runtime.wait_idle(10)
    with session_scope(runtime.engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None and ticket.claimant_user_id == "UAGENT2"
    [told] = fake_slack.calls_to("chat.postEphemeral")
    assert told["user"] == "UAGENT2" and told["text"].startswith("You claimed T-1.")


@pytest.mark.parametrize(
    "sender",
    [
        {"subtype": "bot_message", "bot_id": "BOTHER", "user": "UAGENT1"},  # another app, as an agent
        {"bot_id": "BSLADESK", "user": "UAGENT1"},  # a bot message without the subtype
        {"user": "UBOTSLADESK"},  # the bot's own user (its copies)
    ],
)
def test_the_bots_own_messages_and_other_bots_are_not_replies(
    bolt: tuple[App, Runtime], sender: dict[str, str]
) -> None:
    """Were they taken for an agent's reply in the card thread, they would be copied to the partner
    and be the first response: nothing at all may be owed for them."""
    app, runtime = bolt
    event = {
        "type": "event_callback",
        "team_id": "T0TEAM",
        "api_app_id": "A0SLADESK",
        "event_id": "Ev1",
        "event_time": 1,
        "event": {
            "type": "message", "channel": "CTECH", "text": "hi", "ts": "1800000002.000100",
            "thread_ts": "1700000000.000001", **sender,
        },
    }  # fmt: skip
    status, _ = dispatch(app, json.dumps(event), "application/json")
    assert status == 200 and runtime.wait_idle(10)
    with session_scope(runtime.engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None and ticket.first_response_at is None
        assert session.exec(select(Ping).where(Ping.source == "CTECH:1800000002.000100")).all() == []


def test_an_agents_own_reply_is_carried_where_a_bots_is_not(bolt: tuple[App, Runtime]) -> None:
    """The same message from the agent themself: copied to the partner, the first response (so the
    test above can fail)."""
    app, runtime = bolt
    event = {
        "type": "event_callback", "team_id": "T0TEAM", "api_app_id": "A0SLADESK", "event_id": "Ev2",
        "event_time": 1,
        "event": {
            "type": "message", "channel": "CTECH", "text": "hi", "ts": "1800000002.000100",
            "thread_ts": "1700000000.000001", "user": "UAGENT1",
        },
    }  # fmt: skip
    status, _ = dispatch(app, json.dumps(event), "application/json")
    assert status == 200 and runtime.wait_idle(10)
    with session_scope(runtime.engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None and ticket.first_response_at is not None
        kinds = {p.kind for p in session.exec(select(Ping).where(Ping.source == "CTECH:1800000002.000100"))}
        assert kinds == {"to_partner", "reaction"}
