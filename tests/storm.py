"""A cloud outage: many partners file Critical `cloud_unreachable` tickets at once, against two `serve`
processes sharing one PostgreSQL database, with a fake Slack that keeps Slack's one message a second
per channel. Shared by the storm test (200 filings) and `bench/storm.py` (500).

Each filer works from a channel of their own company (as partners do, in their shared channels):
`/ticket new tech` there, then the form. The database is the storm's own, dropped after.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlmodel import col, select

from handlers.ui import forms
from storage.db import make_engine, migrate, session_scope
from storage.models import Incident, Ping, Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import ROOT, add_companies, posted_ping_ids, seed
from tests.slack_requests import SIGNING_SECRET, SlackSender, submitted

FROZEN = "2026-11-24T10:00:00+01:00"  # a Tuesday morning: the desk is open, nobody is paged per ticket


@dataclass
class StormFigures:
    filings: int
    acks: list[float] = field(default_factory=list)  # seconds, every request (commands and forms)
    busy: int = 0  # forms answered "busy" or not in time (each submitted again a second later)
    incident_message_after: float | None = None  # seconds from the first filing
    last_confirmation_after: float | None = None
    confirmations: int = 0
    rate_limited: int = 0  # 429s the fake answered
    duplicates: int = 0  # messages posted more than once (by ping id)
    incidents: int = 0
    linked: int = 0
    pages: int = 0
    incident_updates: int = 0
    filing_seconds: float = 0.0
    incident_rows: dict[str, int] = field(default_factory=dict)  # the incident's deliveries by state
    message_shows_all: bool = False  # the incident message, as it reads at the end, counts every ticket
    settled_after: float = 0.0  # seconds until it did

    def lines(self) -> list[str]:
        acks = sorted(self.acks)
        p99 = acks[int(len(acks) * 0.99) - 1] if acks else 0.0
        return [
            f"filings: {self.filings} in {self.filing_seconds:.1f} s (two serve processes, PostgreSQL)",
            f"acknowledgements: {len(acks)}, slowest {max(acks, default=0):.3f} s, p99 {p99:.3f} s",
            f"forms answered busy or late (and submitted again): {self.busy}",
            f"incidents opened: {self.incidents}, tickets linked: {self.linked}, pages: {self.pages}",
            f"time to the incident message: {self.incident_message_after or 0:.2f} s",
            f"time to the last filer's confirmation: {self.last_confirmation_after or 0:.2f} s "
            f"({self.confirmations}/{self.filings} confirmations)",
            f"incident message updates: {self.incident_updates} "
            f"(it {'counts every' if self.message_shows_all else 'does NOT count every'} ticket "
            f"{self.settled_after:.1f} s after the first filing)",
            f"429 answers from Slack: {self.rate_limited}",
            f"messages posted twice: {self.duplicates}",
            f"the incident's deliveries: {self.incident_rows}",
        ]


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """A database of the storm's own on the PostgreSQL server, dropped after."""
    server = server_url.rsplit("/", 1)[0]
    name = f"storm_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        if os.environ.get("STORM_KEEP_DB"):  # for a look afterwards
            print(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(database_url: str, fake: FakeSlack, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.url,
        SLACK_TEAM_ID="T0TEAM",
        DATABASE_URL=database_url,
        TECH_CHANNEL="CTECH",
        CARE_CHANNEL="CCARE",
        FROZEN_TIME=FROZEN,
        WORKER_INTERVAL_SECONDS="0.5",
        LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        # STORM_LOGS=DIR keeps each process's log (DIR/serve-PORT.log) for a look afterwards.
        stderr=open(Path(logs) / f"serve-{port}.log", "w")
        if (logs := os.environ.get("STORM_LOGS"))
        else subprocess.DEVNULL,  # noqa: SIM115
    )


def _log_file(port: int) -> Any:
    """STORM_LOGS=DIR keeps each process's log (DIR/serve-PORT.log) for a look afterwards."""
    logs = os.environ.get("STORM_LOGS")
    return open(Path(logs) / f"serve-{port}.log", "w") if logs else subprocess.DEVNULL  # noqa: SIM115


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "a serve process stopped"
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("a serve process did not become healthy")


def _file(
    sender: SlackSender, user: str, channel: str, form: dict[str, Any], number: int, at: float
) -> list[float]:
    """One partner's filing at `at` (monotonic), as Slack sends it: the command, then the form; both
    acks' times."""
    time.sleep(max(0.0, at - time.monotonic()))
    started = time.monotonic()
    command = sender.command("new tech", user, channel=channel)
    command_ack = time.monotonic() - started
    assert command.status_code == 200
    answers = {
        "subject": f"Cloud unreachable since 09:55 ({number})",
        "description": "No PBX of ours reaches the cloud: phones show 'no service'.",
        "product": f"PBX {number:08X}",
        "class": "critical",
        "critical_reason": "cloud_unreachable",
    }
    acks = [command_ack]
    while True:  # "busy, submit again in a moment": the partner does, once a second
        started = time.monotonic()
        response = sender.view_submission(submitted(form, answers), user, view_id=f"VSTORM{number}")
        acks.append(time.monotonic() - started)
        if response.status_code == 200 and response.text == "":
            return acks
        # Answered busy, or not in time at all (Slack would say the app did not respond): again.
        assert response.status_code == 404 or "busy" in response.text, response.text
        time.sleep(1.0)


def run_storm(
    server_url: str, fake: FakeSlack, filings: int, spread: float = 20.0, timeout: float = 120.0
) -> StormFigures:
    """`filings` partners file within `spread` seconds, at a steady rate."""
    figures = StormFigures(filings)
    fake.reset()
    fake.pace_per_channel = 1.0  # Slack's documented rate per channel
    with own_database(server_url) as database_url:
        engine = make_engine(database_url)
        migrate(engine)
        seed(engine)
        users = add_companies(engine, filings)
        ports = [_free_port(), _free_port()]
        processes = [_serve(database_url, fake, port) for port in ports]
        try:
            for port, process in zip(ports, processes, strict=True):
                _wait_healthy(port, process)
            senders = [SlackSender(f"http://127.0.0.1:{port}", fake.url + "response") for port in ports]
            channels = [f"CP{number:04d}" for number in range(1, filings + 1)]
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=64) as pool:
                jobs = [
                    pool.submit(
                        _file,
                        senders[number % 2],
                        user,
                        channel,
                        forms.tech_form(forms.form_metadata(channel), "https://docs.example/"),
                        number,
                        started + spread * number / filings,
                    )
                    for number, (user, channel) in enumerate(zip(users, channels, strict=True))
                ]
                for job in jobs:
                    acks = job.result()
                    figures.acks += acks
                    figures.busy += len(acks) - 2
            figures.filing_seconds = time.monotonic() - started
            _wait_for_confirmations(fake, channels, started, figures, timeout)
            _count(fake, engine, started, figures)
            settled = time.monotonic() + 20  # the last coalesced update of the incident message
            while not figures.message_shows_all and time.monotonic() < settled:
                time.sleep(0.5)
                _count(fake, engine, started, figures)
            figures.settled_after = time.monotonic() - started
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            engine.dispose()
    return figures


