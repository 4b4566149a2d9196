"""Agents at work, through signed HTTP requests: commands, buttons, thread replies, App Home."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from handlers.ui import tickets as views
from storage.db import session_scope
from storage.models import Ticket
from tests.helpers import (
    Desk,
    blocks_of,
    events,
    filed,
    last_card,
    load_ticket,
    reply,
    ticket_now,
    tickets,
    wait_until,
)
from tests.slack_requests import submitted


@pytest.mark.parametrize("written", ["T-1", "t-1", "1"])
def test_claim_is_the_first_response_and_updates_card_and_thread(desk: Desk, written: str) -> None:
    ticket = filed(desk)
    desk.clock.advance(minutes=20)
    assert reply(desk, f"claim {written}", "UAGENT1").startswith("You claimed T-1.")
    claimed = ticket_now(desk, 1)
    assert claimed.claimant_user_id == "UAGENT1" and claimed.status == "claimed"
    assert claimed.first_response_at is not None and claimed.sla_met is True
    notices = desk.fake.wait_for("chat.postMessage", 1, thread_ts=ticket.filer_thread_ts)
    assert "<@UAGENT1> picked up T-1" in notices[0]["text"]
    desk.settle()  # the work after the ack delivers the card update
    assert "Claimed by <@UAGENT1>" in last_card(desk) and "SLA met" in last_card(desk)
    assert events(desk, 1) == ["filed", "first_response", "claimed"]


def test_claim_after_the_deadline_is_a_breach(desk: Desk) -> None:
    filed(desk)
    desk.clock.advance(hours=9)  # due at 18:00, filed at 10:00
    assert "after the SLA deadline" in reply(desk, "claim T-1", "UAGENT1")
    assert ticket_now(desk, 1).sla_met is False
    desk.settle()  # the claim's work after the ack delivers the card's update
    assert "SLA breached" in last_card(desk)


def test_claim_button_does_what_the_command_does(desk: Desk) -> None:
    filed(desk)
    assert desk.slack.button(views.CLAIM_ACTION, "T-1", "UAGENT2").status_code == 200
    [ephemeral] = desk.fake.wait_for("chat.postEphemeral", 1)
    assert ephemeral["user"] == "UAGENT2" and "You claimed T-1" in ephemeral["text"]
    assert ticket_now(desk, 1).claimant_user_id == "UAGENT2"
    assert (
        resolve_with_the_form(desk, "UAGENT2", "Trunk <https://status.example|restarted> by <@UAGENT1>") == {}
    )
    resolved = ticket_now(desk, 1)
    assert resolved.status == "resolved" and "<@UAGENT1>" in (resolved.resolution_note or "")
    desk.settle()
    notice = [m for m in desk.fake.delivered("CPARTNER") if "resolved T-1" in (m["text"] or "")]
    # the agent's own words keep their link and mention; only partner text is escaped
    assert notice and "<https://status.example|restarted>" in notice[0]["text"]


def test_the_resolve_form_shows_why_not(desk: Desk) -> None:
    filed(desk)
    reply(desk, "claim T-1", "UAGENT1")
    errors = resolve_with_the_form(desk, "UAGENT2", "done")
    assert errors == {"note": "T-1 is held by <@UAGENT1>: only they can resolve it."}
    assert ticket_now(desk, 1).status == "claimed"


def test_a_reopened_card_drops_the_old_resolution(desk: Desk) -> None:
    filed(desk)
    reply(desk, "claim T-1", "UAGENT1")
    reply(desk, "resolve T-1 replaced the SBC", "UAGENT1")
    assert wait_until(lambda: "replaced the SBC" in card_now(desk))
    reply(desk, "reopen T-1", "UALICE")
    assert wait_until(lambda: "Reopened" in card_now(desk))
    assert "replaced the SBC" not in card_now(desk)


def card_now(desk: Desk) -> str:
    """The card as Slack shows it now (after every update it took)."""
    desk.tick()
    [card] = [m for m in desk.fake.delivered("CTECH") if m["ts"] == ticket_now(desk, 1).card_ts]
    return str(card["blocks"])


def resolve_with_the_form(desk: Desk, agent: str, note: str) -> dict[str, Any]:
    """Press Resolve, write the note in the form that opens, submit: the form's answer."""
    opened = len(desk.fake.calls_to("views.open"))
    desk.slack.button(views.RESOLVE_ACTION, "T-1", agent)
    form = desk.fake.wait_for("views.open", opened + 1)[-1]["view"]
    assert form["callback_id"] == views.RESOLVE_CALLBACK
    response = desk.slack.view_submission(submitted(form, {"note": note}), agent, view_id="VRESOLVE")
    return response.json().get("errors", {}) if response.content else {}


