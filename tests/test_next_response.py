"""After the first answer (issue 20): next-response windows and their pings, waiting on the partner,
and satisfaction, with the desk's clock set by hand, over signed HTTP against the fake Slack.

The desk is CET, Mon-Fri 09:00-18:00; the clock starts on Tuesday 24 November 2026 at 10:00."""

from __future__ import annotations

import time
from typing import Any

import pendulum
import pytest
from sqlmodel import select

from handlers.ui import satisfaction as csat_views
from storage.db import session_scope
from storage.models import Ping, PingState, ResponseWindow, SatisfactionAnswer
from tests.fake_slack import FakeSlack
from tests.helpers import Desk, blocks_of, filed, reply, scheduler, start_desk, ticket_now, wait_until
from tests.slack_requests import button_payload


def clock_ts(desk: Desk) -> str:
    """A Slack ts for a message written now, by the desk's clock."""
    return f"{desk.clock().timestamp():.6f}"


def partner_writes(desk: Desk, ticket: Any, text: str, when: str | None = None, user: str = "UALICE") -> str:
    if when:
        desk.at(when)
    ts = clock_ts(desk)
    event = {"type": "message", "channel": "CPARTNER", "user": user, "text": text, "ts": ts}
    event["thread_ts"] = ticket.filer_thread_ts
    assert desk.slack.event(event).status_code == 200
    desk.settle()
    return ts


def agent_writes(desk: Desk, ticket: Any, text: str, when: str | None = None, user: str = "UAGENT2") -> None:
    if when:
        desk.at(when)
    event = {"type": "message", "channel": "CTECH", "user": user, "text": text, "ts": clock_ts(desk)}
    event["thread_ts"] = ticket.card_ts
    assert desk.slack.event(event).status_code == 200
    desk.settle()


def answered_ticket(desk: Desk, **answers: Any) -> Any:
    """A Standard ticket filed at 10:00 and claimed at 10:05: its first response is given."""
    ticket = filed(desk, **answers)
    desk.at("2026-11-24T10:05:00+01:00")
    reply(desk, "claim T-1", "UAGENT2")
    desk.settle()
    return ticket_now(desk, ticket.id)


def next_alerts(desk: Desk, word: str = "breached its next-response SLA") -> list[str]:
    desk.tick()
    return [str(m["text"]) for m in desk.fake.delivered("CTECH") if word in str(m.get("text"))]


def windows(desk: Desk) -> list[ResponseWindow]:
    with session_scope(desk.engine) as session:
        return list(session.exec(select(ResponseWindow).order_by(ResponseWindow.id)))


