"""Reports: figures against hand-computed values on both stores, periods across a DST change, a desk
with a lunch break, the CSV, the CLI, the Slack command with its uploads, and the weekly digest."""

from __future__ import annotations

import csv
import io
import json
import struct
from datetime import date
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from handlers.operations import reports as reports
from handlers.operations import tickets as ops
from storage.db import session_scope
from storage.directory import member_by_slack_id
from storage.models import Partner, SatisfactionAnswer, Ticket
from storage.reports import figures, report_rows
from storage.vocabulary import Queue, TicketClass
from tests.fake_slack import FakeSlack
from tests.helpers import Desk, blocks_of, desk_policy, reply, seed, start_desk

CET = "Europe/Rome"
AGENT1, AGENT2 = ops.Actor("UAGENT1", True), ops.Actor("UAGENT2", True)


def local(text: str) -> pendulum.DateTime:
    return pendulum.parse(text, tz=CET)  # type: ignore[return-value]


def file(
    session: object, desk: ops.DeskPolicy, queue: Queue, klass: TicketClass | None, at: str, key: str
) -> Ticket:
    alice = member_by_slack_id(session, "UALICE")  # type: ignore[arg-type]
    assert alice is not None
    partner = session.get(Partner, alice.partner_id)  # type: ignore[attr-defined]
    new = ops.NewTicket(queue, klass, "s", "d", "p", "call_drops" if klass == "critical" else None, None)
    ticket, _ = ops.file_ticket(session, desk, "UALICE", partner, new, local(at), submission_key=key)  # type: ignore[arg-type]
    return ticket


def week_of_tickets(engine: Engine, desk: ops.DeskPolicy) -> None:
    """Monday 23 to Sunday 29 November 2026, desk cet; the report is read on Thursday 10:00."""
    seed(engine)
    with session_scope(engine) as session:
        t1 = file(session, desk, Queue.TECH, TicketClass.STANDARD, "2026-11-23T10:00", "T1")
        t2 = file(session, desk, Queue.TECH, TicketClass.STANDARD, "2026-11-23T11:00", "T2")
        file(session, desk, Queue.TECH, TicketClass.STANDARD, "2026-11-24T10:00", "T3")  # never answered
        t4 = file(session, desk, Queue.TECH, TicketClass.CRITICAL, "2026-11-25T10:00", "T4")
        file(session, desk, Queue.CARE, None, "2026-11-25T11:00", "T5")  # due Thursday 11:00: not yet
        ops.claim(session, t1, AGENT1, local("2026-11-23T10:30"), desk)  # met, 30 business minutes
        ops.resolve(session, t1, AGENT1, "ok", local("2026-11-23T12:00"))
        ops.reopen(session, desk, t1, AGENT1, local("2026-11-24T09:00"))  # reopened: not resolved now
        ops.claim(session, t2, AGENT2, local("2026-11-24T09:30"), desk)  # breached: 420 + 30 minutes
        ops.resolve(session, t2, AGENT2, "ok", local("2026-11-24T12:00"))  # 25 hours after filing
        ops.claim(session, t4, AGENT1, local("2026-11-25T10:20"), desk)  # met, 20 calendar minutes


def test_every_figure_matches_the_hand_computed_week(engine: Engine) -> None:
    desk = desk_policy()
    week_of_tickets(engine, desk)
    period = reports.bounds(desk.desks.calendars, ["cet"], date(2026, 11, 23), date(2026, 11, 29))
    with session_scope(engine) as session:
        rows = {(r.desk, r.queue, r.klass): r for r in figures(session, period, local("2026-11-26T10:00"))}
    standard = rows[("cet", "tech", "standard")]
    assert (standard.filed, standard.met, standard.breached, standard.reopened) == (3, 1, 2, 1)
    assert standard.met_percent == pytest.approx(100 / 3)
    assert (standard.first_response_p50, standard.first_response_p90) == (30.0, 450.0)
    assert standard.resolution_p50 == 25.0
    assert standard.breaches_by_partner == [("Acme Telecom", 2)]
    assert standard.breaches_by_agent == [("UAGENT2", 1), ("nobody", 1)]
    critical = rows[("cet", "tech", "critical")]
    assert (critical.filed, critical.met, critical.breached, critical.met_percent) == (1, 1, 0, 100.0)
    assert critical.first_response_p50 == 20.0  # calendar minutes for Critical
    care = rows[("cet", "care", "")]
    assert (care.filed, care.met, care.breached, care.met_percent) == (1, 0, 0, None)  # not yet due


