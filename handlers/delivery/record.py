"""Recording how an attempt ended, fenced by its attempt number, and what a posted row leads to (a
card's ts and permalink on its ticket, the card update that links the partner's thread, a failure
told to the desk lead)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from handlers import metrics
from handlers.delivery.outcome import Outcome, State
from handlers.operations import next_response
from handlers.operations.context import DeskPolicy
from handlers.rules.sla import Clock
from storage import channels as channel_store
from storage import incidents as incident_store
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.models import Ping, PingKind

log = logging.getLogger(__name__)


@dataclass
class Recorder:
    engine: Engine
    clock: Clock
    times: Callable[[Any], tuple[datetime, datetime]]  # (due_now, store_time) in a session
    policy: DeskPolicy | None = None  # what the operations a posted row leads to are handed

    def record(self, claim: ping_store.Claimed, outcome: Outcome) -> None:
        metrics.delivered(outcome.kind or "unknown", outcome.state.name.lower())
        if outcome.state is State.LOST:
            return
        now = self.clock()
        with session_scope(self.engine) as session:
            _, store_time = self.times(session)
            if outcome.state is State.SENT:
                recorded = ping_store.mark_sent(
                    session, claim, outcome.channel, outcome.ts, now, outcome.late
                )
                if recorded:
                    self._after_sent(session, outcome)
            elif outcome.state is State.RETRY:
                ping_store.mark_retry(
                    session,
                    claim,
                    store_time + timedelta(seconds=outcome.retry_in),
                    outcome.reason,
                    unsure=outcome.unsure,
                )
            elif outcome.state is State.DROPPED:
                ping_store.mark_dropped(session, claim, outcome.reason)
            elif ping_store.mark_failed(session, claim, outcome.reason):
                ping = ping_store.get_ping(session, claim.id)
                if ping is not None and ping.kind != PingKind.LEAD_ALERT:
                    self._report_failure(session, ping, outcome, now)

    def _after_sent(self, session: Any, outcome: Outcome) -> None:
        if outcome.kind == PingKind.INTRO and outcome.ts and outcome.channel:
            # The intro is pinned once it is posted, as a row of its own (a Slack call of its own).
            channel_store.set_intro(session, outcome.channel, outcome.ts)
            pin = {"channel": outcome.channel, "ts": outcome.ts}
            ping_store.owe_once(session, PingKind.PIN, f"pin:{outcome.channel}", self.clock(), payload=pin)
            return
        if outcome.kind == PingKind.AUTO_RESOLVE and outcome.ts:
            # The partner has read why: now the ticket is resolved for want of an answer.
            next_response.resolve_for_want_of_an_answer(session, self.policy, outcome.ticket_id, self.clock())
            return
        if outcome.kind == PingKind.INCIDENT and outcome.ts and outcome.channel:
            incident_store.set_message(
                session, outcome.incident_id, outcome.channel, outcome.ts, outcome.permalink
            )
        elif outcome.kind == PingKind.CARD and outcome.ts and outcome.channel:
            ticket_store.set_card(session, outcome.ticket_id, outcome.channel, outcome.ts)
            ticket_store.set_permalinks(session, outcome.ticket_id, card=outcome.permalink)
        elif outcome.kind == PingKind.CONFIRMATION and outcome.ts and outcome.channel:
            ticket_store.set_filer_thread(session, outcome.ticket_id, outcome.channel, outcome.ts)
            ticket_store.set_permalinks(session, outcome.ticket_id, filer=outcome.permalink)
            has_card = ping_store.has_card(session, outcome.ticket_id)
            if outcome.permalink and has_card:  # the card links to the partner's thread from now on
                ping_store.owe(session, outcome.ticket_id, PingKind.CARD_UPDATE, self.clock())
            if outcome.reason:
                ticket_store.set_slack_error(session, outcome.ticket_id, outcome.reason)

    def _report_failure(self, session: Any, ping: Ping, outcome: Outcome, now: datetime) -> None:
        """Record it on the ticket and tell the desk lead once, instead of retrying forever."""
        ticket = ticket_store.get_ticket(session, ping.ticket_id) if ping.ticket_id else None
        if ticket is None:
            return
        channel, reason = outcome.channel or ticket.queue_channel, outcome.reason
        ticket_store.set_slack_error(session, ticket.id or 0, f"{ping.kind}: {reason}")
        ticket_store.audit(
            session, ticket.id, "sla-desk", "delivery_failed", now, kind=ping.kind, error=reason
        )
        text = (
            f":warning: SLA Desk could not post the {ping.kind.replace('_', ' ')} of *{ticket.ref}* "
            f"in <#{channel}>: `{reason}`. Please invite the bot (`/invite @SLA Desk`) or fix the channel "
            "setting; meanwhile `/ticket queue` lists the open tickets."
        )
        ping_store.owe_lead_alert(session, ticket.id or 0, channel, reason, text, now)
