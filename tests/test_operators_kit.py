"""The operator's kit (issue 21): /metrics, structured logs, backup and restore, retention, over the
real paths (the served app, the CLI as a subprocess, the store)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from bot.logs import DeskJsonFormatter, RedactSecrets
from bot.worker import prune
from storage.db import make_engine, session_scope
from storage.models import Ping, PingState, Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import ROOT, Desk, add_companies, file, filed, start_desk, wait_until

SECRET = "xoxb-123456-secret-token"


def scrape(desk: Desk, token: str | None = None) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.get(f"http://127.0.0.1:{desk.server.port}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.status_code
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[str, Any], name: str, **labels: str) -> float:
    return sum(v for key, v in samples.get(name, {}).items() if set(labels.items()) <= set(key))


def test_metrics_after_a_filing_a_breach_alert_and_a_429(desk: Desk) -> None:
    before = scrape(desk)
    filed(desk)
    desk.fake.fail("chat.postMessage", status=429, retry_after=1)
    desk.at("2026-11-24T18:01:00+01:00")
    desk.tick()  # the breach alert is answered 429 ...
    desk.clock.advance(seconds=5)
    desk.tick()  # ... and posted on the next round
    import handlers.metrics as metrics

    metrics.STORE_CACHE_SECONDS = 0  # read the store anew for this scrape
    after = scrape(desk)
    assert value(after, "sla_desk_ack_seconds_count", kind="interaction") > value(
        before, "sla_desk_ack_seconds_count", kind="interaction"
    )
    assert value(after, "sla_desk_ack_seconds_count", kind="command") >= 1
    sent = value(after, "sla_desk_deliveries_total", kind="breach", outcome="sent")
    assert sent - value(before, "sla_desk_deliveries_total", kind="breach", outcome="sent") == 1
    assert value(after, "sla_desk_deliveries_total", outcome="retry") >= 1
    rate_limited = value(after, "sla_desk_slack_rate_limited_total", method="chat.postMessage")
    assert rate_limited - value(before, "sla_desk_slack_rate_limited_total", method="chat.postMessage") >= 1
    assert value(after, "sla_desk_open_tickets", desk="cet", queue="tech") == 1
    assert value(after, "sla_desk_breached_open_tickets", desk="cet", queue="tech") == 1
    assert "sla_desk_deliveries_owed" in after and "sla_desk_oldest_owed_seconds" in after
    assert value(after, "sla_desk_incidents_open") == 0


def test_metrics_ask_for_the_token_when_one_is_set(served: Any) -> None:
    desk = served(metrics_token="s3cret-metrics")
    url = f"http://127.0.0.1:{desk.server.port}/metrics"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert "sla_desk_incidents_open" in scrape(desk, "s3cret-metrics")


def test_json_logs_are_one_object_a_line_with_no_secret() -> None:
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(DeskJsonFormatter("%(message)s"))
    handler.addFilter(RedactSecrets([SECRET, "signing-secret-value"]))
    logger = logging.getLogger("sla_desk.test_json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("posting ping %s with token %s", 7, SECRET, extra={"ping": 7, "ticket": 3})
        logger.warning("signature secret signing-secret-value and xapp-1-ABC-def leaked?")
        logger.error("Slack refused ping %s", 9, extra={"slack_method": "chat.postMessage"})
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 3
    assert {"time", "level", "logger", "message", "ticket", "ping", "slack_method", "request_id"} <= set(
        records[0]
    )
    assert (records[0]["ping"], records[0]["ticket"], records[2]["slack_method"]) == (
        7,
        3,
        "chat.postMessage",
    )
    assert records[0]["time"].endswith("Z") and records[1]["level"] == "WARNING"
    text = stream.getvalue()
    assert SECRET not in text and "signing-secret-value" not in text and "xapp-1-ABC" not in text


@pytest.mark.heavy
def test_the_served_bot_logs_json_without_secrets_or_partner_text(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """`python -m bot scheduler` with LOG_FORMAT=json: every line parses, none holds a secret."""
    from tests.helpers import scheduler

    database = f"sqlite:///{tmp_path}/desk.db"
    desk = start_desk(database, fake_slack)
    try:
        filed(desk, description="Our secret partner words about the PBX setup please")
        worker = scheduler(database, fake_slack, "2026-11-24T18:01:00+01:00", LOG_FORMAT="json",
                           SLACK_SIGNING_SECRET="signing-secret-value", LOG_LEVEL="INFO",
                           SLACK_API_URL="http://127.0.0.1:9/api/",  # Slack away: lines to log
                           SLACK_BOT_TOKEN=SECRET)  # fmt: skip
        output, _ = worker.communicate(timeout=120)
    finally:
        desk.close()
    # What the command prints as its result ("delivered 3") is not a log line.
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("delivered ")]
    assert lines, "the scheduler logged nothing"
    for line in lines:
        assert line.startswith("{"), line
        record = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(record)
    assert SECRET not in output and "signing-secret-value" not in output
    assert "secret partner words" not in output


@pytest.mark.heavy
def test_a_backup_taken_during_a_burst_of_filings_restores_every_ticket_and_ping(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path}/desk.db"
    desk = start_desk(database, fake_slack)
    users = add_companies(desk.engine, 12)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}, "PYTHONPATH": str(ROOT)}
    backup_file = tmp_path / "backup.db"
    try:
        burst = threading.Thread(
            target=lambda: [file(desk, "tech", user, view_id=f"VB{n}") for n, user in enumerate(users)]
        )
        burst.start()
        wait_until(lambda: len(list(_tickets(desk))) >= 3)  # in the middle of the burst
        taken = subprocess.run(
            [sys.executable, "-m", "bot", "backup", str(backup_file)],
            env={**env, "DATABASE_URL": database}, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        burst.join(timeout=60)
        desk.settle()
    finally:
        desk.close()
    assert taken.returncode == 0, taken.stderr
    assert "backed up" in taken.stdout
    source = make_engine(database)
    restored_url = f"sqlite:///{tmp_path}/restored.db"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "restore", str(backup_file)],
        env={**env, "DATABASE_URL": restored_url}, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    restored = make_engine(restored_url)
    with session_scope(restored) as session:
        tickets = {t.id: t.submission_key for t in session.exec(select(Ticket))}
        pings = {(p.ticket_id, p.kind, p.seq) for p in session.exec(select(Ping))}
    with session_scope(source) as session:
        original = {t.id: t.submission_key for t in session.exec(select(Ticket)) if t.id in tickets}
        original_pings = {
            (p.ticket_id, p.kind, p.seq) for p in session.exec(select(Ping)) if p.ticket_id in tickets
        }
    assert len(tickets) >= 3 and tickets == original  # every ticket the backup holds, whole
    assert {p for p in original_pings if p[1] in ("card", "confirmation", "breach")} <= pings
    again = subprocess.run(
        [sys.executable, "-m", "bot", "restore", str(backup_file)],
        env={**env, "DATABASE_URL": restored_url}, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 1 and "not empty" in again.stderr  # never over a store in use
    pg = subprocess.run(
        [sys.executable, "-m", "bot", "backup", "dump.pgc"],
        env={**env, "DATABASE_URL": "postgresql+psycopg://desk:pw@db.example/sla"}, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pg.returncode == 1 and pg.stdout.startswith("pg_dump --format=custom") and "pw" not in pg.stdout


def _tickets(desk: Desk) -> list[Ticket]:
    with session_scope(desk.engine) as session:
        return list(session.exec(select(Ticket)))


def test_retention_prunes_old_rows_in_batches_and_reports_stay_the_same(desk: Desk) -> None:
    from datetime import date

    from handlers.operations import reports

    for n in range(3):
        filed(desk, view_id=f"VR{n}")
    from tests.helpers import reply

    for n in range(1, 4):
        reply(desk, f"claim T-{n}", "UAGENT2")
        reply(desk, f"resolve T-{n} fixed", "UAGENT2")
    desk.settle()
    desk.tick()
    now = desk.clock()

    def report_text() -> str:
        with session_scope(desk.engine) as session:
            week = reports.report_of(
                session, desk.runtime.desks, date(2026, 11, 23), date(2026, 11, 29), None, None, now
            )
        return reports.as_text(week)

    before = report_text()
    with session_scope(desk.engine) as session:
        rows_before = session.exec(select(Ping)).all()
        kinds_kept = {p.kind for p in rows_before if p.kind in ("card", "intro", "pin")}
    assert prune(desk.engine, now + timedelta(days=30), 90) == 0  # nothing is old enough yet
    pruned = prune(desk.engine, now + timedelta(days=200), 90)
    with session_scope(desk.engine) as session:
        left = session.exec(select(Ping)).all()
    ended = [p for p in rows_before if p.state in (PingState.SENT, PingState.DROPPED) and p.kind != "card"]
    assert pruned == len(ended) > 0
    assert {p.kind for p in left} >= kinds_kept and all(p.kind == "card" or p.state not in (
        PingState.SENT, PingState.DROPPED) for p in left)  # fmt: skip
    assert report_text() == before


@pytest.mark.parametrize("count", [1200])
def test_pruning_many_rows_takes_small_batches(desk: Desk, count: int) -> None:
    from storage.retention import PRUNE_BATCH, prune_batch

    old = pendulum.parse("2026-01-01T00:00:00Z")
    with session_scope(desk.engine) as session:
        session.add_all(
            [
                Ping(kind="direct", planned_at=old, next_attempt_at=old, state="sent", posted_at=old, seq=n)
                for n in range(count)
            ]
        )
    with session_scope(desk.engine) as session:
        assert prune_batch(session, pendulum.parse("2026-06-01T00:00:00Z")) == PRUNE_BATCH
    assert prune(desk.engine, pendulum.parse("2026-06-01T00:00:00Z"), 1) == count - PRUNE_BATCH


# --- doctor ------------------------------------------------------------------------------------------------


def doctor(desk: Desk, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DESKS"))}
    env.update(
        PYTHONPATH=str(ROOT), SLACK_BOT_TOKEN=SECRET, SLACK_SIGNING_SECRET="signing-secret-value",
        SLACK_API_URL=desk.fake.url, DATABASE_URL=str(desk.engine.url), TECH_CHANNEL="CTECH",
        CARE_CHANNEL="CCARE",
        DESKS=json.dumps({
            "cet": {"timezone": "Europe/Rome", "country": "IT", "lead_group": "SLEADS", "oncall": "UONCALL",
                    "report_channel": "CLEADS"},
            "est": {"timezone": "America/New_York", "country": "US"},
        }),
    )  # fmt: skip
    env.update(settings)
    command = [sys.executable, "-m", "bot", "doctor"]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("problem")]


def test_doctor_on_a_healthy_setup(desk: Desk) -> None:
    from tests.test_partner_channels import SHARED, connect

    desk.fake.user_groups.add("SLEADS")
    desk.fake.channels["CACME"] = SHARED
    connect(desk)
    result = doctor(desk)
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems(result) == []
    text = result.stdout
    for expected in ("the store's schema is migrated", "the bot token is valid", "every scope", "<#CTECH>",
                     "partner channel <#CACME> (Acme Telecom) is still shared", "lead group SLEADS exists",
                     "on-call UONCALL exists", "SLACK_SIGNING_SECRET is set (not shown)"):  # fmt: skip
        assert expected in text, expected
    assert SECRET not in text and "signing-secret-value" not in text


@pytest.mark.heavy
def test_doctor_names_a_missing_and_an_unneeded_scope(desk: Desk) -> None:
    desk.fake.user_groups.add("SLEADS")
    desk.fake.scopes = (desk.fake.scopes - {"pins:write"}) | {"admin"}
    result = doctor(desk)
    assert result.returncode == 1
    assert [p for p in problems(result) if "scopes missing: pins:write" in p]
    assert [p for p in problems(result) if "not needed: admin" in p]


@pytest.mark.heavy
def test_doctor_finds_a_channel_the_bot_left_and_one_no_longer_shared(desk: Desk) -> None:
    from tests.test_partner_channels import SHARED, connect

    desk.fake.user_groups.add("SLEADS")
    desk.fake.channels["CACME"] = SHARED
    connect(desk)
    desk.fake.channels["CACME"] = {"is_shared": False, "is_ext_shared": False}  # unshared meanwhile
    desk.fake.channels["CCARE"] = {"is_member": False}  # the bot was removed from the Care queue
    desk.fake.missing_users.add("UONCALL")
    result = doctor(desk)
    assert result.returncode == 1
    found = "\n".join(problems(result))
    assert "the bot is in the queue channel CARE_CHANNEL <#CCARE> (not a member)" in found
    assert "/invite @SLA Desk" in found
    assert "partner channel <#CACME> (Acme Telecom) is still shared" in found
    assert "on-call UONCALL exists (user_not_found)" in found


@pytest.mark.heavy
def test_doctor_finds_missing_settings_a_bad_token_and_an_unmigrated_store(
    desk: Desk, tmp_path: Path
) -> None:
    desk.fake.fail("auth.test", error="invalid_auth", status=200)
    empty = f"sqlite:///{tmp_path}/empty.db"
    result = doctor(desk, TECH_CHANNEL="", SLACK_SIGNING_SECRET="", DATABASE_URL=empty)
    assert result.returncode == 1
    found = "\n".join(problems(result))
    assert "setting TECH_CHANNEL is set" in found and "setting SLACK_SIGNING_SECRET is set" in found
    assert "the store's schema is migrated (empty" in found and "python -m bot migrate" in found
    assert "the bot token is valid (auth.test: invalid_auth)" in found


@pytest.mark.heavy
def test_the_demo_runs_without_slack_and_prints_the_breach_alert_and_the_resolve() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], env={**env, "PYTHONPATH": str(ROOT)}, cwd="/",
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "breached its first-response SLA" in out and "resolved T-1" in out
    assert "#acme-support › T-1's confirmation" in out and "How did we do on *T-1*" in out