def test_the_overall_line_matches_the_hand_computed_week_in_every_format(engine: Engine) -> None:
    """All groups at once: 5 filed, met T-1 and T-4, breached T-2 and T-3; first responses of 20, 30
    and 450 minutes (nearest rank: p50 30, p90 450); T-2 resolved after 25 hours; T-1 reopened."""
    desk = desk_policy()
    week_of_tickets(engine, desk)
    first, last, now = date(2026, 11, 23), date(2026, 11, 29), local("2026-11-26T10:00")
    with session_scope(engine) as session:
        whole = reports.overall_report(session, desk.desks, first, last, None, None, now)
        rows, _ = reports.build_report(session, desk.desks, first, last, None, None, now)
    assert whole is not None and (whole.desk, whole.queue, whole.klass) == ("all", "all", "all")
    assert (whole.filed, whole.met, whole.breached, whole.reopened, whole.met_percent) == (5, 2, 2, 1, 50.0)
    assert (whole.first_response_p50, whole.first_response_p90, whole.resolution_p50) == (30.0, 450.0, 25.0)
    assert whole.breaches_by_partner == [("Acme Telecom", 2)]
    assert whole.breaches_by_agent == [("UAGENT2", 1), ("nobody", 1)]
    line = "filed 5 · met 2 · breached 2 · % met 50.0%"
    report = reports.Report(rows, first, last, desk.desks.labels, overall=whole)
    text = reports.as_text(report)
    assert f"All groups\n  {line}" in text
    document = json.loads(reports.as_json(report))
    assert document["all"]["filed"] == 5 and document["all"]["met_percent"] == 50.0
    assert len(document["groups"]) == 3
    blocks = reports.as_blocks(report)
    assert blocks[1]["text"]["text"].startswith("*All groups*\n" + line)


def test_every_csv_row_matches(engine: Engine) -> None:
    desk = desk_policy()
    week_of_tickets(engine, desk)
    period = reports.bounds(desk.desks.calendars, ["cet"], date(2026, 11, 23), date(2026, 11, 29))
    out = io.StringIO()
    with session_scope(engine) as session:
        written = reports.write_csv(
            report_rows(session, period), out, {"cet": CET}, local("2026-11-26T10:00")
        )
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert written == 5 and lines[0] == reports.CSV_COLUMNS
    assert lines[1] == [
        "T-1", "cet", "tech", "standard", "Acme Telecom", "gold", "2026-11-23T10:00:00+01:00",
        "2026-11-23T18:00:00+01:00", "2026-11-23T10:30:00+01:00", "UAGENT1", "yes",
        "2026-11-23T12:00:00+01:00", "yes", "open", "0", "0", "",
    ]  # fmt: skip
    assert lines[2][10:14] == ["no", "2026-11-24T12:00:00+01:00", "no", "resolved"]
    assert lines[3][8:11] == ["", "", "no"]  # never answered, past due: not met
    assert lines[5][3] == "" and lines[5][10] == ""  # Customer Care has no class; not yet due


def test_formula_looking_cells_are_quoted() -> None:
    out = io.StringIO()
    now = local("2026-11-26T10:00")
    row = (
        9,
        "cet",
        "care",
        None,
        "=HYPERLINK(1)",
        "@gold",
        now,
        now,
        None,
        "-x",
        None,
        None,
        None,
        "open",
        0,
        0,
        None,
    )
    reports.write_csv([row], out, {"cet": CET}, now.subtract(days=1))
    cells = list(csv.reader(io.StringIO(out.getvalue())))[1]
    assert cells[4] == "'=HYPERLINK(1)" and cells[5] == "'@gold" and cells[9] == "'-x"


