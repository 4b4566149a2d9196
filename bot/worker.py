"""The scheduler: posts due pings and everything else still owed to Slack, tick after tick."""

from __future__ import annotations

import logging
import threading

from handlers.delivery.deliverer import Deliverer
from handlers.runtime import Runtime

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


class Worker:
    def __init__(self, deliverer: Deliverer, interval_seconds: float):
        self.deliverer = deliverer
        self.interval = interval_seconds
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """One pass: everything due now, in batches. A failure is logged, never fatal."""
        try:
            return self.deliverer.drain()
        except Exception:
            log.exception("worker tick failed; trying again next tick")
            return 0

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
