"""Everything a listener or the worker needs, assembled once per process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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

log = logging.getLogger(__name__)
# users.info answers: e-mails change rarely; an unknown user is asked again sooner.
EMAIL_CACHE_SECONDS = 3600
LOOKUP_TIMEOUT_SECONDS = 2.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    desks: DeskBook
    client: WebClient
    deliverer: Deliverer
    lookup_client: WebClient  # users.info, with a short timeout: a slow Slack can't hold a reply long
    emails: TTLCache[str, str | None] = field(
        default_factory=lambda: TTLCache(maxsize=50_000, ttl=EMAIL_CACHE_SECONDS)
    )
    team_id: str = ""
    # Work after an ack (Slack calls, replies on the response URL) runs here, never on the pool
    # that acknowledges requests, so a slow Slack can't make another request miss its 3 seconds.
    work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="after-ack")
    )

    def after_ack(self, job: Callable[..., Any], *args: Any) -> Future[Any]:
        def logged() -> Any:
            try:
                return job(*args)
            except Exception:
                log.exception("work after the ack failed: %s", getattr(job, "__name__", job))
                return None

        return self.work.submit(logged)

    def learn_team_id(self) -> str:
        """The workspace the bot is installed in: the setting, else auth.test (once)."""
        if not self.team_id:
            self.team_id = self.settings.slack_team_id
        if not self.team_id:
            try:
                self.team_id = str(self.client.auth_test().get("team_id") or "")
            except Exception as error:  # Slack unreachable at start: checked once it is known
                log.warning("auth.test failed, the workspace check waits for it: %r", error)
        return self.team_id


def slack_client(settings: Settings, timeout: float) -> WebClient:
    """A client that never retries on its own: a retried post could post twice; the worker retries."""
    return WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        timeout=max(1, round(timeout)),
        retry_handlers=[],
    )


def build_runtime(
    settings: Settings,
    clock: Clock,
    engine: Engine | None = None,
    run_migrations: bool = True,
    store_clock: bool = True,
) -> Runtime:
    engine = engine or make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    desks = build_desks(settings)
    client = slack_client(settings, min(LOOKUP_TIMEOUT_SECONDS * 2, settings.slack_timeout_seconds))
    delivery_client = slack_client(settings, settings.slack_timeout_seconds)
    deliverer = Deliverer(settings, engine, delivery_client, desks, clock, store_clock=store_clock)
    lookup_client = slack_client(settings, LOOKUP_TIMEOUT_SECONDS)
    return Runtime(settings, engine, clock, desks, client, deliverer, lookup_client)
