"""What listeners and operations are handed: the store, the clock, Slack clients, the desks, the
delivery, and a pool for work after an ack. Built by the composition root (`bot/runtime.py`)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from handlers.config import DeskConfig
from handlers.delivery.deliverer import Deliverer
from handlers.desks import DeskBook
from handlers.operations.context import DeskPolicy
from handlers.rules.sla import Clock
from storage.db import collect_owed

log = logging.getLogger(__name__)
# users.info answers: e-mails change rarely.
EMAIL_CACHE_SECONDS = 3600
FOLLOW_UP_ROUNDS = 3


class WorkInFlight:
    """Jobs handed to a pool and not ended yet: listeners, work after their acks, forms opening."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def submit(self, submit: Callable[..., Future[Any]], job: Callable[..., Any], *args: Any) -> Future[Any]:
        """Hand `job` to a pool's `submit`, counted from now until it ends."""
        self._change(+1)
        try:
            return submit(self._counted, job, *args)
        except RuntimeError:  # the pool is shut down: nothing will run
            self._change(-1)
            raise

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout=timeout)

    def _change(self, by: int) -> None:
        with self._idle:
            self._count += by
            self._idle.notify_all()

    def _counted(self, job: Callable[..., Any], *args: Any) -> Any:
        try:
            return job(*args)
        finally:
            self._change(-1)


@dataclass
class Runtime:
    config: DeskConfig
    engine: Engine
    clock: Clock
    desks: DeskBook
    client: WebClient
    deliverer: Deliverer
    lookup_client: WebClient  # users.info, with a short timeout: a slow Slack can't hold a reply long
    emails: TTLCache[str, str | None] = field(
        default_factory=lambda: TTLCache(maxsize=50_000, ttl=EMAIL_CACHE_SECONDS)
    )
    names: TTLCache[str, str | None] = field(
        default_factory=lambda: TTLCache(maxsize=50_000, ttl=EMAIL_CACHE_SECONDS)
    )
    # People the directory knows by Slack id: `look_up` skips its read for them for a few minutes.
    known_ids: TTLCache[str, bool] = field(default_factory=lambda: TTLCache(maxsize=50_000, ttl=300))
    # The Slack team each person acted from, as the (verified) request said: a partner's people in a
    # shared channel are of their own company's team (`listeners/access.py` fills it).
    user_teams: TTLCache[str, str] = field(
        default_factory=lambda: TTLCache(maxsize=50_000, ttl=EMAIL_CACHE_SECONDS)
    )
    team_id: str = ""
    bot_user_id: str = ""
    # The plain values every desk operation is handed: built once, here.
    policy: DeskPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.policy = DeskPolicy(self.config, self.desks)

    # Work after an ack (Slack calls, replies on the response URL) runs here, never on the pool
    # that acknowledges requests, so a slow Slack can't make another request miss its 3 seconds.
    work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="after-ack")
    )

    # Opening a form runs here alone: its trigger_id lasts 3 seconds, so it never queues behind
    # deliveries or other work on `work`.
    triggers: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="trigger")
    )

    def deliver_owed(self, ping_ids: list[int]) -> None:
        """What one request owed, delivered right after it, and what posting it owes in turn (a card's
        update once the confirmation is posted, an intro's pin): a few rounds at most. The worker
        retries what fails."""
        for _ in range(FOLLOW_UP_ROUNDS):
            if not ping_ids:
                return
            with collect_owed() as follow_ups:
                self.deliverer.deliver_rows(ping_ids)
            ping_ids = follow_ups

    in_flight: WorkInFlight = field(default_factory=WorkInFlight)

    def after_ack(self, job: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run `job` after the ack, then deliver what its transactions owed Slack, and only that."""
        return self._submit(self.work, job, args)

    def open_form(self, job: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run `job`, which opens a form first, on the pool kept for triggers."""
        return self._submit(self.triggers, job, args)

    def _submit(
        self, pool: ThreadPoolExecutor, job: Callable[..., Any], args: tuple[Any, ...]
    ) -> Future[Any]:
        return self.in_flight.submit(pool.submit, self._owing, job, args)

    def listener_pool(self, threads: int) -> ThreadPoolExecutor:
        """The pool Bolt runs listeners on. A listener counts as work in flight from the moment it is
        handed over, before its ack can reach Slack, so `wait_idle` never misses what it starts."""
        return _CountingPool(self.in_flight, max_workers=threads, thread_name_prefix="ack")

    def _owing(self, job: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        result = None
        with collect_owed() as owed:
            try:
                result = job(*args)
            except Exception:
                log.exception("work after the ack failed: %s", getattr(job, "__name__", job))
        try:
            self.deliver_owed(owed)
        except Exception:  # the rows stay owed: the worker delivers them
            log.exception("delivering what %s owed failed", getattr(job, "__name__", job))
        return result

    _lanes: dict[str, deque[tuple[Callable[..., Any], tuple[Any, ...]]]] = field(default_factory=dict)
    _lanes_lock: threading.Lock = field(default_factory=threading.Lock)

    def after_ack_in_order(self, lane: str, job: Callable[..., Any], *args: Any) -> None:
        """Like `after_ack`, but jobs of one lane (a thread's messages) run one after another in the
        order they came, so that what was written first is handled first."""
        with self._lanes_lock:
            queued = self._lanes.setdefault(lane, deque())
            queued.append((job, args))
            if len(queued) > 1:
                return  # the lane's runner will get to it
        self.after_ack(self._run_lane, lane)

    def _run_lane(self, lane: str) -> None:
        while True:
            with self._lanes_lock:
                job, args = self._lanes[lane][0]
            self._owing(job, args)
            with self._lanes_lock:
                self._lanes[lane].popleft()
                if not self._lanes[lane]:
                    del self._lanes[lane]
                    return

    def wait_idle(self, timeout: float) -> bool:
        """Until no work after an ack is queued or running (a clean stop; tests). False on timeout."""
        return self.in_flight.wait_idle(timeout)

    def learn_team_id(self) -> str:
        """The workspace the bot is installed in: the setting, else auth.test. Until Slack answers,
        nothing is refused for its workspace; `identity_known` tells when to stop asking."""
        if not self.team_id:
            self.team_id = self.config.team_id
        if not self.identity_known:
            try:
                identity = self.client.auth_test()
                self.team_id = self.team_id or str(identity.get("team_id") or "")
                self.bot_user_id = str(identity.get("user_id") or "")
            except Exception as error:  # Slack unreachable at start: asked again until it answers
                self.identity_failures += 1
                log.warning(
                    "auth.test failed (%d so far), asked again soon: %r", self.identity_failures, error
                )
        return self.team_id

    identity_failures: int = 0

    @property
    def identity_known(self) -> bool:
        return bool(self.team_id and self.bot_user_id)


class _CountingPool(ThreadPoolExecutor):
    def __init__(self, in_flight: WorkInFlight, **options: Any) -> None:
        super().__init__(**options)
        self._in_flight = in_flight

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._in_flight.submit(super().submit, lambda: fn(*args, **kwargs))
