"""Mass incidents over signed HTTP: detection, the incident message, one page, folded pings, and the
agents' claim, update, resolve and unlink reaching every linked partner once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pendulum
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from handlers.operations import reports as reports
from handlers.operations import tickets as ops
from handlers.ui import incidents as incident_views
from storage import incidents as incident_store
from storage.db import make_engine, migrate, session_scope
from storage.directory import member_by_slack_id
from storage.models import Incident, Partner, Ping, Ticket
from storage.reports import IncidentFigures
from storage.vocabulary import PingKind, PingState, Queue, TicketClass, TicketStatus
from tests.helpers import (
    PG_ENV,
    PG_URL,
    Desk,
    _fresh_postgres,
    add_companies,
    at,
    blocks_of,
    desk_policy,
    file,
    reply,
    seed,
    ticket_now,
    tickets,
)
from tests.slack_requests import submitted

CRITICAL = {"class": "critical", "critical_reason": "cloud_unreachable"}


@pytest.fixture
def desk(served: Callable[..., Desk]) -> Desk:
    running = served()
    add_companies(running.engine, 8)
    return running


def critical(desk: Desk, user: str, **answers: Any) -> Ticket:
    """File a Critical ticket as `user` and wait for what the filing sets off."""
    file(desk, "tech", user, view_id=f"V{user}{len(tickets(desk))}", **{**CRITICAL, **answers})
    desk.settle()
    return tickets(desk)[-1]


def incidents(desk: Desk) -> list[Incident]:
    with session_scope(desk.engine) as session:
        return list(session.exec(select(Incident).order_by(Incident.id)))


def incident_messages(desk: Desk) -> list[dict[str, Any]]:
    """The incident messages in the queue channel, as they read now."""
    posted = {i.message_ts for i in incidents(desk)}
    return [m for m in desk.fake.delivered("CTECH") if m["ts"] in posted]


def pages(desk: Desk) -> list[dict[str, Any]]:
    return [
        call
        for call in desk.fake.calls_to("chat.postMessage")
        if str(call.get("text", "")).startswith(":pager:")
    ]


def thread_of(desk: Desk, ticket_id: int) -> list[str]:
    """What the filer of a ticket has read in their thread (after the confirmation)."""
    ticket = ticket_now(desk, ticket_id)
    return [
        m["text"]
        for m in desk.fake.delivered(ticket.filer_channel or "")
        if ticket.filer_thread_ts and m.get("thread_ts") == ticket.filer_thread_ts
    ]


def confirmation_of(desk: Desk, ticket_id: int) -> str:
    ticket = ticket_now(desk, ticket_id)
    posted = desk.fake.delivered(ticket.filer_channel or "")
    [message] = [m for m in posted if m["ts"] == ticket.filer_thread_ts]
    return str(message["text"])


def storm(desk: Desk, count: int) -> list[Ticket]:
    return [critical(desk, f"UP{n:03d}") for n in range(1, count + 1)]


def test_three_criticals_from_three_companies_open_one_incident_with_one_page(desk: Desk) -> None:
    first, second, third = storm(desk, 3)
    desk.tick()
    [incident] = incidents(desk)
    assert incident.ref == "I-1" and incident.message_ts and incident.due_at == first.due_at
    assert [t.incident_id for t in tickets(desk)] == [1, 1, 1]
    assert len(pages(desk)) == 1 and "*Mass incident I-1*" in pages(desk)[0]["text"]
    [message] = incident_messages(desk)
    shown = json.dumps(message["blocks"])
    assert "3 tickets from 3 companies" in shown and "Partner 003" in shown
    # The tickets that opened it keep their cards, which now say they are linked.
    for ticket in (first, second, third):
        assert ticket_now(desk, ticket.id or 0).card_ts
    card_updates = [json.dumps(u["blocks"]) for u in desk.fake.calls_to("chat.update")]
    assert any("Part of mass incident *I-1*" in u for u in card_updates)
    # Each filer is told once: the first two in their thread, the third in its confirmation.
    known = "support is treating it as one incident (I-1)"
    for ticket in (first, second):
        told = [t for t in thread_of(desk, ticket.id or 0) if known in t]
        assert told == [incident_views.known_line("I-1")]
        assert known not in confirmation_of(desk, ticket.id or 0)
    assert known in confirmation_of(desk, third.id or 0) and thread_of(desk, third.id or 0) == []
    # Their own deadline pings are folded into the incident's one series.
    with session_scope(desk.engine) as session:
        planned = session.exec(
            select(Ping).where(Ping.state == PingState.PLANNED.value, Ping.kind == PingKind.WARNING.value)
        ).all()
    assert {(p.ticket_id, p.incident_id) for p in planned} == {(None, 1)}


def test_a_fourth_links_without_a_card_and_the_message_is_updated(desk: Desk) -> None:
    storm(desk, 3)
    desk.tick()
    cards_before = [m for m in desk.fake.delivered("CTECH") if not m.get("thread_ts")]
    fourth = critical(desk, "UP004", subject="Cloud gone for us too")
    desk.tick()
    assert ticket_now(desk, fourth.id or 0).incident_id == 1
    assert ticket_now(desk, fourth.id or 0).card_ts is None
    assert [m for m in desk.fake.delivered("CTECH") if not m.get("thread_ts")] == cards_before  # no card
    [message] = incident_messages(desk)
    assert "T-4" in json.dumps(message["blocks"]) and "4 tickets from 4 companies" in message["text"]
    assert "support is treating it as one incident (I-1)" in confirmation_of(desk, fourth.id or 0)
    assert len(pages(desk)) == 1
    _, queue = blocks_of(desk, "queue", "UAGENT1")
    shown = json.dumps(queue)
    assert ":rotating_light:" in shown and "4 tickets from 4 companies" in shown  # the incident heads it
    assert ":link: I-1" in shown  # and its tickets are marked with it
    # The partner's messages in a linked ticket's thread reach the incident message's thread.
    ticket = ticket_now(desk, fourth.id or 0)
    desk.slack.event(
        {
            "type": "message",
            "channel": ticket.filer_channel,
            "user": "UP004",
            "text": "Still down here",
            "ts": "1800009999.000100",
            "thread_ts": ticket.filer_thread_ts,
        }
    )
    desk.settle()
    desk.tick()
    incident = incidents(desk)[0]
    copies = [m for m in desk.fake.delivered("CTECH") if m.get("thread_ts") == incident.message_ts]
    assert [c["text"] for c in copies if "Still down here" in c["text"]][0].startswith("*T-4* · ")


@pytest.mark.parametrize(
    ("fourth_user", "answers"),
    [
        ("UP003", {"critical_reason": "call_drops"}),  # another reason
        ("UP003", {"class": "standard", "critical_reason": None}),  # a Standard never links
        ("UERIN", {}),  # another desk (Silverline is on est)
        ("UP001", {}),  # the same company again: still two companies
    ],
)
def test_what_does_not_make_or_join_an_incident(
    desk: Desk, fourth_user: str, answers: dict[str, Any]
) -> None:
    critical(desk, "UP001")
    critical(desk, "UP002")
    critical(desk, fourth_user, **answers)
    desk.tick()
    assert incidents(desk) == []
    assert all(t.incident_id is None and t.card_ts for t in tickets(desk))


def test_a_standard_never_links_to_an_open_incident(desk: Desk) -> None:
    storm(desk, 3)
    standard = critical(desk, "UP004", **{"class": "standard", "critical_reason": None})
    assert ticket_now(desk, standard.id or 0).incident_id is None


def test_matches_older_than_the_window_do_not_count(desk: Desk) -> None:
    critical(desk, "UP001")
    desk.at("2026-11-24T10:10:00+01:00")
    critical(desk, "UP002")
    desk.at("2026-11-24T10:16:00+01:00")  # the first is 16 minutes old now
    critical(desk, "UP003")
    assert incidents(desk) == []
    desk.at("2026-11-24T10:17:00+01:00")
    critical(desk, "UP004")
    assert [t.incident_id for t in tickets(desk)] == [None, 1, 1, 1]


def test_claim_is_the_first_response_for_every_linked_ticket(desk: Desk) -> None:
    linked = storm(desk, 4)
    desk.tick()
    desk.at("2026-11-24T10:12:00+01:00")
    answer = reply(desk, "incident I-1 claim", "UAGENT2")
    assert answer.startswith("You claimed I-1: the first response for 4 linked tickets")
    desk.settle()
    desk.tick()
    for ticket in linked:
        now = ticket_now(desk, ticket.id or 0)
        assert (now.status, now.claimant_user_id, now.first_response_by) == ("claimed", "UAGENT2", "UAGENT2")
        assert now.sla_met is True
        said = [t for t in thread_of(desk, ticket.id or 0) if "is working on the wider problem (I-1)" in t]
        assert len(said) == 1 and ticket.ref in said[0]
    assert "Claimed by <@UAGENT2>" in json.dumps(incident_messages(desk)[0]["blocks"])
    assert reply(desk, "incident I-1 claim", "UAGENT1") == "I-1 is already claimed by <@UAGENT2>."
    # Nothing of the incident's deadline series is posted any more.
    desk.at("2026-11-24T11:30:00+01:00")
    desk.tick()
    assert not [m for m in desk.fake.delivered("CTECH") if ":hourglass" in m["text"] or ":fire:" in m["text"]]
    # A later filing joins a claimed incident: claimed by the same agent and answered at once.
    late = critical(desk, "UP005")
    assert ticket_now(desk, late.id or 0).first_response_by == "UAGENT2"
    assert "<@UAGENT2> is already working on it." in confirmation_of(desk, late.id or 0)


def test_an_update_reaches_every_linked_partner_once(desk: Desk) -> None:
    linked = storm(desk, 4)
    desk.tick()
    reply(desk, "incident I-1 update The cloud is coming back region by region", "UAGENT1")
    desk.settle()
    desk.tick()
    # The same request again (Slack's retry, a double press) sends nothing twice.
    body = desk.slack.command_body("incident I-1 update The cloud is coming back region by region", "UAGENT1")
    before = len(desk.fake.calls_to("chat.postMessage"))
    desk.slack.post_raw(
        body.replace("trigger_id=trigger.", "trigger_id=trigger.x"), "application/x-www-form-urlencoded"
    )
    desk.settle()
    desk.tick()
    assert len(desk.fake.calls_to("chat.postMessage")) > before  # another request: a new update
    for ticket in linked:
        said = [t for t in thread_of(desk, ticket.id or 0) if "coming back region by region" in t]
        assert len(said) == 2  # the two requests, once each
    assert "region by region" in json.dumps(incident_messages(desk)[0]["blocks"])
    assert reply(desk, "incident I-1 update", "UAGENT1").startswith("Please write the update")
    assert reply(desk, "incident I-1 update hello", "UP001") == "Only support agents can work on incidents."


def test_the_same_update_request_twice_is_sent_once(desk: Desk) -> None:
    storm(desk, 3)
    desk.tick()
    body = desk.slack.command_body("incident I-1 update Engineers are on it", "UAGENT1", ref=900)
    for _ in range(2):
        desk.slack.post_raw(body, "application/x-www-form-urlencoded")
        desk.settle()
    desk.tick()
    for ticket in tickets(desk):
        assert len([t for t in thread_of(desk, ticket.id or 0) if "Engineers are on it" in t]) == 1


@pytest.mark.heavy
def test_resolve_resolves_every_linked_ticket_and_tells_each_filer_once(desk: Desk) -> None:
    linked = storm(desk, 4)
    desk.tick()
    answer = reply(desk, "incident I-1 resolve Carrier fixed its routing", "UAGENT1")
    assert answer == "I-1 is resolved, and with it 4 linked tickets; each partner has been told once."
    desk.settle()
    desk.tick()
    for ticket in linked:
        now = ticket_now(desk, ticket.id or 0)
        assert now.status == TicketStatus.RESOLVED and now.resolution_note == "Carrier fixed its routing"
        assert now.first_response_by == "UAGENT1"
        said = [t for t in thread_of(desk, ticket.id or 0) if "resolved" in t]
        assert len(said) == 1 and "Carrier fixed its routing" in said[0]
    [incident] = incidents(desk)
    assert incident.status == "resolved" and incident.open_key is None
    assert "resolved" in incident_messages(desk)[0]["text"] or "Resolution" in json.dumps(
        incident_messages(desk)[0]["blocks"]
    )
    assert reply(desk, "incident I-1 resolve again", "UAGENT1") == "I-1 is already resolved."
    # The next outage of the kind is a new incident.
    desk.at("2026-11-24T10:20:00+01:00")
    storm_again = [critical(desk, f"UP{n:03d}") for n in (5, 6, 7)]
    assert {ticket_now(desk, t.id or 0).incident_id for t in storm_again} == {2}


@pytest.mark.heavy
def test_unlink_gives_the_ticket_back_its_own_card_and_pings(desk: Desk) -> None:
    storm(desk, 4)
    desk.tick()
    assert reply(desk, "incident I-1 unlink T-4", "UAGENT1").startswith("T-4 is no longer part of I-1")
    desk.settle()
    desk.tick()
    fourth = ticket_now(desk, 4)
    assert fourth.incident_id is None and fourth.card_ts  # a card of its own now
    with session_scope(desk.engine) as session:
        own = session.exec(
            select(Ping).where(Ping.ticket_id == 4, Ping.state == PingState.PLANNED.value)
        ).all()
    assert {p.kind for p in own} >= {PingKind.WARNING.value, PingKind.BREACH.value}
    assert "T-4" not in json.dumps(incident_messages(desk)[0]["blocks"])
    assert [t for t in thread_of(desk, 4) if "handled on its own" in t]
    assert reply(desk, "incident I-1 unlink T-4", "UAGENT1") == "That ticket is not part of I-1."
    # Its own warning comes when its own window says so; the incident's series is the others'.
    at(desk, "2026-11-24T10:16:00+01:00")
    warnings = [m for m in desk.fake.delivered("CTECH") if ":hourglass_flowing_sand:" in m["text"]]
    assert sorted("*T-4*" in w["text"] or "*I-1*" in w["text"] for w in warnings) == [True, True]


def test_one_warning_breach_and_escalation_series_for_the_incident(desk: Desk) -> None:
    storm(desk, 5)
    desk.tick()
    at(desk, "2026-11-24T10:16:00+01:00")  # 50% of the 30-minute Critical window
    at(desk, "2026-11-24T10:31:00+01:00")  # the breach
    posted = [m["text"] for m in desk.fake.delivered("CTECH")]
    warnings = [t for t in posted if t.startswith(":hourglass_flowing_sand:")]
    breaches = [t for t in posted if t.startswith(":rotating_light:") and "breached" in t]
    assert len(warnings) == 1 and "*I-1*" in warnings[0] and "5 tickets" in warnings[0]
    assert len(breaches) == 1 and "mass incident *I-1*" in breaches[0]


def test_incidents_lists_the_open_ones_for_agents_only(desk: Desk) -> None:
    storm(desk, 3)
    desk.tick()
    text, blocks = blocks_of(desk, "incidents", "UAGENT1")
    assert text == "1 open incident" and "3 tickets from 3 companies" in json.dumps(blocks)
    assert reply(desk, "incidents", "UP001") == "Only support agents can see incidents."
    assert reply(desk, "incident I-9 claim", "UAGENT1").startswith("There is no incident I-9")
    assert reply(desk, "incident claim", "UAGENT1").startswith("Usage: `/ticket incident I-3 claim`")


def test_the_incident_buttons_do_what_the_commands_do(desk: Desk) -> None:
    storm(desk, 3)
    desk.tick()
    assert desk.slack.button(incident_views.CLAIM_ACTION, "I-1", "UAGENT1").status_code == 200
    desk.settle()
    assert incidents(desk)[0].claimant_user_id == "UAGENT1"
    [told] = desk.fake.wait_for("chat.postEphemeral", 1, user="UAGENT1")
    assert told["text"].startswith("You claimed I-1")
    forms = len(desk.fake.calls_to("views.open"))
    assert desk.slack.button(incident_views.RESOLVE_ACTION, "I-1", "UAGENT1").status_code == 200
    form = desk.fake.wait_for("views.open", forms + 1)[-1]["view"]
    assert form["callback_id"] == incident_views.RESOLVE_CALLBACK
    note = submitted(form, {"note": "Fixed upstream"})
    answered = desk.slack.view_submission(note, "UAGENT1", view_id="VRES")
    assert answered.status_code == 200 and answered.text == ""
    desk.settle()
    assert incidents(desk)[0].status == "resolved"
    assert {t.status for t in tickets(desk)} == {"resolved"}


def test_the_update_button_asks_for_the_text_and_sends_it_to_every_partner(desk: Desk) -> None:
    storm(desk, 3)
    desk.tick()
    forms = len(desk.fake.calls_to("views.open"))
    assert desk.slack.button(incident_views.UPDATE_ACTION, "I-1", "UAGENT1").status_code == 200
    form = desk.fake.wait_for("views.open", forms + 1)[-1]["view"]
    assert form["callback_id"] == incident_views.UPDATE_CALLBACK
    empty = desk.slack.view_submission(submitted(form, {"text": " "}), "UAGENT1", view_id="VUPD0")
    assert empty.json()["errors"]["text"].startswith("Please write the update")
    text = "Carrier routes restored\nfor most regions"
    answered = desk.slack.view_submission(submitted(form, {"text": text}), "UAGENT1", view_id="VUPD1")
    assert answered.status_code == 200 and answered.text == ""
    desk.settle()
    desk.tick()
    for ticket in tickets(desk):
        said = [t for t in thread_of(desk, ticket.id or 0) if "Carrier routes restored" in t]
        assert len(said) == 1 and "\nfor most regions" in said[0]


# --- decided in the database ------------------------------------------------------------------------------

DESK = desk_policy()
FILED = pendulum.parse("2026-11-24T10:00:00+01:00")


def _file_as(engine: Engine, user: str, key: str, gate: threading.Barrier | None = None) -> None:
    if gate is not None:
        gate.wait(timeout=10)
    with session_scope(engine) as session:
        member = member_by_slack_id(session, user)
        assert member is not None
        partner = session.get(Partner, member.partner_id)
        assert partner is not None
        new = ops.NewTicket(
            Queue.TECH, TicketClass.CRITICAL, "Cloud down", "d", "PBX", "cloud_unreachable", None
        )
        ops.file_ticket(session, DESK, user, partner, new, FILED, submission_key=key)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_filings_at_the_same_moment_open_one_incident(store: str, sqlite_url: str) -> None:
    """Two earlier tickets; then eight companies file at once, each in its own transaction (as two
    processes would): exactly one incident, all ten linked."""
    if store == "postgresql":
        if not PG_URL:
            pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (.ci/run always does)")
        _fresh_postgres(PG_URL)
    engine = make_engine(PG_URL if store == "postgresql" else sqlite_url)
    migrate(engine)
    seed(engine)
    add_companies(engine, 10)
    _file_as(engine, "UP001", "K1")
    _file_as(engine, "UP002", "K2")
    gate = threading.Barrier(8)
    threads = [
        threading.Thread(target=_file_as, args=(engine, f"UP{n:03d}", f"K{n}", gate)) for n in range(3, 11)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with session_scope(engine) as session:
        found = session.exec(select(Incident)).all()
        linked = session.exec(select(Ticket.incident_id)).all()
        paged = session.exec(select(Ping).where(Ping.kind == PingKind.PAGE.value)).all()
    assert len(found) == 1 and linked == [1] * 10 and len(paged) == 1
    engine.dispose()


@pytest.mark.heavy
def test_reports_count_incidents_their_tickets_and_time_to_claim(desk: Desk) -> None:
    storm(desk, 4)
    desk.tick()
    desk.at("2026-11-24T10:12:00+01:00")
    reply(desk, "incident I-1 claim", "UAGENT1")
    desk.settle()
    day = date(2026, 11, 24)
    with session_scope(desk.engine) as session:
        found = reports.incident_report(session, desk.runtime.desks, day, day, None, None)
        rows, _ = reports.build_report(session, desk.runtime.desks, day, day, None, None, desk.clock())
    expected = IncidentFigures(
        "cet", opened=1, linked=4, claimed=1, time_to_claim_p50=12.0, time_to_claim_max=12.0
    )
    assert found == [expected]
    text = reports.as_text(reports.Report(rows, day, day, desk.runtime.desks.labels, found))
    line = "CET: 1 opened · 4 linked tickets · time to claim p50 12 min · longest 12 min"
    assert f"Mass incidents\n  {line}" in text
    assert (
        json.loads(reports.as_json(reports.Report(rows, day, day, {}, found)))["incidents"][0]["linked"] == 4
    )
    _, blocks = blocks_of(desk, "report 2026-11-24..2026-11-24", "UAGENT1")
    assert "Mass incidents" in json.dumps(blocks)


@pytest.mark.heavy
def test_a_ticket_reopened_after_its_incident_is_resolved_gets_a_card_of_its_own(desk: Desk) -> None:
    storm(desk, 4)
    desk.tick()
    reply(desk, "incident I-1 resolve Routing fixed", "UAGENT1")
    desk.settle()
    desk.tick()
    assert ticket_now(desk, 4).card_ts is None
    assert reply(desk, "reopen T-4", "UP004") == "T-4 is open again."
    desk.settle()
    desk.tick()
    reopened = ticket_now(desk, 4)
    assert reopened.incident_id is None and reopened.card_ts and reopened.status == "open"
    assert ticket_now(desk, 1).incident_id == 1  # the others stay part of the resolved incident


def test_a_second_open_incident_is_refused_by_the_store_and_the_filing_joins_the_first(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique key behind the watch row: should a filing ever miss the open incident, it joins it."""
    engine = make_engine(sqlite_url)
    migrate(engine)
    seed(engine)
    add_companies(engine, 5)
    with session_scope(engine) as session:  # open already, though this filing will not see it
        incident_store.create_incident(session, "cet", "tech", "cloud_unreachable", "CTECH", FILED, FILED)
    monkeypatch.setattr(incident_store, "open_incident_or_turn", lambda *args, **kwargs: None)
    for number in (1, 2, 3):
        _file_as(engine, f"UP{number:03d}", f"K{number}")  # the third would open a second one
    with session_scope(engine) as session:
        assert len(session.exec(select(Incident)).all()) == 1
        assert session.exec(select(Ticket.incident_id).order_by(Ticket.id)).all() == [None, None, 1]
    engine.dispose()