def test_a_week_across_the_dst_change_has_its_local_days() -> None:
    desk = desk_policy()
    (start, end) = reports.bounds(desk.desks.calendars, ["cet"], date(2026, 10, 19), date(2026, 10, 25))[
        "cet"
    ]
    assert start == pendulum.parse("2026-10-18T22:00:00Z") and end == pendulum.parse("2026-10-25T23:00:00Z")
    assert (end - start).total_seconds() == 7 * 24 * 3600 + 3600  # the Sunday had 25 hours


def test_a_lunch_break_is_not_counted_in_first_response_minutes(sqlite_url: str) -> None:
    from storage.db import make_engine, migrate

    lunch = {d: ["09:00-13:00", "14:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    desks = {
        "cet": {"timezone": CET, "country": "IT", "hours": lunch},
        "est": {"timezone": "America/New_York"},
    }
    desk = desk_policy(desks=desks)
    engine = make_engine(sqlite_url)
    migrate(engine)
    seed(engine)
    with session_scope(engine) as session:
        ticket = file(session, desk, Queue.TECH, TicketClass.STANDARD, "2026-11-23T12:00", "L1")
        ops.claim(session, ticket, AGENT1, local("2026-11-23T14:30"), desk)
    period = reports.bounds(desk.desks.calendars, ["cet"], date(2026, 11, 23), date(2026, 11, 23))
    with session_scope(engine) as session:
        [row] = figures(session, period, local("2026-11-23T15:00"))
    assert row.first_response_p50 == 90.0  # 12:00-13:00 and 14:00-14:30
    engine.dispose()


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("this-week", (date(2026, 11, 23), date(2026, 11, 29))),
        ("last-week", (date(2026, 11, 16), date(2026, 11, 22))),
        ("this-month", (date(2026, 11, 1), date(2026, 11, 30))),
        ("last-month", (date(2026, 10, 1), date(2026, 10, 31))),
        ("2026-01-01..2026-03-31", (date(2026, 1, 1), date(2026, 3, 31))),
    ],
)
def test_periods(word: str, expected: tuple[date, date]) -> None:
    assert reports.parse_period(word, date(2026, 11, 26)) == expected


@pytest.mark.parametrize("word", ["yesterday", "2026-13-01..2026-12-31", "2026-12-31..2026-01-01"])
def test_bad_periods_say_what_is_expected(word: str) -> None:
    with pytest.raises(reports.BadPeriod):
        reports.parse_period(word, date(2026, 11, 26))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])  # type: ignore[return-value]


