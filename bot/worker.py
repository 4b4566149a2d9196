"""The scheduler: posts due pings and everything else still owed to Slack, tick after tick."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from handlers.delivery.deliverer import Deliverer
from handlers.runtime import Runtime
from storage.db import session_scope
from storage.retention import PRUNE_BATCH, prune_batch

log = logging.getLogger(__name__)


def until_known(runtime: Runtime, every_seconds: float, stop: threading.Event) -> threading.Thread | None:
    """Ask Slack who the bot is (auth.test) until it answers, in the background; None when known."""
    runtime.learn_team_id()
    if runtime.identity_known:
        return None

    def keep_asking() -> None:
        while not runtime.identity_known and not stop.wait(every_seconds):
            runtime.learn_team_id()
        if runtime.identity_known:
            log.info("auth.test answered: workspace %s, bot user %s", runtime.team_id, runtime.bot_user_id)

    thread = threading.Thread(target=keep_asking, name="auth-test", daemon=True)
    thread.start()
    return thread


PRUNE_EVERY_SECONDS = 300.0
PRUNE_BATCHES_A_ROUND = 20  # at most 10,000 rows a round, 500 a transaction


def prune(engine: Engine, now: datetime, retention_days: int) -> int:
    """Delivery rows that ended more than `retention_days` ago, a small batch a transaction."""
    before, pruned = now - timedelta(days=retention_days), 0
    for _ in range(PRUNE_BATCHES_A_ROUND):
        with session_scope(engine) as session:
            done = prune_batch(session, before)
        pruned += done
        if done < PRUNE_BATCH:
            break
    return pruned


class Worker:
    def __init__(self, deliverer: Deliverer, interval_seconds: float, retention_days: int = 90):
        self.deliverer = deliverer
        self.interval = interval_seconds
        self.retention_days = retention_days
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0

    def tick(self) -> int:
        """One pass: everything due now, in batches; now and then, old rows pruned. A failure is
        logged, never fatal."""
        try:
            delivered = self.deliverer.drain()
        except Exception:
            log.exception("worker tick failed; trying again next tick")
            return 0
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            try:
                pruned = prune(self.deliverer.engine, self.deliverer.clock(), self.retention_days)
                if pruned:
                    log.info("pruned %d delivery rows older than %d days", pruned, self.retention_days)
            except Exception:
                log.exception("pruning old delivery rows failed; trying again later")
        return delivered

    def run(self) -> None:
        log.debug("worker running every %.1f s", self.interval)
        while not self.stop_event.is_set():
            self.tick()
            self.stop_event.wait(self.interval)

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, name="worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread:
            self._thread.join(timeout=10)