def test_after_hours_the_incident_page_ties_in_the_pages_sent_before_it_opened(desk: Desk) -> None:
    desk.at("2026-11-25T03:00:00+01:00")  # a Wednesday night: each Critical pages until it is known
    storm(desk, 4)
    desk.tick()
    texts = [p["text"] for p in pages(desk)]
    assert len(texts) == 3  # T-1 and T-2 paged as they came; then the incident, once
    assert "*Mass incident I-1*" in texts[-1] and "You were paged for T-1, T-2 before it opened" in texts[-1]


@pytest.mark.heavy
def test_resolving_a_large_incident_from_its_form_is_acknowledged_at_once(desk: Desk) -> None:
    """The work (a change per linked ticket) runs after the ack; the agent is told how it went."""
    add_companies(desk.engine, 300, start=9)
    for number in range(9, 309):
        _file_as(desk.engine, f"UP{number:03d}", f"KBIG{number}")
    assert len([t for t in tickets(desk) if t.incident_id == 1]) == 300
    forms = len(desk.fake.calls_to("views.open"))
    desk.slack.button(incident_views.RESOLVE_ACTION, "I-1", "UAGENT1")
    form = desk.fake.wait_for("views.open", forms + 1)[-1]["view"]
    started = time.monotonic()
    answered = desk.slack.view_submission(submitted(form, {"note": "Fixed"}), "UAGENT1", view_id="VBIG")
    assert answered.status_code == 200 and answered.text == "" and time.monotonic() - started < 1.0
    told = desk.fake.wait_for("chat.postEphemeral", 1, timeout=30, user="UAGENT1")
    assert (
        told[-1]["text"]
        == "I-1 is resolved, and with it 300 linked tickets; each partner has been told once."
    )
    assert {t.status for t in tickets(desk)} == {"resolved"}


