"""The conversation between partner and support, over signed HTTP against the fake Slack."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pendulum
import pytest
from sqlmodel import select

from handlers.operations import conversation as conversation
from handlers.operations.conversation import Author, SlackMessage
from storage.db import session_scope
from storage.models import Ping, PingState, Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import (
    Desk,
    at,
    blocks_of,
    filed,
    posted_ping_ids,
    reply,
    scheduler,
    ticket_now,
    wait_until,
)

# Message timestamps a little before the test clock (2026-11-24 10:00 CET): as Slack's would be.
FIRST_TS = 1_795_510_000.0


def ts(n: int) -> str:
    return f"{FIRST_TS + n:.6f}"


def say(
    desk: Desk, channel: str, user: str, text: str, thread_ts: str, n: int, **extra: Any
) -> dict[str, Any]:
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts(n),
        "thread_ts": thread_ts,
    }
    event.update(extra)
    assert desk.slack.event(event).status_code == 200
    return event


def thread(desk: Desk, channel: str, parent: str | None) -> list[dict[str, Any]]:
    """What the bot posted in a thread, in order."""
    desk.settle()
    desk.tick()
    return [
        m for m in desk.fake.delivered(channel) if m.get("thread_ts") == parent and m["user"] == "UBOTSLADESK"
    ]


def copies(desk: Desk, channel: str, parent: str | None) -> list[str]:
    return [
        m["text"] for m in thread(desk, channel, parent) if "(Support)" in m["text"] or "(Acme" in m["text"]
    ]


def test_a_partner_reply_reaches_the_card_thread_and_an_agent_reply_the_partner(desk: Desk) -> None:
    ticket = filed(desk)
    say(desk, "CPARTNER", "UALICE", "Still dropping after the reboot", ticket.filer_thread_ts or "", 1)
    [copied] = copies(desk, "CTECH", ticket.card_ts)
    assert copied == "*alice* (Acme Telecom): Still dropping after the reboot"
    assert ticket_now(desk, 1).first_response_at is None and ticket_now(desk, 1).turn == "support"
    desk.clock.advance(minutes=10)
    say(desk, "CTECH", "UAGENT2", "Checking the <https://status.example|trunk> now", ticket.card_ts or "", 2)
    [answer] = copies(desk, "CPARTNER", ticket.filer_thread_ts)
    assert answer == "*agent2* (Support): Checking the <https://status.example|trunk> now"
    answered = ticket_now(desk, 1)
    assert answered.first_response_by == "UAGENT2" and answered.sla_met and answered.turn == "partner"
    assert desk.fake.reactions[("CTECH", ts(2))] == ["outbox_tray"]  # marked: sent to the partner
    assert "waiting for the partner" in str(desk.fake.delivered("CTECH")[0]["blocks"])  # the card says so
    at(desk, "2026-11-24T18:30:00+01:00")
    assert not [m for m in desk.fake.delivered("CTECH") if ":rotating_light:" in m["text"]]  # pings dropped


def test_a_note_stays_internal_and_is_no_first_response(desk: Desk) -> None:
    ticket = filed(desk)
    say(desk, "CTECH", "UAGENT2", "NOTE: partner's SBC looks misconfigured", ticket.card_ts or "", 1)
    reply(desk, "note T-1 Asked the carrier too", "UAGENT2")
    card_thread = [m["text"] for m in thread(desk, "CTECH", ticket.card_ts)]
    assert card_thread == ["*agent2* (internal note): Asked the carrier too"]
    assert copies(desk, "CPARTNER", ticket.filer_thread_ts) == []
    assert desk.fake.reactions[("CTECH", ts(1))] == ["lock"]  # marked: kept internal
    assert ticket_now(desk, 1).first_response_at is None
    at(desk, "2026-11-24T14:00:00+01:00")
    assert [m for m in desk.fake.delivered("CTECH") if "50%" in m["text"]]  # the pings go on


def test_an_event_slack_delivers_three_times_is_copied_once(desk: Desk) -> None:
    ticket = filed(desk)
    event = {
        "type": "message", "channel": "CPARTNER", "user": "UALICE", "text": "Any news?",
        "ts": ts(1), "thread_ts": ticket.filer_thread_ts,
    }  # fmt: skip
    for retry in (0, 1, 2):
        assert desk.slack.event(event, event_id="EvSAME", retry=retry).status_code == 200
    assert len(copies(desk, "CTECH", ticket.card_ts)) == 1


@pytest.mark.heavy
def test_a_burst_of_a_hundred_each_way_keeps_order_and_doubles_nothing(desk: Desk) -> None:
    ticket = filed(desk)
    for n in range(100):
        say(desk, "CPARTNER", "UALICE", f"partner line {n}", ticket.filer_thread_ts or "", n)
        say(desk, "CTECH", "UAGENT2", f"agent line {n}", ticket.card_ts or "", 1000 + n)
    wait_until(lambda: len(copies(desk, "CTECH", ticket.card_ts)) == 100, timeout=60)
    to_card = copies(desk, "CTECH", ticket.card_ts)
    to_partner = copies(desk, "CPARTNER", ticket.filer_thread_ts)
    assert to_card == [f"*alice* (Acme Telecom): partner line {n}" for n in range(100)]
    assert to_partner == [f"*agent2* (Support): agent line {n}" for n in range(100)]
    assert set(posted_ping_ids(desk.fake).values()) == {1}


def test_edits_and_deletions_follow_their_copy(desk: Desk) -> None:
    ticket = filed(desk)
    say(desk, "CPARTNER", "UALICE", "It drops at 30 s", ticket.filer_thread_ts or "", 1)
    say(desk, "CPARTNER", "UALICE", "wrong thread, sorry", ticket.filer_thread_ts or "", 2)
    assert len(copies(desk, "CTECH", ticket.card_ts)) == 2
    edited = {"user": "UALICE", "text": "It drops at 45 s", "ts": ts(1), "thread_ts": ticket.filer_thread_ts}
    edited["edited"] = {"user": "UALICE", "ts": ts(5)}
    desk.slack.event(
        {"type": "message", "subtype": "message_changed", "channel": "CPARTNER", "message": edited}
    )
    previous = {"user": "UALICE", "ts": ts(2), "thread_ts": ticket.filer_thread_ts}
    deletion = {"subtype": "message_deleted", "deleted_ts": ts(2), "previous_message": previous}
    desk.slack.event({"type": "message", "channel": "CPARTNER", **deletion})
    assert copies(desk, "CTECH", ticket.card_ts) == ["*alice* (Acme Telecom): It drops at 45 s"]


def test_the_bots_messages_and_other_bots_are_never_copied(desk: Desk) -> None:
    ticket = filed(desk)
    say(desk, "CPARTNER", "UALICE", "hello", ticket.filer_thread_ts or "", 1)
    [copy] = thread(desk, "CTECH", ticket.card_ts)
    # Slack tells the bot of its own copy, and of another bot's message: neither goes anywhere
    say(desk, "CTECH", "UBOTSLADESK", copy["text"], ticket.card_ts or "", 2, bot_id="BSLADESK")
    say(
        desk,
        "CPARTNER",
        "UOTHERBOT",
        "beep",
        ticket.filer_thread_ts or "",
        3,
        bot_id="BOTHER",
        subtype="bot_message",
    )
    assert (
        len(thread(desk, "CTECH", ticket.card_ts)) == 1
        and copies(desk, "CPARTNER", ticket.filer_thread_ts) == []
    )


def test_partner_markup_never_notifies_or_links_in_the_card_thread(desk: Desk) -> None:
    ticket = filed(desk)
    say(
        desk,
        "CPARTNER",
        "UALICE",
        "<!channel> ask <@UAGENT1> see <http://evil.example|docs>",
        ticket.filer_thread_ts or "",
        1,
    )
    [copy] = copies(desk, "CTECH", ticket.card_ts)
    assert "<" not in copy.split(": ", 1)[1] and "&lt;!channel&gt;" in copy


def test_files_are_linked_by_name_not_downloaded(desk: Desk) -> None:
    ticket = filed(desk)
    files = [{"id": "F1", "name": "trace <1>.pcap", "permalink": "https://files.example/F1"}]
    say(desk, "CPARTNER", "UALICE", "", ticket.filer_thread_ts or "", 1, subtype="file_share", files=files)
    [copy] = copies(desk, "CTECH", ticket.card_ts)
    assert (
        copy == "*alice* (Acme Telecom) shared:\n:paperclip: <https://files.example/F1|trace &lt;1&gt;.pcap>"
    )
    assert not [c for c in desk.fake.calls if c.method.startswith("files.")]


@pytest.mark.parametrize(("status", "error"), [(429, "ratelimited"), (500, "internal_error")])
def test_a_copy_slack_refuses_for_now_is_retried_once(desk: Desk, status: int, error: str) -> None:
    ticket = filed(desk)
    desk.fake.fail("chat.postMessage", status=status, error=error, retry_after=1 if status == 429 else None)
    say(desk, "CPARTNER", "UALICE", "hello", ticket.filer_thread_ts or "", 1)
    desk.settle()
    desk.clock.advance(minutes=15)  # past any retry wait
    assert len(copies(desk, "CTECH", ticket.card_ts)) == 1


def test_a_copy_into_a_channel_the_bot_left_is_reported_to_the_lead(desk: Desk) -> None:
    ticket = filed(desk)
    desk.fake.channel_errors["CPARTNER"] = "not_in_channel"
    say(desk, "CTECH", "UAGENT2", "We found it", ticket.card_ts or "", 1)
    desk.settle()
    desk.tick()
    desk.tick()
    alerts = [m["text"] for m in desk.fake.delivered("DAGENT1") if "could not post" in m["text"]]
    assert len(alerts) == 1 and "not_in_channel" in alerts[0]
    assert "not_in_channel" in (ticket_now(desk, 1).slack_error or "")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("UBOB", ["type `/ticket`", "T-1"]),
        ("UAGENT1", ["/ticket queue", "note:"]),
        ("UNOBODY", ["system integrator"]),
    ],
)
def test_a_direct_message_gets_an_answer_for_who_is_writing(
    desk: Desk, user: str, expected: list[str]
) -> None:
    filed(desk)
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": f"D{user[1:]}",
        "user": user,
        "text": "hi",
        "ts": ts(1),
    }
    desk.slack.event(event)
    desk.slack.event(event, retry=1)
    desk.settle()
    desk.tick()
    [answer] = [m["text"] for m in desk.fake.delivered(f"D{user[1:]}") if m["user"] == "UBOTSLADESK"]
    assert all(word in answer for word in expected)
    with session_scope(desk.engine) as session:
        assert len(session.exec(select(Ticket)).all()) == 1  # no ticket from a DM


def test_reassign_tells_the_new_holder_with_a_link_and_is_no_first_response(desk: Desk) -> None:
    filed(desk)
    assert reply(desk, "reassign T-1 <@UAGENT2>", "UAGENT1") == "T-1 is now with <@UAGENT2>."
    desk.settle()
    desk.tick()
    [told] = [m["text"] for m in desk.fake.delivered("DAGENT2")]
    assert "handed *T-1* to you" in told and "<https://fake.slack.example/archives/CTECH/p" in told
    assert ticket_now(desk, 1).first_response_at is None


def test_alerts_and_lists_link_to_the_card_and_the_card_to_the_partners_thread(desk: Desk) -> None:
    ticket = filed(desk)
    at(desk, "2026-11-24T18:00:00+01:00")
    [breach] = [m["text"] for m in desk.fake.delivered("CTECH") if ":rotating_light:" in m["text"]]
    card_link = ticket_now(desk, 1).card_permalink
    assert card_link and f"<{card_link}|Open the card>" in breach
    [card] = [m for m in desk.fake.delivered("CTECH") if m["ts"] == ticket.card_ts]
    assert "The partner's thread" in str(card["blocks"]) and "CPARTNER" in str(card["blocks"])
    _, blocks = blocks_of(desk, "queue", "UAGENT1")
    assert f"<{card_link}|T-1>" in str(blocks) and "waiting for support" in str(blocks)


@pytest.mark.heavy
def test_copies_survive_a_scheduler_killed_mid_burst(sqlite_url: str, fake_slack: FakeSlack) -> None:
    from tests.helpers import start_desk

    desk = start_desk(sqlite_url, fake_slack)
    try:
        ticket = filed(desk)
        now = pendulum.parse("2026-11-24T10:05:00+01:00")
        with session_scope(desk.engine) as session:
            fresh = session.get(Ticket, ticket.id)
            assert fresh is not None
            author = Author("UALICE", "alice", False, "Acme Telecom")
            for n in range(60):
                message = SlackMessage("CPARTNER", ts(n), fresh.filer_thread_ts or "", f"line {n}")
                conversation.carry_message(session, fresh, message, author, now)
        fake_slack.delay = 0.02
        short = {"WORKER_LEASE_SECONDS": "2", "SLACK_TIMEOUT_SECONDS": "1", "CARE_CHANNEL": "CCARE"}
        victim = scheduler(sqlite_url, fake_slack, now.isoformat(), once=False, **short)
        wait_until(lambda: len(posted_ping_ids(fake_slack)) >= 20, timeout=60)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        time.sleep(2.1)  # the dead one's lease runs out (store clock)
        assert scheduler(sqlite_url, fake_slack, now.isoformat(), **short).wait(timeout=120) == 0
    finally:
        fake_slack.delay = 0.0
        desk.close()
    ids = posted_ping_ids(fake_slack)
    assert set(ids.values()) == {1}
    with session_scope(desk.engine) as session:
        rows = session.exec(select(Ping).where(Ping.kind == "to_card")).all()
    assert len(rows) == 60 and {r.state for r in rows} == {PingState.SENT}
    texts = [m["text"] for m in fake_slack.delivered("CTECH") if "line " in m["text"]]
    assert texts == [f"*alice* (Acme Telecom): line {n}" for n in range(60)]
    assert all(json.loads(r.payload or "{}") for r in rows)
    desk.engine.dispose()
