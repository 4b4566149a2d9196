"""What `GET /metrics` shows (Prometheus' text format): counters kept by this process (acks, deliveries,
Slack's errors and 429s), and figures read from the store (owed deliveries and the oldest one's age,
open tickets, running next-response windows, breaches, open incidents), read with a few grouped
queries at most every few seconds, whatever the scrape rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from slack_sdk.http_retry import RetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from sqlalchemy.engine import Engine

from storage.db import reading, session_scope
from storage.metrics import StoreFigures, store_figures

STORE_CACHE_SECONDS = 5.0

# Per process: each process counts what it did; Prometheus sums them.
ACK_SECONDS = Histogram(
    "sla_desk_ack_seconds",
    "Time from a Slack request's arrival to its acknowledgement, by kind",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=None,
)
DELIVERIES = Counter(
    "sla_desk_deliveries",
    "Delivery attempts that ended, by kind and outcome",
    ["kind", "outcome"],
    registry=None,
)
SLACK_ERRORS = Counter(
    "sla_desk_slack_errors",
    "Slack Web API calls that failed, by method and error",
    ["method", "error"],
    registry=None,
)
SLACK_RATE_LIMITED = Counter(
    "sla_desk_slack_rate_limited", "Slack Web API calls answered 429, by method", ["method"], registry=None
)
PROCESS_METRICS = (ACK_SECONDS, DELIVERIES, SLACK_ERRORS, SLACK_RATE_LIMITED)


def request_kind(content_type: str, raw: bytes) -> str:
    """What a Slack request is, from its first bytes (nothing is parsed)."""
    if "json" in content_type:
        return "event"
    if raw.startswith(b"payload="):
        return "interaction"
    return "command"


def delivered(kind: str, outcome: str) -> None:
    DELIVERIES.labels(kind=kind, outcome=outcome).inc()


class CountingRetryHandler(RetryHandler):
    """Sees every answer of a Slack client and counts the failures; never retries (a retried post
    could post twice: the worker retries, on its own terms)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.rstrip("/").rsplit("/", 1)[-1] or "unknown"
        if response is None:
            SLACK_ERRORS.labels(method=method, error="no_answer").inc()
        elif response.status_code == 429:
            SLACK_RATE_LIMITED.labels(method=method).inc()
        elif response.status_code >= 400:
            SLACK_ERRORS.labels(method=method, error=f"http_{response.status_code}").inc()
        elif isinstance(response.body, dict) and response.body.get("ok") is False:
            SLACK_ERRORS.labels(method=method, error=str(response.body.get("error") or "unknown")).inc()
        return False


class StoreCollector:
    """The store's figures as gauges, read at most every `STORE_CACHE_SECONDS`."""

    def __init__(self, engine: Engine, clock: Callable[[], Any]) -> None:
        self.engine, self.clock = engine, clock
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._figures: StoreFigures | None = None

    def figures(self) -> StoreFigures | None:
        with self._lock:
            if self._figures is None or time.monotonic() - self._read_at > STORE_CACHE_SECONDS:
                try:
                    with session_scope(reading(self.engine)) as session:
                        self._figures = store_figures(session, self.clock())
                except Exception:  # the store is away: /health says so; the counters still show
                    self._figures = None
                self._read_at = time.monotonic()
            return self._figures

    def collect(self) -> Iterator[Metric]:
        figures = self.figures()
        if figures is None:
            return
        yield GaugeMetricFamily(
            "sla_desk_deliveries_owed", "Delivery rows due and not yet posted", figures.owed
        )
        yield GaugeMetricFamily(
            "sla_desk_oldest_owed_seconds",
            "Age of the oldest delivery row due and not yet posted",
            figures.oldest_owed_seconds,
        )
        for name, text, values in (
            ("sla_desk_open_tickets", "Open tickets", figures.open_tickets),
            ("sla_desk_running_windows", "Running next-response windows", figures.running_windows),
            ("sla_desk_breached_open_tickets", "Open tickets past their first-response due time, unanswered",
             figures.breached_open),
        ):  # fmt: skip
            family = GaugeMetricFamily(name, text, labels=["desk", "queue"])
            for (desk, queue), count in sorted(values.items()):
                family.add_metric([desk, queue], count)
            yield family
        yield GaugeMetricFamily(
            "sla_desk_incidents_open", "Mass incidents not yet resolved", figures.incidents_open
        )


def registry_for(engine: Engine, clock: Callable[[], Any]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    for metric in PROCESS_METRICS:
        registry.register(metric)
    registry.register(StoreCollector(engine, clock))  # type: ignore[arg-type]
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