def test_the_series_is_timed_by_the_earliest_ticket_nobody_has_answered(desk: Desk) -> None:
    critical(desk, "UP001")
    reply(desk, "claim T-1", "UAGENT2")  # answered on its own before anyone saw the outage
    desk.at("2026-11-24T10:05:00+01:00")
    critical(desk, "UP002")
    third = critical(desk, "UP003")
    [incident] = incidents(desk)
    assert incident.due_at == third.due_at == ticket_now(desk, 2).due_at  # 10:35, not T-1's 10:30


@pytest.mark.heavy
def test_unlinking_a_resolved_ticket_gives_it_no_card(desk: Desk) -> None:
    storm(desk, 4)
    desk.tick()
    reply(desk, "resolve T-4 Not the outage after all", "UAGENT1")  # not claimed: refused
    reply(desk, "claim T-4", "UAGENT1")
    reply(desk, "resolve T-4 Not the outage after all", "UAGENT1")
    desk.settle()
    assert ticket_now(desk, 4).status == "resolved"
    assert reply(desk, "incident I-1 unlink T-4", "UAGENT1").startswith("T-4 is no longer part of I-1")
    desk.settle()
    desk.tick()
    assert ticket_now(desk, 4).card_ts is None and ticket_now(desk, 4).incident_id is None