def test_the_cli_writes_each_format(tmp_path: Path, engine: Engine) -> None:
    from tests.test_server_and_cli import run_cli_here

    week_of_tickets(engine, desk_policy())
    env = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "FROZEN_TIME": "2026-11-26T10:00:00+01:00",
    }
    args = ["report", "--from", "2026-11-23", "--to", "2026-11-29", "--desk", "cet"]
    text = run_cli_here(*args, "--out", "-", env=env, cwd=tmp_path)
    assert text.returncode == 0 and "filed 3 · met 1 · breached 2 · % met 33.3%" in text.stdout
    assert run_cli_here(*args, "--format", "csv", "--out", "r.csv", env=env, cwd=tmp_path).returncode == 0
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == ",".join(reports.CSV_COLUMNS)
    data = json.loads(run_cli_here(*args, "--format", "json", "--out", "-", env=env, cwd=tmp_path).stdout)
    assert [(g["queue"], g["klass"], g["filed"]) for g in data["groups"]] == [
        ("care", "", 1),
        ("tech", "critical", 1),
        ("tech", "standard", 3),
    ]
    assert run_cli_here(*args, "--format", "png", "--out", "r.png", env=env, cwd=tmp_path).returncode == 0
    assert png_size((tmp_path / "r.png").read_bytes()) == (1000, 650)
    bad = run_cli_here(
        "report", "--from", "2026-11-31", "--to", "2026-12-01", "--out", "-", env=env, cwd=tmp_path
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "YYYY-MM-DD" in bad.stderr


def test_slash_report_answers_and_uploads_the_chart_and_csv_to_the_agent(desk: Desk) -> None:
    desk.at("2026-11-26T10:00:00+01:00")
    week_of_tickets(desk.engine, desk_policy())
    assert reply(desk, "report this-week cet tech", "UALICE") == "Only support agents can see SLA reports."
    text, blocks = blocks_of(desk, "report this-week cet tech", "UAGENT1")
    assert "chart and the CSV follow" in text and "filed 3" in str(blocks)
    assert "*All groups*" in str(blocks)  # the overall line, in Block Kit too
    desk.settle()
    desk.tick()
    methods = [c.method for c in desk.fake.calls]
    assert methods.count("files.getUploadURLExternal") == 2 and methods.count("upload") == 2
    [shared] = desk.fake.shared
    assert shared["channel"] == "DAGENT1" and "Your SLA report" in shared["comment"]
    assert "All groups" in shared["comment"]
    png, table = (f["content"] for f in shared["files"])
    assert png_size(png) == (1000, 650) and table.decode().startswith(",".join(reports.CSV_COLUMNS))
    assert "No tickets were filed" in reply(desk, "report 2020-01-01..2020-01-31", "UAGENT1")


@pytest.mark.heavy
def test_the_weekly_digest_goes_out_once_per_desk_and_week(sqlite_url: str, fake_slack: FakeSlack) -> None:
    desks = {
        "cet": {"timezone": CET, "country": "IT", "report_channel": "CLEADSCET"},
        "est": {"timezone": "America/New_York", "country": "US", "report_channel": "CLEADSEST"},
    }
    desk = start_desk(sqlite_url, fake_slack, when="2026-11-30T08:00:00+01:00", desks=desks)
    try:
        assert desk.tick() == 0 and fake_slack.shared == []  # Monday before the cet opening
        desk.at("2026-11-30T11:00:00+01:00")  # the bot was down over the opening: once now
        desk.tick()
        desk.tick()
        assert [s["channel"] for s in fake_slack.shared] == ["CLEADSCET"]
        desk.at("2026-11-30T16:00:00+01:00")  # 10:00 in New York
        desk.tick()
        desk.at("2026-12-01T10:00:00+01:00")
        desk.tick()
        assert sorted(s["channel"] for s in fake_slack.shared) == ["CLEADSCET", "CLEADSEST"]
        assert (
            "Weekly SLA digest" in fake_slack.shared[0]["comment"]
            and "2026-11-23" in fake_slack.shared[0]["comment"]
        )
    finally:
        desk.close()


def test_four_schedulers_after_downtime_post_one_digest_per_desk(
    pg_engine: Engine, fake_slack: FakeSlack
) -> None:
    from tests.helpers import PG_URL, scheduler

    fake_slack.reset()
    seed(pg_engine)
    desks = json.dumps(
        {
            "cet": {"timezone": CET, "country": "IT", "report_channel": "CLEADSCET"},
            "est": {"timezone": "America/New_York", "country": "US", "report_channel": "CLEADSEST"},
        }
    )
    for now in ("2026-11-30T11:00:00+01:00", "2026-11-30T17:00:00+01:00", "2026-12-01T10:00:00+01:00"):
        workers = [scheduler(PG_URL or "", fake_slack, now, DESKS=desks) for _ in range(4)]
        assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    assert sorted(s["channel"] for s in fake_slack.shared) == ["CLEADSCET", "CLEADSEST"]


def test_next_response_and_csat_figures_match_the_hand_computed_week(engine: Engine) -> None:
    """T-1 (claimed Mon 10:30): the partner writes Mon 16:00 and is answered 16:45 (met, 45 business
    minutes), writes Tue 10:00 and is answered Tue 18:30 after the close (breached, 480 business
    minutes), and writes Wed 11:00, answered only by the resolve Thu 09:00 (due Wed 18:00: breached,
    420 business minutes). T-2 was resolved before its follow-up: no window. CSAT: T-1 rated 5 by Alice
    after its resolve; T-4 rated 2 then 3 (the last counts)."""
    from handlers.operations import conversation
    from handlers.operations import satisfaction as csat
    from handlers.operations.conversation import Author, SlackMessage

    desk = desk_policy()
    week_of_tickets(engine, desk)
    alice, agent1 = Author("UALICE", "alice", False, "Acme"), Author("UAGENT1", "agent1", True)

    def said(session: Any, ticket_id: int, who: Author, at: str) -> None:
        ticket = session.get(Ticket, ticket_id)
        when = local(at)
        channel, thread = (
            ("CPARTNER", "1.0") if not who.is_agent else (ticket.queue_channel, ticket.card_ts or "2.0")
        )
        if not who.is_agent:
            ticket.filer_channel, ticket.filer_thread_ts = "CPARTNER", f"1.{ticket_id}"
            thread = ticket.filer_thread_ts
        elif ticket.card_ts is None:
            ticket.card_ts = f"2.{ticket_id}"
            thread = ticket.card_ts
        session.add(ticket)
        session.flush()
        message = SlackMessage(channel, f"{when.timestamp():.6f}", thread, "text")
        conversation.carry_message(session, ticket, message, who, when, desk)

    with session_scope(engine) as session:
        said(session, 1, alice, "2026-11-23T16:00")
        said(session, 1, agent1, "2026-11-23T16:45")
        said(session, 1, alice, "2026-11-24T10:00")
        said(session, 1, agent1, "2026-11-24T18:30")
        said(session, 1, alice, "2026-11-25T11:00")
        said(session, 2, alice, "2026-11-25T11:00")
    with session_scope(engine) as session:
        t1, t4 = session.get(Ticket, 1), session.get(Ticket, 4)
        ops.claim(session, t1, AGENT1, local("2026-11-26T08:59"), desk)  # reopened on Tuesday
        assert isinstance(ops.resolve(session, t1, AGENT1, "ok", local("2026-11-26T09:00"), desk), ops.Done)
        ops.resolve(session, t4, AGENT1, "ok", local("2026-11-25T10:30"), desk)
    acme = member_by_slack_id  # the answers are from Acme's people
    with session_scope(engine) as session:
        partner_id = acme(session, "UALICE").partner_id  # type: ignore[union-attr]
        answers = {a.ticket_id: a.id for a in session.exec(select(SatisfactionAnswer))}
        now = local("2026-11-26T09:30")
        csat.answer(session, desk, answers[1], partner_id, "UALICE", 5, None, now)
        csat.answer(session, desk, answers[4], partner_id, "UBOB", 2, "slow", now)
        csat.answer(session, desk, answers[4], partner_id, "UALICE", 3, None, now.add(minutes=5))
    period = reports.bounds(desk.desks.calendars, ["cet"], date(2026, 11, 23), date(2026, 11, 29))
    with session_scope(engine) as session:
        rows = {(r.desk, r.queue, r.klass): r for r in figures(session, period, local("2026-11-26T10:00"))}
    standard, critical = rows[("cet", "tech", "standard")], rows[("cet", "tech", "critical")]
    assert (standard.next_met, standard.next_breached) == (1, 2)
    assert standard.next_met_percent == pytest.approx(100 / 3)
    assert (standard.next_p50, standard.next_p90) == (420.0, 480.0)
    assert (standard.csat_answers, standard.csat_good, standard.csat_by_agent) == (1, 1, [("UAGENT1", 1, 1)])
    assert (critical.csat_answers, critical.csat_good) == (1, 0)  # rated 3 at last: not 4 or 5
    out = io.StringIO()
    with session_scope(engine) as session:
        now = local("2026-11-26T10:00")
        reports.write_csv(report_rows(session, period, None, now), out, {"cet": CET}, now)
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    assert lines[0][-3:] == ["next_responses", "next_breached", "csat"]
    by_ref = {line[0]: line[-3:] for line in lines[1:]}
    assert [by_ref[ref] for ref in ("T-1", "T-2", "T-4")] == [
        ["3", "2", "5"],
        ["0", "0", ""],
        ["0", "0", "3"],
    ]
    with session_scope(engine) as session:
        week = reports.report_of(
            session, desk.desks, date(2026, 11, 23), date(2026, 11, 29), "cet", None, now
        )
    text = reports.as_text(week)
    assert "next response: met 1 · breached 2 · % met 33.3%" in text
    assert "CSAT: 1 answers · rated 4-5 100.0% · by agent (4-5 of answers): UAGENT1 1/1" in text
