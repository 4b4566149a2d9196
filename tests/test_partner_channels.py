"""Partner channels (issue 19, first part): connecting a channel to a partner company, its intro posted
and pinned once, and the intro's buttons, over signed HTTP against the fake Slack."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlmodel import select

from handlers.ui import channels as channel_views
from storage.db import session_scope
from storage.models import PartnerChannel
from tests.helpers import ROOT, Desk, reply
from tests.slack_requests import button_payload

SHARED = {"is_shared": True, "is_ext_shared": True, "shared_team_ids": ["T0TEAM", "T0ACME"]}


def intro_posts(desk: Desk, channel: str = "CACME") -> list[dict[str, object]]:
    return [m for m in desk.fake.delivered(channel) if str(m.get("text", "")).startswith("SLA Desk: support")]


def connect(desk: Desk, user: str = "UAGENT1", company: str = "Acme Telecom", channel: str = "CACME") -> str:
    response = desk.slack.command(f"connect {company}", user, channel=channel)
    assert response.status_code == 200
    [answer] = desk.fake.wait_for("hook", 1, cmd=response.ref)  # type: ignore[attr-defined]
    desk.settle()
    desk.fake.calls = [c for c in desk.fake.calls if c.method != "hook"]  # the next answer is looked for anew
    return str(answer["text"])


def test_connecting_a_shared_channel_posts_and_pins_the_intro_once(desk: Desk) -> None:
    desk.fake.channels["CACME"] = SHARED
    text = connect(desk)
    assert "<#CACME> now serves *Acme Telecom* (shared with their workspace)" in text
    [intro] = intro_posts(desk)
    assert desk.fake.pins["CACME"] == [intro["ts"]]
    actions = [b for b in intro["blocks"] if b["type"] == "actions"][0]  # type: ignore[index, union-attr]
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Technical Support", "Customer Care", "Our open tickets",
    ]  # fmt: skip
    assert "Mon-Fri 09:00-18:00 CET" in str(intro["blocks"])
    with session_scope(desk.engine) as session:
        [row] = session.exec(select(PartnerChannel)).all()
        assert (row.is_shared, row.teams, row.intro_ts) == (True, {"T0ACME"}, intro["ts"])
    assert "already serves *Acme Telecom*: nothing new was posted" in connect(desk)
    assert len(intro_posts(desk)) == 1 and len(desk.fake.pins["CACME"]) == 1


def test_who_and_what_may_be_connected(desk: Desk) -> None:
    assert connect(desk, user="UALICE") == "Only support agents can connect a channel to a partner."
    assert not desk.fake.calls_to("conversations.info")  # refused before Slack is asked
    assert "no partner company 'Nobody Inc'" in connect(desk, company="Nobody Inc")
    connect(desk)
    assert "already serves Acme Telecom: one channel serves one company" in connect(
        desk, company="Silverline"
    )
    desk.fake.channels["COUT"] = {"is_member": False}
    assert "I'm not in <#COUT>" in connect(desk, channel="COUT")
    assert "Usage: `/ticket connect COMPANY`" in reply(desk, "connect", "UAGENT1")
    with session_scope(desk.engine) as session:
        assert [c.channel_id for c in session.exec(select(PartnerChannel))] == ["CACME"]


def test_the_intro_buttons_open_the_forms_and_list_the_companys_tickets(desk: Desk) -> None:
    connect(desk)
    payload = {**button_payload(channel_views.INTRO_TECH_ACTION, "tech", "UALICE", channel="CACME")}
    payload["trigger_id"] = "trigger.intro"
    assert desk.slack.interaction(payload).status_code == 200
    [opened] = desk.fake.wait_for("views.open", 1, trigger_id="trigger.intro")
    assert opened["view"]["callback_id"] == "ticket_tech" or "Technical" in str(opened["view"])
    assert "CACME" in opened["view"]["private_metadata"]  # the confirmation goes to the channel
    listed = {**button_payload(channel_views.INTRO_LIST_ACTION, "list", "UALICE", channel="CACME")}
    assert desk.slack.interaction({**listed, "response_url": desk.slack.response_url}).status_code == 200
    [answer] = desk.fake.wait_for("hook", 1)
    assert answer["response_type"] == "ephemeral" and "Open tickets of Acme Telecom" in answer["text"]


@pytest.mark.heavy  # six subprocesses: CI runs it
def test_the_cli_connects_lists_and_disconnects(desk: Desk) -> None:
    desk.fake.channels["CACME"] = SHARED
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        PYTHONPATH=str(ROOT), SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=desk.fake.url,
        DATABASE_URL=str(desk.engine.url), TECH_CHANNEL="CTECH", CARE_CHANNEL="CCARE",
        CHANNEL_PACE_SECONDS="0",
    )  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bot", "channels", *args]
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    connected = cli("connect", "CACME", "acme telecom")  # names compare as the directory compares them
    assert connected.returncode == 0 and "now serves *Acme Telecom*" in connected.stdout, connected.stderr
    assert len(intro_posts(desk)) == 1 and len(desk.fake.pins["CACME"]) == 1
    listed = cli("list")
    assert listed.stdout.split("\t")[:4] == ["CACME", "Acme Telecom", "connected", "shared"]
    assert cli("connect", "CACME", "Nobody Inc").returncode == 1
    assert cli("disconnect", "CACME").returncode == 0
    assert cli("disconnect", "CACME").returncode == 1
    assert "\tdisconnected\t" in cli("list").stdout


def channel_event(desk: Desk, event: dict[str, object], event_id: str) -> None:
    for retry in (0, 1, 2):  # Slack delivers it again when the ack was slow: handled once
        assert desk.slack.event(event, event_id=event_id, retry=retry).status_code == 200
    desk.settle()


def test_an_unshared_channel_is_marked_the_lead_told_once_and_replies_go_to_dms(desk: Desk) -> None:
    from tests.helpers import filed

    desk.fake.channels["CPARTNER"] = SHARED
    connect(desk, channel="CPARTNER")
    ticket = filed(desk)  # filed from the partner channel: confirmation and thread there
    assert ticket.filer_channel == "CPARTNER"
    unshared = {
        "type": "channel_unshared", "channel": "CPARTNER", "previously_connected_team_id": "T0ACME",
        "is_ext_shared": False, "event_ts": "1800000100.000100",
    }  # fmt: skip
    channel_event(desk, unshared, "EvUNSHARE")
    desk.tick()
    with session_scope(desk.engine) as session:
        row = session.get(PartnerChannel, "CPARTNER")
        assert row is not None and (row.status, row.teams) == ("unshared", set())
    alerts = [m for m in desk.fake.delivered("DAGENT1") if "no longer shared" in str(m.get("text"))]
    assert len(alerts) == 1  # the desk lead, once
    reply_event = {
        "type": "message", "channel": "CTECH", "user": "UAGENT1", "text": "Fixed on our side",
        "ts": "1795510050.000100", "thread_ts": ticket.card_ts,
    }  # fmt: skip
    assert desk.slack.event(reply_event).status_code == 200
    desk.settle()
    desk.tick()
    copies = [m for m in desk.fake.delivered("DALICE") if "Fixed on our side" in str(m.get("text"))]
    assert len(copies) == 1 and not copies[0].get("thread_ts")  # in the filer's DM, not the old thread
    assert not [m for m in desk.fake.delivered("CPARTNER") if "Fixed on our side" in str(m.get("text"))]


def test_sharing_again_and_the_bot_leaving_keep_the_link_current(desk: Desk) -> None:
    connect(desk)
    shared = {"type": "channel_shared", "channel": "CACME", "connected_team_id": "T0ACME", "event_ts": "1.0"}
    channel_event(desk, shared, "EvSHARE")
    with session_scope(desk.engine) as session:
        row = session.get(PartnerChannel, "CACME")
        assert row is not None and row.teams == {"T0ACME"} and row.is_shared
    channel_event(desk, {"type": "channel_left", "channel": "CACME", "event_ts": "2.0"}, "EvLEFT")
    desk.tick()
    with session_scope(desk.engine) as session:
        row = session.get(PartnerChannel, "CACME")
        assert row is not None and row.status == "left"
    left = [m["text"] for m in desk.fake.delivered("DAGENT1")]
    assert len([t for t in left if "archived or left" in str(t)]) == 1, left