@pytest.mark.heavy
def test_claim_and_resolve_of_500_linked_tickets_hold_the_write_lock_briefly(engine: Engine) -> None:
    """Well inside a form's lock wait (FORM_LOCK_WAIT_MS) even on a loaded CI machine; the figure
    itself (a few hundred ms) is `bench/storm.py`'s."""
    from handlers.listeners.common import FORM_LOCK_WAIT_MS
    from tests.incident_load import claim_and_resolve_seconds, linked_incident

    incident_id = linked_incident(engine, 500)
    claim_seconds, resolve_seconds = claim_and_resolve_seconds(engine, incident_id)
    bound = 1.5 * FORM_LOCK_WAIT_MS / 1000
    assert claim_seconds < bound and resolve_seconds < bound, (claim_seconds, resolve_seconds)
    with session_scope(engine) as session:
        linked = session.exec(select(Ticket).where(Ticket.incident_id == incident_id)).all()
        assert len(linked) == 500 and {t.status for t in linked} == {"resolved"}
        assert all(t.first_response_by == "UAGENT1" and t.sla_met for t in linked)
        notices = session.exec(select(Ping).where(Ping.kind == "notice")).all()
        assert len(notices) == 1000  # claimed, then resolved: two notices per partner, no more
        updates = session.exec(select(Ping).where(Ping.kind == "card_update")).all()
        assert len({u.ticket_id for u in updates}) == 3  # only the tickets with a card
        planned = session.exec(select(Ping).where(Ping.kind.in_(["warning", "breach"]))).all()  # type: ignore[attr-defined]
        assert {p.state for p in planned} == {"dropped"}