def test_partner_cannot_work_tickets(desk: Desk) -> None:
    filed(desk)
    for verb in ("claim T-1", "release T-1", "reassign T-1 <@UAGENT2>", "resolve T-1"):
        assert "Only support agents" in reply(desk, verb, "UALICE")
    desk.slack.button(views.CLAIM_ACTION, "T-1", "UALICE")
    assert "Only support agents" in desk.fake.wait_for("chat.postEphemeral", 1)[0]["text"]
    assert ticket_now(desk, 1).status == "open" and events(desk, 1) == ["filed"]


def _claim_at_once(desk: Desk, agents: list[str]) -> list[str]:
    replies: dict[str, str] = {}
    barrier = threading.Barrier(len(agents))

    def press(agent: str) -> None:
        barrier.wait()
        replies[agent] = reply(desk, "claim T-1", agent)

    threads = [threading.Thread(target=press, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [replies[a] for a in agents]


def test_simultaneous_claims_get_one_claimant(desk_both: Desk) -> None:
    desk = desk_both
    filed(desk)
    replies = _claim_at_once(desk, ["UAGENT1", "UAGENT2", "UAGENT3"])
    winners = [r for r in replies if r.startswith("You claimed")]
    losers = [r for r in replies if "already claimed by" in r]
    assert len(winners) == 1 and len(losers) == 2, replies
    claimant = ticket_now(desk, 1).claimant_user_id
    assert all(f"<@{claimant}>" in r for r in losers)
    assert events(desk, 1).count("claimed") == 1 and events(desk, 1).count("first_response") == 1


def test_release_reassign_and_who_may(desk: Desk) -> None:
    filed(desk)
    assert "not claimed" in reply(desk, "release T-1", "UAGENT1")
    reply(desk, "claim T-1", "UAGENT1")
    assert "only they can release" in reply(desk, "release T-1", "UAGENT2")
    assert reply(desk, "release T-1", "UAGENT1") == "T-1 is back in the queue."
    assert ticket_now(desk, 1).status == "open"
    assert "is not a support agent" in reply(desk, "reassign T-1 <@UBOB>", "UAGENT1")
    assert "Please name the agent" in reply(desk, "reassign T-1 bob", "UAGENT1")
    assert reply(desk, "reassign T-1 <@UAGENT2|agent2>", "UAGENT1") == "T-1 is now with <@UAGENT2>."
    assert ticket_now(desk, 1).claimant_user_id == "UAGENT2"
    assert events(desk, 1) == ["filed", "first_response", "claimed", "released", "reassigned"]


def test_resolve_tells_the_filer_and_reopen(desk: Desk) -> None:
    ticket = filed(desk)
    assert "only they can resolve" not in reply(desk, "claim 1", "UAGENT1")
    assert "only they can resolve" in reply(desk, "resolve T-1", "UAGENT2")
    assert "resolved; the filer has been told" in reply(
        desk, "resolve T-1 rebooted the <!channel> SBC", "UAGENT1"
    )
    notices = desk.fake.wait_for("chat.postMessage", 2, thread_ts=ticket.filer_thread_ts)
    assert any("resolved T-1: rebooted the @channel SBC" in n["text"] for n in notices)  # no broadcast
    assert reply(desk, "resolve T-1", "UAGENT1") == "T-1 is already resolved."
    assert "Only the person who filed" in reply(desk, "reopen T-1", "UFRANK") or "no ticket" in reply(
        desk, "reopen T-1", "UFRANK"
    )
    assert "Only the person who filed" in reply(desk, "reopen T-1", "UBOB")
    assert reply(desk, "reopen T-1", "UALICE") == "T-1 is open again."
    assert ticket_now(desk, 1).status == "open"
    assert "nothing to reopen" in reply(desk, "reopen T-1", "UAGENT1")


def test_status_and_list_show_only_the_own_company(desk: Desk) -> None:
    filed(desk)
    text, blocks = blocks_of(desk, "status T-1", "UBOB")  # same company
    assert "T-1" in text and blocks
    assert "no ticket T-1 among your company" in reply(desk, "status T-1", "UERIN")
    assert "no ticket T-9 among your company" in reply(desk, "status T-9", "UERIN")
    assert "T-1" in blocks_of(desk, "status 1", "UAGENT3")[0]
    title, blocks = blocks_of(desk, "list", "UBOB")
    assert "Acme Telecom" in title and "T-1" in str(blocks)
    assert "No open tickets" in str(blocks_of(desk, "list", "UERIN")[1])


def test_bad_input_gets_an_explanation(desk: Desk) -> None:
    assert "Please give a ticket id" in reply(desk, "claim", "UAGENT1")
    assert "Please give a ticket id" in reply(desk, "claim X-12", "UAGENT1")
    assert reply(desk, "claim T-77", "UAGENT1") == "There is no ticket T-77."
    assert "Please give a ticket id" in reply(desk, "status", "UALICE")
    assert "I don't know `/ticket dance`" in reply(desk, "dance", "UAGENT1")
    assert "Use `/ticket new tech`" in reply(desk, "new sales", "UALICE")


def test_queue_soonest_due_first_with_time_left(desk: Desk) -> None:
    filed(desk, queue="care", view_id="VCARE")  # due tomorrow 10:00
    filed(desk, queue="tech", view_id="VTECH")  # due today 18:00
    title, blocks = blocks_of(desk, "queue", "UAGENT1")
    rows = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert (
        rows[0].startswith("*<https://fake.slack.example/")
        and "|T-2>*" in rows[0]
        and "due in 8 h" in rows[0]
    )
    assert "|T-1>*" in rows[1]
    assert "2 open" in title
    assert "T-1" not in str(blocks_of(desk, "queue tech cet", "UAGENT1")[1])
    assert "The queue is empty" in str(blocks_of(desk, "queue est", "UAGENT1")[1])
    assert "Usage" in reply(desk, "queue sales", "UAGENT1")
    assert "Only support agents" in reply(desk, "queue", "UALICE")
    desk.clock.advance(hours=10)
    _, blocks = blocks_of(desk, "queue tech", "UAGENT1")
    assert "breached 2 h ago" in str(blocks)


def test_queue_of_500_stays_within_slack_limits(desk: Desk) -> None:
    from storage.pings import owe  # noqa: F401  (the store alone: 500 filings over HTTP would be slow)

    with session_scope(desk.engine) as session:
        base = tickets(desk)
        assert base == []
        for n in range(500):
            now = desk.clock()
            session.add(Ticket(**load_ticket(n, now, now.add(minutes=n))))
    title, blocks = blocks_of(desk, "queue", "UAGENT1")
    assert len(blocks) <= 50 and "480 more" in str(blocks[-1]) and "500 open" in title


def test_agent_reply_in_the_thread_is_a_first_response(desk: Desk) -> None:
    ticket = filed(desk)
    desk.clock.advance(minutes=5)
    # a partner's reply does not count; an agent's does
    desk.slack.event(
        {
            "type": "message",
            "channel": "CTECH",
            "user": "UALICE",
            "text": "any news?",
            "ts": "1800000100.000100",
            "thread_ts": ticket.card_ts,
        }
    )
    desk.settle()
    assert ticket_now(desk, 1).first_response_at is None
    desk.slack.event(
        {
            "type": "message",
            "channel": "CTECH",
            "user": "UAGENT2",
            "text": "Looking now",
            "ts": "1800000101.000100",
            "thread_ts": ticket.card_ts,
        }
    )
    for _ in range(50):
        if ticket_now(desk, 1).first_response_at is not None:
            break
        time.sleep(0.05)
    answered = ticket_now(desk, 1)
    assert answered.first_response_by == "UAGENT2" and answered.sla_met is True
    assert answered.claimant_user_id is None  # a reply answers; it does not claim


def test_app_home_for_agents_and_partners(desk: Desk) -> None:
    filed(desk)
    reply(desk, "claim T-1", "UAGENT1")
    desk.slack.event({"type": "app_home_opened", "user": "UAGENT1", "channel": "DAGENT1", "tab": "home"})
    desk.slack.event({"type": "app_home_opened", "user": "UBOB", "channel": "DBOB", "tab": "home"})
    published = desk.fake.wait_for("views.publish", 2)
    by_user = {p["user_id"]: str(p["view"]) for p in published}
    assert "Your tickets" in by_user["UAGENT1"] and "T-1" in by_user["UAGENT1"]
    assert "Acme Telecom" in by_user["UBOB"] and "T-1" in by_user["UBOB"]


def test_a_command_with_the_word_payload_is_answered(desk: Desk) -> None:
    """Bolt would take any form body containing "payload" for an interaction and leave it unanswered."""
    filed(desk)
    assert reply(desk, "note T-1 the payload was corrupt", "UAGENT1").startswith("Internal note added")
    assert reply(desk, "payload", "UALICE").startswith("I don't know `/ticket payload`")
