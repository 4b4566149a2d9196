"""What the tests share: settings and a served desk, the directory they start from, requests as Slack
sends them and the answers Slack would show, and waiting on conditions instead of sleeping."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pendulum
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.app import build_app
from bot.clock import SettableClock
from bot.desks import build_desks
from bot.runtime import build_runtime
from bot.server import Server, make_wsgi_app
from bot.settings import Settings
from handlers.config import DeskConfig
from handlers.operations.context import DeskPolicy
from handlers.runtime import Runtime
from storage.db import make_engine, session_scope
from storage.directory import add_agent, import_directory, parse_directory_csv
from storage.models import AuditEvent, Ping, Ticket
from tests.fake_slack import FakeSlack
from tests.slack_requests import SIGNING_SECRET, SlackSender, submitted

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, every: float = 0.02) -> T:
    """The condition's first truthy value, or its last value once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


PG_ENV = "TEST_DATABASE_URL"


def _worker_database(url: str | None) -> str | None:
    """With several test workers (pytest-xdist), each has a PostgreSQL database of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    server, name = url.rsplit("/", 1)
    own = f"{name}_{worker}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own}).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{own}"'))
    admin.dispose()
    return f"{server}/{own}"


PG_URL = _worker_database(os.environ.get(PG_ENV))


DIRECTORY_CSV = """company,tier,desk,assigned_partner,email,slack_user_id,certification
Acme Telecom,gold,cet,,alice@acme.example,UALICE,W-FE
Acme Telecom,gold,cet,,bob@acme.example,UBOB,
Acme Telecom,gold,cet,,carol@acme.example,,W-SE
Bronzy Phones,bronze,cet,Acme Telecom,dave@bronzy.example,UDAVE,W-FE
Silverline,silver,est,,erin@silverline.example,UERIN,W-DE
Silverline,silver,est,,frank@silverline.example,UFRANK,W-FE
"""


AGENTS = [("UAGENT1", "cet", True), ("UAGENT2", "cet", False), ("UAGENT3", "est", True)]


def _fresh_postgres(url: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def seed(engine: Engine) -> None:
    import_directory(engine, parse_directory_csv(io.StringIO(DIRECTORY_CSV), ["cet", "est"]))
    with session_scope(engine) as session:
        for user, desk, lead in AGENTS:
            add_agent(session, user, desk, lead)


def add_companies(engine: Engine, count: int, desk: str = "cet", start: int = 1) -> list[str]:
    """Gold partners "Partner 001"… of the desk, one certified member each (UP001…); their user ids."""
    lines = ["company,tier,desk,assigned_partner,email,slack_user_id,certification"]
    users = []
    for number in range(start, start + count):
        user = f"UP{number:03d}"
        lines.append(f"Partner {number:03d},gold,{desk},,p{number}@partner{number}.example,{user},W-FE")
        users.append(user)
    import_directory(engine, parse_directory_csv(io.StringIO("\n".join(lines) + "\n"), ["cet", "est"]))
    return users


def make_settings(database_url: str, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api_url,
        database_url=database_url,
        tech_channel="CTECH",
        care_channel="CCARE",
        worker_enabled=False,
        worker_batch=50,
        # Most tests post a few messages to one channel at once: pacing is tested on its own.
        channel_pace_seconds=0,
        _env_file=None,
    )
    values.update(overrides)
    return Settings(**values)


def desk_policy(**settings: Any) -> DeskPolicy:
    """What the operations are handed, for tests that call them without a served app."""
    return DeskPolicy(DeskConfig(), build_desks(make_settings("sqlite://", "http://x/api/", **settings)))


@dataclass
class Desk:
    """The app served on a real port, its fake Slack, its clock and its store."""

    runtime: Runtime
    fake: FakeSlack
    clock: SettableClock
    slack: SlackSender
    server: Server

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    def at(self, when: str) -> None:
        self.clock.set(pendulum.parse(when))  # type: ignore[arg-type]

    def tick(self) -> int:
        return self.runtime.deliverer.drain()

    def close(self) -> None:
        """Stop serving once the work requests started is done (it would post into the next test)."""
        self.runtime.wait_idle(20)
        self.server.close()
        self.runtime.work.shutdown(wait=True)
        self.runtime.triggers.shutdown(wait=True)
        self.engine.dispose()

    def settle(self, timeout: float = 20.0) -> None:
        """Until the work the last requests started is done: their listeners (counted from before their
        acks) and all they handed over after."""
        assert self.runtime.wait_idle(timeout), "work after the ack did not finish"


def start_desk(
    database_url: str, fake: FakeSlack, when: str = "2026-11-24T10:00:00+01:00", **overrides: Any
) -> Desk:
    fake.reset()
    clock = SettableClock(pendulum.parse(when))  # type: ignore[arg-type]
    settings = make_settings(database_url, fake.url, **overrides)
    runtime = build_runtime(settings, clock, store_clock=False)
    runtime.learn_team_id()
    seed(runtime.engine)
    wsgi = make_wsgi_app(
        build_app(runtime, settings), runtime, settings.slack_signing_secret, settings.metrics_token
    )
    server = Server(wsgi, "127.0.0.1", 0, threads=8)
    server.start_in_thread()
    sender = SlackSender(f"http://127.0.0.1:{server.port}", fake.url.replace("/api/", "/response/hook"))
    return Desk(runtime, fake, clock, sender, server)


def _served(database_url: str, fake: FakeSlack) -> Iterator[Desk]:
    running = start_desk(database_url, fake)
    yield running
    running.close()


def load_ticket(number: int, filed_at: Any, due_at: Any, **changes: Any) -> dict[str, Any]:
    """The columns of a load-test ticket of Acme's (partner 1) in the tech queue."""
    values: dict[str, Any] = dict(
        queue="tech",
        klass="standard",
        subject=f"Load {number}",
        description="d",
        filer_user_id="UALICE",
        partner_id=1,
        desk="cet",
        status="open",
        filed_at=filed_at,
        due_at=due_at,
        business_time=True,
        outside_hours=False,
        queue_channel="CTECH",
    )
    values.update(changes)
    return values


