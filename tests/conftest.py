"""Shared fixtures: both databases, the fake Slack, and the app served over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from storage.db import make_engine, migrate
from tests.fake_slack import FakeSlack
from tests.helpers import PG_ENV, PG_URL, Desk, _fresh_postgres, _served


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


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def desk(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Desk]:
    yield from _served(sqlite_url, fake_slack)


@pytest.fixture
def desk_both(db_url: str, fake_slack: FakeSlack) -> Iterator[Desk]:
    """The served app on SQLite and on PostgreSQL."""
    yield from _served(db_url, fake_slack)