def test_a_follow_up_at_16_breaches_at_the_days_close_once(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    partner_writes(desk, ticket, "Still dropping", "2026-11-24T16:00:00+01:00")
    [window] = windows(desk)
    assert pendulum.instance(window.due_at).in_timezone("Europe/Rome").format("HH:mm") == "18:00"
    assert "next response due Tue 24 Nov 18:00 CET" in str(desk.fake.calls_to("chat.update")[-1]["blocks"])
    desk.at("2026-11-24T17:00:00+01:00")
    assert next_alerts(desk, "next-response window") == next_alerts(desk, "50% of the next-response")
    desk.at("2026-11-24T18:01:00+01:00")
    [alert] = next_alerts(desk)
    assert "*T-1*" in alert and "The partner's message" in alert
    desk.at("2026-11-24T18:30:00+01:00")
    assert len(next_alerts(desk)) == 1  # once


def test_an_answer_at_17_59_meets_it_and_nothing_breaches(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    partner_writes(desk, ticket, "Still dropping", "2026-11-24T16:00:00+01:00")
    agent_writes(desk, ticket, "Found it: a trunk setting", "2026-11-24T17:59:00+01:00")
    [window] = windows(desk)
    assert window.met is True and window.closed_by == "UAGENT2"
    desk.at("2026-11-24T18:01:00+01:00")
    assert next_alerts(desk) == []
    assert ticket_now(desk, 1).turn == "partner"


def test_a_note_does_not_answer_it(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    partner_writes(desk, ticket, "Still dropping", "2026-11-24T16:00:00+01:00")
    agent_writes(desk, ticket, "NOTE: looks like the carrier", "2026-11-24T17:00:00+01:00")
    reply(desk, "note T-1 asked the carrier", "UAGENT2")
    desk.at("2026-11-24T18:01:00+01:00")
    assert len(next_alerts(desk)) == 1
    assert windows(desk)[0].closed_at is None


def test_three_partner_messages_in_a_row_open_one_window_from_the_first(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    first = partner_writes(desk, ticket, "One", "2026-11-24T16:00:00+01:00")
    partner_writes(desk, ticket, "Two", "2026-11-24T16:20:00+01:00")
    partner_writes(desk, ticket, "Three", "2026-11-24T16:40:00+01:00", user="UBOB")
    [window] = windows(desk)
    assert window.opened_ts == first
    with session_scope(desk.engine) as session:
        breaches = session.exec(select(Ping).where(Ping.kind == "next_breach")).all()
        assert len(breaches) == 1


def test_a_follow_up_at_19_is_due_at_the_next_working_days_close(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    partner_writes(desk, ticket, "After hours", "2026-11-24T19:00:00+01:00")
    [window] = windows(desk)
    due = pendulum.instance(window.due_at).in_timezone("Europe/Rome")
    assert due.format("ddd D MMM HH:mm") == "Wed 25 Nov 18:00"


def test_a_critical_follow_up_is_due_in_30_minutes(desk: Desk) -> None:
    ticket = answered_ticket(desk, **{"class": "critical", "critical_reason": "call_drops"})
    partner_writes(desk, ticket, "Dropping again", "2026-11-24T21:00:00+01:00")
    [window] = windows(desk)
    assert (window.due_at - window.opened_at).total_seconds() == 30 * 60
    desk.at("2026-11-24T21:31:00+01:00")
    assert len(next_alerts(desk)) == 1


def test_the_queue_sorts_by_the_soonest_window_of_any_kind(desk: Desk) -> None:
    first = answered_ticket(desk)  # T-1: answered; the partner writes again at 10:10
    desk.at("2026-11-24T10:06:00+01:00")
    filed(desk, view_id="VFORM2")  # T-2: unanswered, due at 18:00
    partner_writes(desk, first, "Any news?", "2026-11-24T10:10:00+01:00")
    # Both are due at 18:00 today; T-3, answered and waiting on the partner, has no clock: last.
    desk.at("2026-11-24T10:20:00+01:00")
    filed(desk, view_id="VFORM3")
    reply(desk, "claim T-3", "UAGENT2")
    text = str(blocks_of(desk, "queue", "UAGENT1")[1])
    assert text.index("T-1") < text.index("T-3") and text.index("T-2") < text.index("T-3"), text
    assert "next response due" in str(blocks_of(desk, "status T-1", "UALICE")[1])


# --- waiting on the partner ---------------------------------------------------------------------------------


def in_partner_thread(desk: Desk, ticket: Any, words: str) -> list[str]:
    desk.tick()
    return [
        str(m["text"])
        for m in desk.fake.delivered("CPARTNER")
        if m.get("thread_ts") == ticket.filer_thread_ts and words in str(m.get("text"))
    ]


def test_reminder_after_3_business_days_resolve_after_5_more_each_once(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    agent_writes(desk, ticket, "Please send the SIP trace", "2026-11-24T11:00:00+01:00")
    desk.at("2026-11-27T10:59:00+01:00")  # Friday: three business days are not over yet
    assert in_partner_thread(desk, ticket, "waiting for your answer") == []
    desk.at("2026-11-27T11:00:00+01:00")
    assert len(in_partner_thread(desk, ticket, "waiting for your answer")) == 1
    desk.at("2026-12-04T10:59:00+01:00")
    assert len(in_partner_thread(desk, ticket, "waiting for your answer")) == 1
    assert ticket_now(desk, 1).status != "resolved"
    desk.at("2026-12-04T11:00:00+01:00")  # five business days after the reminder
    [resolved] = in_partner_thread(desk, ticket, "no answer from you")
    assert "within 14 days to reopen" in resolved
    now = ticket_now(desk, 1)
    assert now.status == "resolved" and now.auto_resolved
    desk.at("2026-12-10T11:00:00+01:00")
    assert len(in_partner_thread(desk, ticket, "no answer from you")) == 1
    # The partner writes within 14 days: reopened, and support's turn again.
    partner_writes(desk, ticket, "Sorry, here is the trace", "2026-12-11T09:30:00+01:00")
    now = ticket_now(desk, 1)
    assert now.status == "open" and now.turn == "support" and not now.auto_resolved
    assert windows(desk)[-1].closed_at is None  # a next-response window runs from their message


def test_downtime_posts_only_the_resolve_and_a_partner_reply_cancels_both(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    agent_writes(desk, ticket, "Please send the SIP trace", "2026-11-24T11:00:00+01:00")
    desk.at("2026-12-07T09:00:00+01:00")  # the bot was down through both due times
    assert in_partner_thread(desk, ticket, "waiting for your answer") == []
    assert len(in_partner_thread(desk, ticket, "no answer from you")) == 1
    filed(desk, view_id="VFORM9")
    second = ticket_now(desk, 2)
    reply(desk, "claim T-2", "UAGENT2")
    agent_writes(desk, second, "Which PBX?", "2026-12-07T10:00:00+01:00")
    partner_writes(desk, second, "The 0A1B one", "2026-12-07T11:00:00+01:00")
    desk.at("2026-12-31T12:00:00+01:00")
    assert in_partner_thread(desk, second, "waiting for your answer") == []
    assert ticket_now(desk, 2).status != "resolved"


def test_the_settings_turn_waiting_on_the_partner_off(served: Any) -> None:
    desk = served(waiting_on_partner=False)
    ticket = answered_ticket(desk)
    agent_writes(desk, ticket, "Please send the SIP trace", "2026-11-24T11:00:00+01:00")
    with session_scope(desk.engine) as session:
        assert session.exec(select(Ping).where(Ping.kind.in_(["reminder", "auto_resolve"]))).all() == []


# --- satisfaction -----------------------------------------------------------------------------------------


def questions(desk: Desk, ticket: Any) -> list[dict[str, Any]]:
    desk.settle()
    desk.tick()
    return [
        m for m in desk.fake.delivered("CPARTNER")
        if m.get("thread_ts") == ticket.filer_thread_ts and "How did we do" in str(m.get("text"))
    ]  # fmt: skip


def rate(desk: Desk, value: str, user: str, action: str = f"{csat_views.CSAT_RATE_ACTION}_3") -> Any:
    payload = {**button_payload(action, value, user, "CPARTNER"), "response_url": desk.slack.response_url}
    assert desk.slack.interaction(payload).status_code == 200
    desk.settle()
    return desk.fake.calls_to("hook")[-1]


def test_csat_asked_once_answered_by_the_company_last_answer_counts_low_one_alerted_once(
    served: Any,
) -> None:
    desks = {
        "cet": {"timezone": "Europe/Rome", "country": "IT", "report_channel": "CLEADS"},
        "est": {"timezone": "America/New_York", "country": "US"},
    }
    desk = served(desks=desks)
    ticket = answered_ticket(desk)
    reply(desk, "resolve T-1 fixed the trunk", "UAGENT2")
    desk.settle()
    [question] = questions(desk, ticket)
    assert len(questions(desk, ticket)) == 1
    buttons = [b for b in question["blocks"] if b["type"] == "actions"][0]["elements"]
    value = buttons[1]["value"]  # "ANSWER:2"
    answer_id = value.split(":")[0]
    assert "Only people of the ticket's company" in rate(desk, value, "UERIN")["text"]  # Silverline
    assert "Only people" in rate(desk, value, "UAGENT1")["text"]
    assert "rated it 2/5" in rate(desk, value, "UBOB", f"{csat_views.CSAT_RATE_ACTION}_2")["text"]
    rate(desk, f"{answer_id}:1", "UALICE", f"{csat_views.CSAT_RATE_ACTION}_1")
    rate(desk, f"{answer_id}:4", "UALICE", f"{csat_views.CSAT_RATE_ACTION}_4")
    with session_scope(desk.engine) as session:
        [row] = session.exec(select(SatisfactionAnswer)).all()
        assert (row.rating, row.answered_by, row.alerted) == (4, "UALICE", True)
    desk.tick()
    alerts = [m for m in desk.fake.delivered("CLEADS") if "rated 2/5" in str(m.get("text"))]
    assert len(alerts) == 1
    assert "4/5" in str(desk.fake.calls_to("chat.update")[-1]["blocks"])  # the card shows the rating


def test_the_comment_form_and_a_reopen_then_resolve_asks_again_once(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    reply(desk, "resolve T-1 done", "UAGENT2")
    [question] = questions(desk, ticket)
    comment = [b for b in question["blocks"] if b["type"] == "actions"][0]["elements"][-1]
    payload = {**button_payload(comment["action_id"], comment["value"], "UALICE", "CPARTNER")}
    assert desk.slack.interaction({**payload, "trigger_id": "t.csat"}).status_code == 200
    opened = wait_until(lambda: [c for c in desk.fake.calls_to("views.open") if c["trigger_id"] == "t.csat"])
    form = opened[0]["view"]
    state = {
        "rating": {"rating": {"type": "radio_buttons", "selected_option": {"value": "5"}}},
        "comment": {"comment": {"type": "plain_text_input", "value": "Quick <!channel> fix"}},
    }
    response = desk.slack.view_submission({**form, "state": {"values": state}}, "UALICE", view_id="VCSAT")
    assert response.status_code == 200
    desk.settle()
    with session_scope(desk.engine) as session:
        [row] = session.exec(select(SatisfactionAnswer)).all()
        assert (row.rating, row.comment) == (5, "Quick <!channel> fix")
    reply(desk, "reopen T-1", "UAGENT2")
    reply(desk, "claim T-1", "UAGENT2")
    desk.clock.advance(minutes=5)
    reply(desk, "resolve T-1 done again", "UAGENT2")
    assert len(questions(desk, ticket)) == 2  # one per resolve


# --- two processes on PostgreSQL -------------------------------------------------------------------------


@pytest.mark.heavy
def test_two_schedulers_post_each_next_response_ping_once(fake_slack: FakeSlack) -> None:
    from tests.conftest import PG_URL, _fresh_postgres

    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set TEST_DATABASE_URL (.ci/run always does)")
    _fresh_postgres(PG_URL)
    desk = start_desk(PG_URL, fake_slack)
    try:
        for n in range(1, 6):
            desk.at("2026-11-24T10:00:00+01:00")
            filed(desk, view_id=f"VPG{n}")
            reply(desk, f"claim T-{n}", "UAGENT2")
            when = f"2026-11-24T16:{n:02d}:00+01:00"  # each its own Slack message
            partner_writes(desk, ticket_now(desk, n), f"Follow-up {n}", when)
        desk.settle()
        before = len(desk.fake.posts("CTECH"))
        workers = [scheduler(PG_URL, fake_slack, "2026-11-24T19:30:00+01:00") for _ in range(2)]
        for worker in workers:
            worker.wait(timeout=120)
        with session_scope(desk.engine) as session:
            rows = session.exec(select(Ping).where(Ping.kind.in_(["next_warning", "next_breach"]))).all()
            sent = [p for p in rows if p.state == PingState.SENT]
        breaches = [m for m in desk.fake.posts("CTECH")[before:] if "next-response SLA" in str(m.get("text"))]
        assert len(breaches) == 5 and len({b["text"] for b in breaches}) == 5
        assert len([p for p in sent if p.kind == "next_breach"]) == 5
    finally:
        time.sleep(0.1)
        desk.close()


def test_a_class_change_replans_the_running_window(desk: Desk) -> None:
    ticket = answered_ticket(desk)
    partner_writes(desk, ticket, "Now every call drops", "2026-11-24T16:00:00+01:00")
    desk.at("2026-11-24T16:40:00+01:00")
    reply(desk, "class T-1 critical call_drops", "UAGENT2")
    desk.settle()
    [window] = windows(desk)
    assert (window.due_at - window.opened_at).total_seconds() == 30 * 60  # Critical, from the message
    [alert] = next_alerts(desk)  # its time has passed: the breach alert at once, once
    assert "next-response SLA" in alert
    desk.at("2026-11-24T17:00:00+01:00")
    assert len(next_alerts(desk)) == 1
