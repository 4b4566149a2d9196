"""Wiring: the runtime that listeners, operations and the worker share, built once per process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.desks import build_desks
from bot.settings import Settings
from handlers.config import DeskConfig, DeskContacts
from handlers.delivery.deliverer import Deliverer
from handlers.metrics import CountingRetryHandler
from handlers.rules.sla import Clock
from handlers.runtime import Runtime
from storage.db import make_engine, migrate

LOOKUP_TIMEOUT_SECONDS = 2.0  # users.info: a slow Slack can't hold a reply long


# Settings the desk's config takes over under the same name.
SAME_NAMES = (
    "tech_channel", "care_channel", "default_desk", "support_phone", "docs_url", "care_faq_url",
    "certification_minimum", "escalation_max", "worker_interval_seconds", "worker_lease_seconds",
    "worker_batch", "slack_timeout_seconds", "incident_min_tickets", "incident_window_minutes",
    "channel_pace_seconds", "ticket_emoji", "waiting_on_partner", "partner_reminder_days",
    "partner_auto_resolve_days", "reopen_days", "csat_enabled", "csat_answer_days",
)  # fmt: skip


def desk_config(settings: Settings) -> DeskConfig:
    contacts = {
        name: DeskContacts(desk.lead_group, desk.oncall, desk.report_channel)
        for name, desk in settings.desks.items()
    }
    return DeskConfig(
        **{name: getattr(settings, name) for name in SAME_NAMES},
        certification_ladder=tuple(settings.certification_ladder),
        warning_shares=tuple(settings.warning_shares),
        escalation_interval_seconds=settings.escalation_interval_minutes * 60,
        agents=frozenset(settings.agents),
        contacts=contacts,
        team_id=settings.slack_team_id,
        frozen_clock=bool(settings.frozen_time),
        after_ack_threads=settings.server_threads,
    )


def slack_client(settings: Settings, timeout: float) -> WebClient:
    """A client that never retries on its own: a retried post could post twice; the worker retries."""
    return WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        timeout=max(1, round(timeout)),
        retry_handlers=[CountingRetryHandler()],  # counts Slack's errors for /metrics; never retries
    )


def build_runtime(
    settings: Settings,
    clock: Clock,
    engine: Engine | None = None,
    run_migrations: bool = True,
    store_clock: bool = True,
) -> Runtime:
    """`store_clock=False` runs leases and retries on `clock` too: for tests that move time by hand."""
    engine = engine or make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    config = desk_config(settings)
    desks = build_desks(settings)
    client = slack_client(settings, min(LOOKUP_TIMEOUT_SECONDS * 2, settings.slack_timeout_seconds))
    delivery_client = slack_client(settings, settings.slack_timeout_seconds)
    deliverer = Deliverer(config, engine, delivery_client, desks, clock, store_clock=store_clock)
    return Runtime(
        config,
        engine,
        clock,
        desks,
        client,
        deliverer,
        slack_client(settings, LOOKUP_TIMEOUT_SECONDS),
        work=ThreadPoolExecutor(max_workers=config.after_ack_threads, thread_name_prefix="after-ack"),
    )