def deadline_posts(fake: FakeSlack) -> list[tuple[str, str]]:
    """(kind-ish, text) of every accepted warning, breach and escalation."""
    found = []
    for channel, messages in fake.messages.items():
        for message in messages:
            text = message["text"] or ""
            if ":hourglass_flowing_sand:" in text or ":rotating_light:" in text or ":fire:" in text:
                found.append((channel, text))
    return found


def pings(engine: Engine, ticket_id: int = 1) -> dict[tuple[str, int], Ping]:
    with session_scope(engine) as session:
        return {(p.kind, p.seq): p for p in session.exec(select(Ping).where(Ping.ticket_id == ticket_id))}


def at(desk: Desk, when: str) -> int:
    """Move the clock and run the worker once, after what requests started has finished."""
    desk.settle()
    desk.at(when)
    return desk.tick()


def file_without_card(desk: Desk) -> int:
    file(desk, "tech", "UALICE")
    desk.fake.wait_for("chat.postMessage", 2)
    desk.settle()
    return 1


def bulk_due_pings(engine: Engine, tickets: int, now: pendulum.DateTime) -> int:
    """Tickets whose card is posted and whose four deadline pings are all due."""
    seed(engine)
    with session_scope(engine) as session:
        rows = [
            Ticket(
                **load_ticket(
                    n,
                    now.subtract(hours=10),
                    now.subtract(hours=2),
                    card_ts=f"1700000000.{n:06d}",
                    filer_channel="CPARTNER",
                    filer_thread_ts=f"1700000001.{n:06d}",
                )
            )
            for n in range(tickets)
        ]
        session.add_all(rows)
        session.flush()
        plan = [("warning", 0), ("warning", 1), ("breach", 0), ("escalation", 1)]
        session.add_all(
            [
                Ping(
                    ticket_id=t.id or 0,
                    kind=kind,
                    seq=seq,
                    planned_at=now.subtract(minutes=5),
                    next_attempt_at=now.subtract(minutes=5),
                )
                for t in rows
                for kind, seq in plan
            ]
        )
    return tickets * 4


