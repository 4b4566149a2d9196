"""Delivering what the bot owes Slack: the loop, and the only place a Slack post is retried.

Each row is claimed (row lock + lease on the store's clock, `storage/pings.py`), its facts read
(`facts.py`), rendered from the ticket as it is *now* (`renderers.py`, pure), held again right before
it is posted (a process posts only rows it still holds), posted (`slack_io.py`, with look-before-resend
and the channel's pace), and recorded under the same fence (`record.py`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from handlers.config import DeskConfig
from handlers.delivery.facts import incident_facts, ticket_facts
from handlers.delivery.outcome import Outcome, State
from handlers.delivery.record import Recorder
from handlers.delivery.renderers import Skip, render
from handlers.delivery.slack_io import SlackPoster
from handlers.desks import DeskBook
from handlers.operations.context import DeskPolicy
from handlers.operations.reports import owe_weekly_digests
from handlers.rules import retry as retry
from handlers.rules.sla import Clock
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.models import PingKind
from storage.pings import Claimed

log = logging.getLogger(__name__)

# Rows that may belong to no ticket.
TICKETLESS = (
    PingKind.DIRECT,
    PingKind.REPORT,
    PingKind.DIGEST,
    PingKind.INTRO,
    PingKind.PIN,
    PingKind.OFFER,
    PingKind.LEAD_ALERT,
)
# Messages whose permalink is asked for once they are posted, and kept.
LINKED_KINDS = (PingKind.CARD, PingKind.CONFIRMATION, PingKind.INCIDENT)


@dataclass
class Deliverer:
    config: DeskConfig
    engine: Engine
    client: WebClient
    desks: DeskBook
    clock: Clock
    # Leases and retry waits on the store's clock (PostgreSQL's when processes share it); due times
    # too, unless the app's clock is set by hand (FROZEN_TIME, `scheduler --now`). Tests that move
    # time by hand run everything on their own clock.
    store_clock: bool = True
    lease: timedelta = field(init=False)
    progress: int = field(init=False, default=0)  # attempts that ended other than "try again"
    poster: SlackPoster = field(init=False)
    recorder: Recorder = field(init=False)

    def __post_init__(self) -> None:
        self.lease = timedelta(seconds=self.config.worker_lease_seconds)
        self.poster = SlackPoster(self.config, self.engine, self.client)
        self.recorder = Recorder(self.engine, self.clock, self._times, DeskPolicy(self.config, self.desks))

    @property
    def claim_size(self) -> int:
        """Rows claimed at once (WORKER_BATCH). Each is held again right before its post, and the
        leases of those still waiting are renewed every quarter lease, so a batch may take longer
        than one lease with a slow Slack; a process that dies loses its batch after one lease."""
        return max(1, self.config.worker_batch)

    def _times(self, session: Any) -> tuple[datetime, datetime]:
        """(due_now, store_time)."""
        if not self.store_clock:
            now = self.clock()
            return now, now
        store_time = ping_store.store_now(session)
        return (self.clock() if self.config.frozen_clock else store_time), store_time

    # --- the loop's one step --------------------------------------------------------------------------

    def deliver_due(self, ping_ids: list[int] | None = None) -> int:
        """Claim and deliver what is due (of `ping_ids` only, when given); one failing ping never blocks
        the others. Returns how many were claimed; `self.progress` counts those that did not wait."""
        with session_scope(self.engine) as session:
            due_now, store_time = self._times(session)
            claims = ping_store.claim_due(session, due_now, store_time, self.lease, self.claim_size, ping_ids)
        renewed = time.monotonic()
        for index, claim in enumerate(claims):
            if time.monotonic() - renewed > self.lease.total_seconds() / 4:
                self._renew(claims[index:])
                renewed = time.monotonic()
            try:
                outcome = self._attempt(claim)
            except Exception as error:  # a bug or the database: the ping stays owed, retried later
                log.exception("delivering ping %s failed", claim.id, extra={"ping": claim.id})
                outcome = Outcome(State.RETRY, retry_in=retry.backoff(claim.attempts), reason=repr(error))
            self.recorder.record(claim, outcome)
            if outcome.state is not State.RETRY:
                self.progress += 1
        return len(claims)

    def deliver_rows(self, ping_ids: list[int]) -> int:
        """What one request owed, delivered right after it (the worker retries what fails or waits)."""
        delivered = 0
        for start in range(0, len(ping_ids), self.claim_size):
            delivered += self.deliver_due(ping_ids=ping_ids[start : start + self.claim_size])
        return delivered

    def _renew(self, claims: list[Claimed]) -> None:
        with session_scope(self.engine) as session:
            _, store_time = self._times(session)
            ping_store.renew(session, claims, store_time, self.lease)

    def plan_digests(self) -> int:
        """The weekly digests that are due, owed once whichever process asks first."""
        channels = {desk: c.report_channel for desk, c in self.config.contacts.items() if c.report_channel}
        if not channels:
            return 0
        with session_scope(self.engine) as session:
            due_now, _ = self._times(session)
            return owe_weekly_digests(session, self.desks, channels, due_now)

    def drain(self, limit_rounds: int = 10_000) -> int:
        """Deliver everything due now, a few rows at a time."""
        self.plan_digests()
        total = 0
        for _ in range(limit_rounds):
            before = self.progress
            done = self.deliver_due()
            total += done
            if done < self.claim_size or self.progress == before:
                break  # all done, or everything claimed has to wait: the next tick tries again
        return total

    # --- one ping ---------------------------------------------------------------------------------------

    def _attempt(self, claim: Claimed) -> Outcome:
        with session_scope(self.engine) as session:
            due_now, _ = self._times(session)
            ping = ping_store.get_ping(session, claim.id)
            ticket = ticket_store.get_ticket(session, ping.ticket_id) if ping and ping.ticket_id else None
            if ping is None or (ticket is None and ping.kind not in TICKETLESS and not ping.incident_id):
                return Outcome(State.DROPPED, reason="ticket gone")
            if ping.incident_id:
                facts = incident_facts(self.desks, session, ping, due_now)
            else:
                facts = ticket_facts(self.desks, session, ping, ticket, due_now)
        rendered = render(facts, due_now, self.config)
        if isinstance(rendered, Skip):
            if rendered.retry_in is None:
                outcome = Outcome(State.DROPPED, reason=rendered.reason)
            else:
                outcome = Outcome(State.RETRY, retry_in=rendered.retry_in, reason=rendered.reason)
        elif not self._still_held(claim):
            log.warning("ping %s was taken over by another process before posting: not posting", claim.id)
            return Outcome(State.LOST)
        else:
            outcome = self.poster.send(rendered, ping, ticket, claim)
        outcome.kind, outcome.ticket_id, outcome.incident_id = (
            ping.kind,
            ping.ticket_id or 0,
            ping.incident_id or 0,
        )
        if outcome.state is State.SENT and ping.kind in LINKED_KINDS:
            outcome.permalink = self.poster.permalink(outcome.channel, outcome.ts)
        return outcome

    def _still_held(self, claim: ping_store.Claimed) -> bool:
        with session_scope(self.engine) as session:
            _, store_time = self._times(session)
            return ping_store.hold(session, claim, store_time, self.lease)