def _wait_for_confirmations(
    fake: FakeSlack, channels: list[str], started: float, figures: StormFigures, timeout: float
) -> None:
    deadline = started + timeout
    waiting = set(channels)
    while waiting and time.monotonic() < deadline:
        for channel in list(waiting):
            if any(":ticket:" in str(m.get("text")) for m in fake.delivered(channel)):
                waiting.discard(channel)
        time.sleep(0.1)
    figures.confirmations = len(channels) - len(waiting)
    confirmations = [
        c.at for c in fake.calls if c.method == "chat.postMessage" and ":ticket:" in str(c.params.get("text"))
    ]
    if confirmations:
        figures.last_confirmation_after = max(confirmations) - started


def _count(fake: FakeSlack, engine: Any, started: float, figures: StormFigures) -> None:
    figures.rate_limited = fake.rate_limited
    figures.duplicates = sum(1 for count in posted_ping_ids(fake).values() if count > 1)
    messages = [c for c in fake.calls if c.method == "chat.postMessage"]
    incident_posts = [c for c in messages if str(c.params.get("text", "")).startswith("I-")]
    if incident_posts:
        figures.incident_message_after = incident_posts[0].at - started
    figures.pages = len([c for c in messages if str(c.params.get("text", "")).startswith(":pager:")])
    with session_scope(engine) as session:
        incidents = list(session.exec(select(Incident)))
        figures.incidents = len(incidents)
        figures.linked = len([t for t in session.exec(select(Ticket.incident_id)) if t])
        message_ts = {i.message_ts for i in incidents}
        rows = session.exec(select(Ping).where(col(Ping.incident_id).is_not(None))).all()
        figures.incident_rows = dict(
            Counter(f"{p.kind} {p.state} {p.last_error or ''}".strip() for p in rows)
        )
    figures.incident_updates = len([u for u in fake.calls_to("chat.update") if u.get("ts") in message_ts])
    shown = [m for m in fake.delivered("CTECH") if m["ts"] in message_ts]
    figures.message_shows_all = bool(shown) and f"{figures.filings} tickets from" in str(shown[0]["text"])