def scheduler(
    database_url: str, fake: FakeSlack, now: str | None, *, once: bool = True, **settings: str
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=fake.url,
        DATABASE_URL=database_url,
        TECH_CHANNEL="CTECH",
        CARE_CHANNEL="CCARE",
        WORKER_BATCH="25",
        WORKER_INTERVAL_SECONDS="0.2",
        WORKER_LEASE_SECONDS="60",
        LOG_LEVEL="WARNING",
        CHANNEL_PACE_SECONDS="0",
    )
    env.update(settings)
    args = [sys.executable, "-m", "bot", "scheduler"] + (["--now", now] if now else [])
    args += ["--once"] if once else []
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def posted_ping_ids(fake: FakeSlack) -> Counter[int]:
    ids: Counter[int] = Counter()
    for messages in fake.messages.values():
        for message in messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "ping_id" in payload:
                ids[payload["ping_id"]] += 1
    return ids


def reply(desk: Desk, text: str, user: str) -> str:
    return blocks_of(desk, text, user)[0]


def blocks_of(desk: Desk, text: str, user: str) -> tuple[str, list[dict[str, Any]]]:
    """The answer to a command: in the ack itself, or (after work) on its response URL."""
    started = time.monotonic()
    response = desk.slack.command(text, user)
    assert response.status_code == 200
    assert time.monotonic() - started < 3, "acknowledged too late"
    if response.content and response.json().get("text"):
        body = response.json()
    else:
        [body] = desk.fake.wait_for("hook", 1, cmd=response.ref)  # type: ignore[attr-defined]
    assert body.get("response_type") == "ephemeral"
    return str(body["text"]), body.get("blocks") or []


def filed(
    desk: Desk, user: str = "UALICE", queue: str = "tech", view_id: str = "VFORM1", **answers: Any
) -> Ticket:
    file(desk, queue, user, view_id=view_id, **answers)
    desk.fake.wait_for("chat.postMessage", 2)
    for _ in range(50):
        ticket = [t for t in tickets(desk) if t.submission_key == view_id][0]
        if ticket.card_ts and ticket.filer_thread_ts:
            desk.settle()  # what the filing owes is delivered before the test moves the clock
            return ticket
        time.sleep(0.05)
    raise AssertionError("card and confirmation were not posted")


def ticket_now(desk: Desk, ticket_id: int) -> Ticket:
    with session_scope(desk.engine) as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def events(desk: Desk, ticket_id: int) -> list[str]:
    with session_scope(desk.engine) as session:
        query = select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
        return [e.event for e in session.exec(query)]


def last_card(desk: Desk) -> str:
    updates = desk.fake.calls_to("chat.update")
    assert updates, "the card was not updated"
    return str(updates[-1]["blocks"])


def open_form(desk: Desk, text: str, user: str) -> dict[str, Any]:
    before = len(desk.fake.calls_to("views.open"))
    response = desk.slack.command(text, user)
    assert response.status_code == 200
    opened = desk.fake.wait_for("views.open", before + 1)
    assert len(opened) == before + 1, response.text
    desk.settle()  # the bot's check of who is filing, done before a person could fill the form in
    return opened[-1]["view"]


def file(desk: Desk, queue: str, user: str, view_id: str = "VFORM1", **answers: Any) -> Any:
    form = open_form(desk, f"new {queue}", user)
    defaults = {
        "subject": "Calls drop after 30 s",
        "description": "Since this morning every outgoing call to mobile numbers drops after thirty seconds.",
        "product": "PBX 0A1B2C3D",
    }
    if queue == "care":
        defaults = {
            "topic": "billing",
            "subject": "Invoice question",
            "description": "The November invoice lists two licenses we cancelled in October.",
        }
    defaults.update(answers)
    return desk.slack.view_submission(submitted(form, defaults), user, view_id=view_id)


def refusal(desk: Desk, text: str, user: str) -> str:
    """`/ticket new …` acks at once and opens the form; a refusal then replaces the form."""
    before = len(desk.fake.calls_to("views.update"))
    assert desk.slack.command(text, user).status_code == 200
    updates = desk.fake.wait_for("views.update", before + 1)
    assert len(updates) == before + 1
    return " ".join(block["text"]["text"] for block in updates[-1]["view"]["blocks"])


def tickets(desk: Desk) -> list[Ticket]:
    with session_scope(desk.engine) as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def audit_events(desk: Desk, event: str) -> list[AuditEvent]:
    with session_scope(desk.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.event == event)))
