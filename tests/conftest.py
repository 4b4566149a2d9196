"""Shared fixtures: both databases, the fake Slack, and the app served over real HTTP."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storage.db import make_engine, migrate
from tests.fake_slack import FakeSlack
from tests.helpers import PG_ENV, PG_URL, Desk, _fresh_postgres, _served, start_desk

HEAVY_ENV = "HEAVY_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The README's quick run leaves out the heavy tests (bursts of hundreds, killed processes, big
    imports, real subprocesses); CI (.ci/run, which sets TEST_DATABASE_URL) runs them all."""
    if os.environ.get(PG_ENV) or os.environ.get(HEAVY_ENV):
        return
    skip = pytest.mark.skip(reason=f"heavy: runs in CI (.ci/run), or set {HEAVY_ENV}=1")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Every test that takes this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
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


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with every migration applied, made once per test process and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "desk.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Any, migrated_sqlite: Path) -> str:
    shutil.copyfile(migrated_sqlite, tmp_path / "desk.db")
    return f"sqlite:///{tmp_path}/desk.db"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:

    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def desk(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Desk]:
    yield from _served(sqlite_url, fake_slack)


@pytest.fixture
def served(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Callable[..., Desk]]:
    """A served desk with settings of its own (`served(channel_pace_seconds=0.5)`), closed after."""
    started: list[Desk] = []

    def start(**settings: Any) -> Desk:
        started.append(start_desk(sqlite_url, fake_slack, **settings))
        return started[-1]

    yield start
    for running in started:
        running.close()


@pytest.fixture
def desk_both(db_url: str, fake_slack: FakeSlack) -> Iterator[Desk]:
    """The served app on SQLite and on PostgreSQL."""
    yield from _served(db_url, fake_slack)
