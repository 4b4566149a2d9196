"""Everything a listener or the worker needs, assembled once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.delivery import Deliverer
from bot.desks import DeskBook, build_desks
from bot.settings import Settings
from handlers.sla import Clock
from storage.db import make_engine, migrate


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    desks: DeskBook
    client: WebClient
    deliverer: Deliverer
    # Who was allowed to open a form a moment ago: `/ticket new` opens it without the directory
    # (the submit checks again on fresh data).
    recently_allowed: TTLCache[tuple[str, Any], bool] = field(
        default_factory=lambda: TTLCache(maxsize=10_000, ttl=30)
    )


def build_runtime(
    settings: Settings, clock: Clock, engine: Engine | None = None, run_migrations: bool = True
) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    desks = build_desks(settings)
    client = WebClient(token=settings.slack_bot_token or None, base_url=settings.slack_api_url, timeout=10)
    deliverer = Deliverer(settings, engine, client, desks, clock)
    return Runtime(settings, engine, clock, desks, client, deliverer)
