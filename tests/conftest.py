"""Shared fixtures: both databases, the fake Slack, and the app served over real HTTP."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pendulum
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.app import build_app
from bot.clock import SettableClock
from bot.runtime import build_runtime
from bot.server import Server, make_wsgi_app
from bot.settings import Settings
from handlers.runtime import Runtime
from storage.db import make_engine, migrate, session_scope
from storage.directory import add_agent, import_directory, parse_directory_csv
from tests.fake_slack import FakeSlack
from tests.slack_requests import SIGNING_SECRET, SlackSender

PG_ENV = "TEST_DATABASE_URL"
PG_URL = os.environ.get(PG_ENV)

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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Every test that takes this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/desk.db"
    if not PG_URL:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (.ci/run always does)")
    _fresh_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (.ci/run always does)")
    _fresh_postgres(PG_URL)
    engine = make_engine(PG_URL)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/desk.db"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:

    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def seed(engine: Engine) -> None:
    import_directory(engine, parse_directory_csv(io.StringIO(DIRECTORY_CSV), ["cet", "est"]))
    with session_scope(engine) as session:
        for user, desk, lead in AGENTS:
            add_agent(session, user, desk, lead)


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


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
        _env_file=None,
    )
    values.update(overrides)
    return Settings(**values)


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


def start_desk(
    database_url: str, fake: FakeSlack, when: str = "2026-11-24T10:00:00+01:00", **overrides: Any
) -> Desk:
    fake.reset()
    clock = SettableClock(pendulum.parse(when))  # type: ignore[arg-type]
    settings = make_settings(database_url, fake.url, **overrides)
    runtime = build_runtime(settings, clock, store_clock=False)
    runtime.learn_team_id()
    seed(runtime.engine)
    wsgi = make_wsgi_app(build_app(runtime, settings), runtime, settings.slack_signing_secret)
    server = Server(wsgi, "127.0.0.1", 0, threads=8)
    server.start_in_thread()
    sender = SlackSender(f"http://127.0.0.1:{server.port}", fake.url.replace("/api/", "/response/hook"))
    return Desk(runtime, fake, clock, sender, server)


def _served(database_url: str, fake: FakeSlack) -> Iterator[Desk]:
    running = start_desk(database_url, fake)
    yield running
    running.server.close()
    running.engine.dispose()


@pytest.fixture
def desk(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Desk]:
    yield from _served(sqlite_url, fake_slack)


@pytest.fixture
def desk_both(db_url: str, fake_slack: FakeSlack) -> Iterator[Desk]:
    """The served app on SQLite and on PostgreSQL."""
    yield from _served(db_url, fake_slack)


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
