"""Delivering what the bot owes Slack: the only place a Slack post is retried.

Each ping row is claimed (row lock + lease), rendered from the ticket as it is *now*, posted with
message metadata that carries its id, and recorded. A ping left in flight by a dead process is
looked for in the channel before it is posted again.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pendulum
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.desks import DeskBook
from bot.settings import Settings
from handlers import views
from handlers.present import view_of
from handlers.sla import Clock
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.directory import desk_leads
from storage.models import DEADLINE_KINDS, Ping, PingKind, PingState, Ticket, TicketStatus

log = logging.getLogger(__name__)

METADATA_EVENT = "sla_desk_ping"
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "account_inactive",
        "restricted_action",
    }
)
WAIT_FOR_DEPENDENCY = timedelta(seconds=20)
MAX_BACKOFF_SECONDS = 600


@dataclass
class Message:
    channel: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    update_ts: str | None = None  # chat.update of this message instead of a new post
    late: bool = False


@dataclass
class Outcome:
    state: str  # sent | retry | dropped | failed
    channel: str | None = None
    ts: str | None = None
    retry_in: float = 0.0
    reason: str = ""
    late: bool = False
    kind: str = ""
    ticket_id: int = 0


@dataclass
class Deliverer:
    settings: Settings
    engine: Engine
    client: WebClient
    desks: DeskBook
    clock: Clock
    lease: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self.lease = timedelta(seconds=self.settings.worker_lease_seconds)

    # --- the loop's one step --------------------------------------------------------------------------

    def deliver_due(self, ticket_id: int | None = None, limit: int | None = None) -> int:
        """Claim and deliver what is due; one failing ping never blocks the others."""
        with session_scope(self.engine) as session:
            claims = ping_store.claim_due(
                session, self.clock(), self.lease, limit or self.settings.worker_batch, ticket_id=ticket_id
            )
        for claim in claims:
            try:
                outcome = self._attempt(claim)
            except Exception as error:  # a bug or the database: the ping stays owed, retried later
                log.exception("delivering ping %s failed", claim.id)
                outcome = Outcome("retry", retry_in=self._backoff(claim.attempts), reason=repr(error))
            self._record(claim, outcome)
        return len(claims)

    def deliver_for_ticket(self, ticket_id: int) -> int:
        """What one ticket owes now: a listener's own attempt right after it acked (the worker retries)."""
        return self.deliver_due(ticket_id=ticket_id)

    def drain(self, limit_rounds: int = 1000) -> int:
        """Deliver everything due now (several batches)."""
        total = 0
        for _ in range(limit_rounds):
            done = self.deliver_due()
            total += done
            if done < self.settings.worker_batch:
                break
        return total

    # --- one ping ---------------------------------------------------------------------------------------

    def _attempt(self, claim: ping_store.Claimed) -> Outcome:
        now = self.clock()
        with session_scope(self.engine) as session:
            ping = ping_store.get_ping(session, claim.id)
            ticket = ticket_store.get_ticket(session, ping.ticket_id) if ping else None
            if ping is None or ticket is None:
                return Outcome("dropped", reason="ticket gone")
            if ping.kind in DEADLINE_KINDS and (
                ticket.first_response_at is not None or ticket.status == TicketStatus.RESOLVED
            ):
                rendered: Message | Outcome = Outcome("dropped", reason="answered before the ping was due")
            else:
                rendered = self._render(session, ping, ticket, now)
        if isinstance(rendered, Outcome):
            outcome = rendered
        elif (
            claim.in_flight
            and rendered.update_ts is None
            and (found := self._find_posted(rendered, ping, claim.id))
        ):
            outcome = Outcome("sent", channel=rendered.channel, ts=found, late=rendered.late)
        else:
            outcome = self._post(rendered, ping, ticket, claim.id)
        outcome.kind, outcome.ticket_id = ping.kind, ping.ticket_id
        return outcome

    def _render(self, session: Any, ping: Ping, ticket: Ticket, now: pendulum.DateTime) -> Message | Outcome:
        view = view_of(session, ticket, self.desks)
        desk = self.settings.desks.get(ticket.desk)
        late = ping.kind in (*DEADLINE_KINDS, PingKind.PAGE) and (
            now.timestamp() - ping.planned_at.timestamp() > self.settings.worker_interval_seconds * 3 + 60
        )
        note = views.late_note(ping.planned_at, view.timezone, view.desk_label) if late else ""
        kind = PingKind(ping.kind)
        if kind is PingKind.CARD:
            text, blocks = views.ticket_card(view)
            return Message(ticket.queue_channel, text, blocks)
        if kind is PingKind.CARD_UPDATE:
            if not ticket.card_ts:
                # The card may be in flight with what the ticket was before this change: update it after.
                waiting = self._wait_for(session, ticket, PingKind.CARD, "card")
                return waiting or Outcome("dropped", reason="the card could not be posted")
            text, blocks = views.ticket_card(view)
            return Message(ticket.queue_channel, text, blocks, update_ts=ticket.card_ts)
        if kind is PingKind.CONFIRMATION:
            text = views.confirmation_text(
                view,
                ticket.filed_at,
                ticket.outside_hours,
                self.settings.support_phone,
                redirected=ping.text == "redirected",
            )
            return Message(ticket.filer_channel or ticket.filer_user_id, text)
        if kind is PingKind.NOTICE:
            if not ticket.filer_thread_ts:
                waiting = self._wait_for(session, ticket, PingKind.CONFIRMATION, "confirmation")
                if waiting is not None:
                    return waiting
            return Message(
                ticket.filer_channel or ticket.filer_user_id,
                ping.text or "",
                thread_ts=ticket.filer_thread_ts,
            )
        if kind is PingKind.WARNING:
            if not ticket.card_ts:
                waiting = self._wait_for(session, ticket, PingKind.CARD, "card")
                if waiting is not None:
                    return waiting
            share = (
                self.settings.warning_shares[ping.seq]
                if ping.seq < len(self.settings.warning_shares)
                else 0.5
            )
            return Message(
                ticket.queue_channel,
                views.warning_text(view, share, now, note),
                thread_ts=ticket.card_ts,
                late=late,
            )
        leads = desk_leads(session, ticket.desk)  # only the pings below name or reach the leads
        who = views.mentions(leads, desk.lead_group if desk else None)
        if kind is PingKind.BREACH:
            return Message(ticket.queue_channel, views.breach_text(view, who, now, note), late=late)
        if kind is PingKind.ESCALATION:
            return Message(
                ticket.queue_channel, views.escalation_text(view, ping.seq, who, now, note), late=late
            )
        if kind is PingKind.PAGE:
            target = (desk.oncall if desk else None) or (leads[0] if leads else ticket.queue_channel)
            return Message(target, views.page_text(view, self.settings.support_phone) + note, late=late)
        if kind is PingKind.LEAD_ALERT:
            if not leads:
                return Outcome("dropped", reason="no desk lead to tell")
            return Message(leads[0], ping.text or "", late=False)
        return Outcome("failed", reason=f"unknown ping kind {ping.kind}")

    def _wait_for(self, session: Any, ticket: Ticket, kind: PingKind, what: str) -> Outcome | None:
        """A thread reply waits for its parent; None when the parent can never be posted (post unthreaded)."""
        parents = [p for p in ping_store.pings_for(session, ticket.id or 0) if p.kind == kind]
        if any(p.state in (PingState.PLANNED, PingState.SENDING) for p in parents):
            return Outcome(
                "retry", retry_in=WAIT_FOR_DEPENDENCY.total_seconds(), reason=f"waiting for the {what}"
            )
        return None

    def _metadata(self, ping: Ping, ping_id: int) -> dict[str, Any]:
        return {
            "event_type": METADATA_EVENT,
            "event_payload": {"ping_id": ping_id, "ticket": f"T-{ping.ticket_id}"},
        }

    def _post(self, message: Message, ping: Ping, ticket: Ticket, ping_id: int) -> Outcome:
        try:
            if message.update_ts:
                self.client.chat_update(
                    channel=message.channel, ts=message.update_ts, text=message.text, blocks=message.blocks
                )
                return Outcome("sent", channel=message.channel, ts=message.update_ts)
            response = self.client.chat_postMessage(
                channel=message.channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=message.thread_ts,
                metadata=self._metadata(ping, ping_id),
                unfurl_links=False,
                unfurl_media=False,
            )
            return Outcome(
                "sent",
                channel=response.get("channel") or message.channel,
                ts=response.get("ts"),
                late=message.late,
            )
        except SlackApiError as error:
            return self._classify(error, message, ping, ticket, ping_id)
        except Exception as error:  # timeouts, refused connections: Slack is away for now
            log.warning("posting ping %s failed: %r", ping_id, error)
            return Outcome("retry", retry_in=self._backoff(ping.attempts), reason=repr(error))

    def _classify(
        self, error: SlackApiError, message: Message, ping: Ping, ticket: Ticket, ping_id: int
    ) -> Outcome:
        status = getattr(error.response, "status_code", 0)
        code = str(error.response.get("error", "")) if error.response is not None else ""
        if status == 429:
            retry_after = float(error.response.headers.get("Retry-After", 1) or 1)
            return Outcome("retry", retry_in=retry_after, reason="ratelimited")
        if status >= 500 or code in (
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
        ):
            return Outcome("retry", retry_in=self._backoff(ping.attempts), reason=f"{status} {code}")
        if code in CHANNEL_ERRORS:
            if ping.kind == PingKind.CONFIRMATION and message.channel != ticket.filer_user_id:
                # The bot is not in the filer's channel: a direct message still reaches them.
                message.channel = ticket.filer_user_id
                outcome = self._post(message, ping, ticket, ping_id)
                outcome.reason = f"fell back to a direct message: {code}"
                return outcome
            return Outcome("failed", channel=message.channel, reason=code)
        log.error("Slack refused ping %s (%s): %s", ping_id, ping.kind, code)
        return Outcome("failed", channel=message.channel, reason=code or str(error))

    def _find_posted(self, message: Message, ping: Ping, ping_id: int) -> str | None:
        """Look-before-resend: the ts of this ping's message if a dead process posted it already."""
        try:
            if message.thread_ts:
                response = self.client.conversations_replies(
                    channel=message.channel, ts=message.thread_ts, include_all_metadata=True, limit=200
                )
            else:
                oldest = str(ping.planned_at.timestamp() - 60)
                response = self.client.conversations_history(
                    channel=message.channel, oldest=oldest, include_all_metadata=True, limit=200
                )
        except Exception as error:  # can't tell: post, since a missing ping is worse than a late double
            log.warning("could not look for ping %s before re-posting: %r", ping_id, error)
            return None
        for posted in response.get("messages") or []:
            payload = (posted.get("metadata") or {}).get("event_payload") or {}
            if payload.get("ping_id") == ping_id:
                return str(posted.get("ts"))
        return None

    def _record(self, claim: ping_store.Claimed, outcome: Outcome) -> None:
        now = self.clock()
        with session_scope(self.engine) as session:
            if outcome.state == "sent":
                recorded = ping_store.mark_sent(
                    session, claim, outcome.channel, outcome.ts, now, outcome.late
                )
                if recorded:
                    self._after_sent(session, outcome)
            elif outcome.state == "retry":
                ping_store.mark_retry(
                    session, claim, now + timedelta(seconds=outcome.retry_in), outcome.reason
                )
            elif outcome.state == "dropped":
                ping_store.mark_dropped(session, claim, outcome.reason)
            else:
                ping_store.mark_failed(session, claim, outcome.reason)
                ping = ping_store.get_ping(session, claim.id)
                if ping is not None and ping.kind != PingKind.LEAD_ALERT:
                    self._report_failure(session, ping, outcome, now)

    def _after_sent(self, session: Any, outcome: Outcome) -> None:
        if outcome.kind == PingKind.CARD and outcome.ts and outcome.channel:
            ticket_store.set_card(session, outcome.ticket_id, outcome.channel, outcome.ts)
        elif outcome.kind == PingKind.CONFIRMATION and outcome.ts and outcome.channel:
            ticket_store.set_filer_thread(session, outcome.ticket_id, outcome.channel, outcome.ts)
            if outcome.reason:
                ticket_store.set_slack_error(session, outcome.ticket_id, outcome.reason)

    def _report_failure(self, session: Any, ping: Ping, outcome: Outcome, now: pendulum.DateTime) -> None:
        """Record it on the ticket and tell the desk lead once, instead of retrying forever."""
        ticket = ticket_store.get_ticket(session, ping.ticket_id)
        if ticket is None:
            return
        channel, reason = outcome.channel or ticket.queue_channel, outcome.reason
        ticket_store.set_slack_error(session, ticket.id or 0, f"{ping.kind}: {reason}")
        ticket_store.audit(
            session, ticket.id, "sla-desk", "delivery_failed", now, kind=ping.kind, error=reason
        )
        problem = f"in <#{channel}>: `{reason}`"
        if ping_store.alert_owed_since(session, problem, now - timedelta(days=1)):
            return  # the lead already heard of this channel today: one alert, not one per ticket
        text = (
            f":warning: SLA Desk could not post the {ping.kind.replace('_', ' ')} of *{ticket.ref}* "
            f"{problem}. Please invite the bot (`/invite @SLA Desk`) or fix the channel setting; "
            "meanwhile `/ticket queue` lists the open tickets."
        )
        ping_store.owe(session, ticket.id or 0, PingKind.LEAD_ALERT, now, text=text, once=True)

    def _backoff(self, attempts: int) -> float:
        ceiling = min(MAX_BACKOFF_SECONDS, 2 ** min(attempts, 10))
        return random.uniform(ceiling / 2, ceiling)
