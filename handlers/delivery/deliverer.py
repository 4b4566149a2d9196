"""Delivering what the bot owes Slack: the only place a Slack post is retried.

Each ping row is claimed (row lock + lease on the store's clock), rendered from the ticket as it is
*now*, held again right before it is posted (a process posts only rows it still holds), posted with
message metadata that carries its id, and recorded under the same fence. A ping whose last attempt
may have reached Slack is looked for in the channel before it is posted again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import Enum, auto
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from handlers.config import DeskConfig
from handlers.delivery.renderers import Message, PingFacts, Skip, render
from handlers.desks import DeskBook
from handlers.operations.present import incident_view, view_of
from handlers.operations.reports import owe_weekly_digests, report_files
from handlers.rules import retry as retry
from handlers.rules.sla import Clock
from handlers.ui.tickets import TicketView
from storage import incidents as incident_store
from storage import pace
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.directory import desk_leads
from storage.models import DEADLINE_KINDS, IncidentStatus, Ping, PingKind, PingState, Ticket, TicketStatus
from storage.pings import Claimed
from storage.vocabulary import COPY_KINDS

log = logging.getLogger(__name__)

METADATA_EVENT = "sla_desk_ping"
UNPOSTED = (PingState.PLANNED, PingState.SENDING)
TICKETLESS = (PingKind.DIRECT, PingKind.REPORT, PingKind.DIGEST)  # rows that may belong to no ticket
ALREADY_DONE = frozenset({"already_reacted", "message_not_found"})
# A turn of a channel's pace within this many seconds is waited for; a later one is tried again then.
LONGEST_PACE_WAIT_SECONDS = 1.5
# Look-before-resend reads at most this many pages of 200 messages.
LOOK_BACK_PAGES = 25
# Messages whose permalink is asked for once they are posted, and kept.
LINKED_KINDS = (PingKind.CARD, PingKind.CONFIRMATION, PingKind.INCIDENT)
# What a direct message that belongs to no ticket renders against.
NO_TICKET = TicketView(
    ref="", queue="", klass=None, topic=None, subject="", description="", product=None,
    critical_reason=None, company="", filer="", status="", desk_label="", timezone="UTC",
    filed_at=datetime.fromtimestamp(0, UTC), due_at=datetime.fromtimestamp(0, UTC),
)  # fmt: skip


class State(Enum):
    """How one attempt at a ping ended."""

    SENT = auto()
    RETRY = auto()
    DROPPED = auto()
    FAILED = auto()
    LOST = auto()  # another process holds the ping now: record nothing


@dataclass
class Outcome:
    state: State
    channel: str | None = None
    ts: str | None = None
    retry_in: float = 0.0
    unsure: bool = False
    reason: str = ""
    late: bool = False
    kind: str = ""
    ticket_id: int = 0
    incident_id: int = 0
    permalink: str | None = None


def _slack_refused(ping: Ping) -> bool:
    """Earlier attempts failed at Slack (not merely waited for their turn or their parent)."""
    return ping.attempts > 1 and bool(ping.last_error) and "waiting" not in (ping.last_error or "")


def _incident_answered(session: Any, incident: Any) -> bool:
    """Nobody is waiting: the incident is claimed or resolved, or each of its tickets is answered."""
    if incident.claimant_user_id is not None or incident.status == IncidentStatus.RESOLVED:
        return True
    return incident_store.earliest_unanswered_ticket(session, incident.id or 0) is None


def _older_update(ping: Ping, others: list[Ping], kind: PingKind, state: PingState) -> bool:
    """An older update of the same message in `state`. Updates go out oldest first: one rendered
    earlier never lands after a later one, and two processes never wait for each other."""
    return any(p.kind == kind and p.state == state and (p.id or 0) < (ping.id or 0) for p in others)


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

    def __post_init__(self) -> None:
        self.lease = timedelta(seconds=self.config.worker_lease_seconds)

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

    def deliver_due(
        self,
        ticket_id: int | None = None,
        limit: int | None = None,
        incident_id: int | None = None,
        ping_ids: list[int] | None = None,
    ) -> int:
        """Claim and deliver what is due; one failing ping never blocks the others. Returns how many
        were claimed; `self.progress` counts those that did not have to wait."""
        with session_scope(self.engine) as session:
            due_now, store_time = self._times(session)
            claims = ping_store.claim_due(
                session,
                due_now,
                store_time,
                self.lease,
                limit or self.claim_size,
                ticket_id=ticket_id,
                incident_id=incident_id,
                ping_ids=ping_ids,
            )
        renewed = time.monotonic()
        for index, claim in enumerate(claims):
            if time.monotonic() - renewed > self.lease.total_seconds() / 4:
                self._renew(claims[index:])
                renewed = time.monotonic()
            try:
                outcome = self._attempt(claim)
            except Exception as error:  # a bug or the database: the ping stays owed, retried later
                log.exception("delivering ping %s failed", claim.id)
                outcome = Outcome(State.RETRY, retry_in=retry.backoff(claim.attempts), reason=repr(error))
            self._record(claim, outcome)
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

    def deliver_for_ticket(self, ticket_id: int) -> int:
        """What one ticket owes now, and its incident's: an attempt right after a change (the worker
        retries)."""
        delivered = self.deliver_due(ticket_id=ticket_id)
        with session_scope(self.engine) as session:
            ticket = ticket_store.get_ticket(session, ticket_id)
            incident_id = ticket.incident_id if ticket else None
        if incident_id:
            delivered += self.deliver_due(incident_id=incident_id)
        return delivered

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
                facts = self._incident_facts(session, ping, due_now)
            else:
                facts = self._facts(session, ping, ticket, due_now)
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
            outcome = self._send(rendered, ping, ticket, claim)
        outcome.kind, outcome.ticket_id, outcome.incident_id = (
            ping.kind,
            ping.ticket_id or 0,
            ping.incident_id or 0,
        )
        if outcome.state is State.SENT and ping.kind in LINKED_KINDS:
            outcome.permalink = self._permalink(outcome.channel, outcome.ts)
        return outcome

    def _send(self, message: Message, ping: Ping, ticket: Ticket | None, claim: Claimed) -> Outcome:
        """Where it goes, whether an earlier attempt posted it already, the channel's turn, the post."""
        try:
            message.channel = self._direct_channel(message.channel, ping, claim)
        except SlackApiError as error:
            return self._after_error(error, message, ping, ticket, claim)
        except Exception as error:
            return self._no_answer(error, ping, claim.id)
        is_post = not (message.update_ts or message.delete_ts or message.reaction or message.files)
        if claim.in_flight and is_post and (found := self._find_posted(message, ping, claim.id)):
            return Outcome(State.SENT, channel=message.channel, ts=found, late=message.late)
        if (wait := self._wait_for_turn(message)) is not None:  # right before the post: on time
            return Outcome(State.RETRY, retry_in=wait, reason="waiting for the channel's turn")
        return self._post(message, ping, ticket, claim)

    def _direct_channel(self, channel: str, ping: Ping, claim: ping_store.Claimed) -> str:
        """A message to a person goes into their DM, opened once and kept on the row: a retry then
        looks for it where it was posted (Slack refuses the history of a user id)."""
        if not channel.startswith(("U", "W")):
            return channel
        if ping.channel and ping.channel.startswith("D"):
            return ping.channel
        opened = str(self.client.conversations_open(users=channel)["channel"]["id"])
        with session_scope(self.engine) as session:
            ping_store.set_channel(session, claim, opened)
        ping.channel = opened
        return opened

    def _wait_for_turn(self, message: Message) -> float | None:
        """Keep the channel's pace: None once this process's turn has come (waiting for it when it is
        near), or how long until the channel is free when it is not near."""
        gap = self.config.channel_pace_seconds
        if gap <= 0 or message.reaction or message.delete_ts or message.files or not message.channel:
            return None
        with session_scope(self.engine) as session:
            now = lambda: ping_store.store_now(session)  # noqa: E731
            turn = pace.take_turn(session, message.channel, now, gap, LONGEST_PACE_WAIT_SECONDS)
        if not turn.taken:
            return turn.wait
        if turn.wait > 0:
            time.sleep(turn.wait)
        return None

    def _permalink(self, channel: str | None, ts: str | None) -> str | None:
        """Asked once, when the card or the confirmation is posted, and kept on the ticket."""
        try:
            return str(self.client.chat_getPermalink(channel=channel or "", message_ts=ts or "")["permalink"])
        except Exception as error:  # a missing link costs a click, not a message: go on without it
            log.warning("no permalink for %s/%s: %r", channel, ts, error)
            return None

    def _still_held(self, claim: ping_store.Claimed) -> bool:
        with session_scope(self.engine) as session:
            _, store_time = self._times(session)
            return ping_store.hold(session, claim, store_time, self.lease)

    def _facts(self, session: Any, ping: Ping, ticket: Ticket | None, now: datetime) -> PingFacts:
        """Everything the renderer needs, read in one go (rendering itself reads nothing)."""
        kind = PingKind(ping.kind)
        payload = json.loads(ping.text) if ping.text and ping.text.startswith("{") else {}
        if ticket is None:  # a direct message, a report, a digest: no ticket's
            facts = PingFacts(
                kind, ping.seq, ping.text, ping.planned_at, NO_TICKET, "", None, "", None, None, False
            )
            facts = replace(facts, payload=payload)
            if kind in (PingKind.REPORT, PingKind.DIGEST):
                first, last = date.fromisoformat(payload["first"]), date.fromisoformat(payload["last"])
                desk, queue = payload.get("desk"), payload.get("queue")
                facts = replace(
                    facts, report=report_files(session, self.desks, first, last, desk, queue, now)
                )
            return facts
        later_due, missed = False, 0
        if kind in DEADLINE_KINDS:
            later_due, missed = ping_store.earlier_due_deadline_pings(session, ping, now)
        others = [p for p in ping_store.pings_for(session, ticket.id or 0) if p.id != ping.id]
        # Read again after its pings: a card recorded as posted has its ts on the ticket by now (both are
        # written in one transaction), so "posted, but no ts" is never seen half-way.
        session.refresh(ticket)
        pending = {p.kind for p in others if p.state in UNPOSTED}
        copy = next((p for p in others if p.id == payload.get("copy")), None)
        if copy is None and payload.get("source"):  # an edit that came before its copy was recorded
            copy = ping_store.by_source(session, COPY_KINDS, str(payload["source"]))
        card_ts, card_pending, via_incident = ticket.card_ts, PingKind.CARD in pending, False
        if ticket.incident_id and not card_ts and not any(p.kind == PingKind.CARD for p in others):
            # A linked ticket has no card of its own: the incident message's thread stands in for it.
            incident = incident_store.get_incident(session, ticket.incident_id)
            card_ts, via_incident = (incident.message_ts if incident else None), True
            card_pending = incident is not None and incident.message_ts is None
        return PingFacts(
            kind=kind,
            seq=ping.seq,
            text=ping.text,
            planned_at=ping.planned_at,
            ticket=view_of(session, ticket, self.desks),
            queue_channel=ticket.queue_channel,
            card_ts=card_ts,
            filer_user_id=ticket.filer_user_id,
            filer_channel=ticket.filer_channel,
            filer_thread_ts=ticket.filer_thread_ts,
            outside_hours=ticket.outside_hours,
            payload=payload,
            copy_channel=copy.channel if copy and copy.state == PingState.SENT else None,
            copy_ts=copy.message_ts if copy and copy.state == PingState.SENT else None,
            copy_unposted=bool(copy and copy.state in UNPOSTED),
            earlier_copy_unposted=kind in COPY_KINDS and ping_store.earlier_copy_unposted(session, ping),
            answered=ticket.first_response_at is not None or ticket.status == TicketStatus.RESOLVED,
            later_due=later_due,
            missed=missed,
            slack_refused=_slack_refused(ping),
            card_pending=card_pending,
            card_update_in_flight=_older_update(ping, others, PingKind.CARD_UPDATE, PingState.SENDING),
            card_update_covered=_older_update(ping, others, PingKind.CARD_UPDATE, PingState.PLANNED),
            confirmation_pending=PingKind.CONFIRMATION in pending,
            leads=tuple(desk_leads(session, ticket.desk)),
            via_incident=via_incident,
        )

    def _incident_facts(self, session: Any, ping: Ping, now: datetime) -> PingFacts:
        """An incident's own row: the incident as it is now, its message, and its other rows."""
        incident = incident_store.get_incident(session, ping.incident_id or 0)
        assert incident is not None
        kind = PingKind(ping.kind)
        later_due, missed = False, 0
        if kind in DEADLINE_KINDS:
            later_due, missed = ping_store.earlier_due_deadline_pings(session, ping, now)
        others = [p for p in ping_store.incident_pings(session, incident.id or 0) if p.id != ping.id]
        session.refresh(incident)  # after its pings, as with a ticket's card (see `_facts`)
        payload = {}
        if kind is PingKind.PAGE:  # the on-call may have been paged for some of its tickets already
            payload["paged"] = [f"T-{n}" for n in incident_store.paged_already(session, incident.id or 0)]
        return PingFacts(
            kind=kind,
            seq=ping.seq,
            text=ping.text,
            planned_at=ping.planned_at,
            ticket=NO_TICKET,
            queue_channel=incident.queue_channel,
            card_ts=incident.message_ts,
            filer_user_id="",
            filer_channel=None,
            filer_thread_ts=None,
            outside_hours=False,
            payload=payload,
            answered=kind in DEADLINE_KINDS and _incident_answered(session, incident),
            later_due=later_due,
            missed=missed,
            slack_refused=_slack_refused(ping),
            card_pending=any(p.kind == PingKind.INCIDENT and p.state in UNPOSTED for p in others),
            card_update_in_flight=_older_update(ping, others, PingKind.INCIDENT_UPDATE, PingState.SENDING),
            card_update_covered=_older_update(ping, others, PingKind.INCIDENT_UPDATE, PingState.PLANNED),
            leads=tuple(desk_leads(session, incident.desk)),
            incident=incident_view(session, incident, self.desks),
        )

    def _metadata(self, ping: Ping, ping_id: int) -> dict[str, Any]:
        owner = (
            f"T-{ping.ticket_id}" if ping.ticket_id else f"I-{ping.incident_id}" if ping.incident_id else ""
        )
        return {"event_type": METADATA_EVENT, "event_payload": {"ping_id": ping_id, "ticket": owner}}

    def _post(self, message: Message, ping: Ping, ticket: Ticket | None, claim: Claimed) -> Outcome:
        ping_id = claim.id
        try:
            if message.files:
                return self._upload(message)
            if message.reaction:
                self.client.reactions_add(
                    channel=message.channel, timestamp=message.thread_ts or "", name=message.reaction
                )
                return Outcome(State.SENT, channel=message.channel, ts=message.thread_ts)
            if message.delete_ts:
                self.client.chat_delete(channel=message.channel, ts=message.delete_ts)
                return Outcome(State.SENT, channel=message.channel, ts=message.delete_ts)
            if message.update_ts:
                self.client.chat_update(
                    channel=message.channel, ts=message.update_ts, text=message.text, blocks=message.blocks
                )
                return Outcome(State.SENT, channel=message.channel, ts=message.update_ts)
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
                State.SENT,
                channel=response.get("channel") or message.channel,
                ts=response.get("ts"),
                late=message.late,
            )
        except SlackApiError as error:
            return self._after_error(error, message, ping, ticket, claim)
        except Exception as error:  # timeouts, refused connections: Slack is away for now
            return self._no_answer(error, ping, ping_id)

    def _no_answer(self, error: Exception, ping: Ping, ping_id: int) -> Outcome:
        log.warning("posting ping %s failed: %r", ping_id, error)
        decision = retry.after_no_answer(error, ping.attempts)
        return Outcome(
            State.RETRY, retry_in=decision.wait_seconds, unsure=decision.unsure, reason=decision.reason
        )

    def _upload(self, message: Message) -> Outcome:
        """A report's files with files_upload_v2 (upload URL, bytes, complete), into a DM or a channel."""
        channel = message.channel
        if channel.startswith(("U", "W")):
            channel = str(self.client.conversations_open(users=channel)["channel"]["id"])
        uploads = [
            {"content": content, "filename": name, "title": title} for name, content, title in message.files
        ]
        self.client.files_upload_v2(channel=channel, initial_comment=message.text, file_uploads=uploads)
        return Outcome(State.SENT, channel=channel)

    def _after_error(
        self, error: SlackApiError, message: Message, ping: Ping, ticket: Ticket | None, claim: Claimed
    ) -> Outcome:
        ping_id = claim.id
        response = error.response
        status = int(getattr(response, "status_code", 0) or 0)
        code = str(response.get("error", "")) if response is not None else ""
        if code in ALREADY_DONE:  # a mark already there, a copy already deleted: what was wanted
            return Outcome(State.SENT, channel=message.channel, ts=message.thread_ts or message.delete_ts)
        retry_after = response.headers.get("Retry-After") if response is not None else None
        decision = retry.after_slack_error(status, code, retry_after, ping.attempts)
        if status == 429 and message.channel:  # the whole channel waits, in every process
            self._hold_off(message.channel, decision.wait_seconds)
        if decision.verdict is retry.Verdict.RETRY:
            return Outcome(
                State.RETRY, retry_in=decision.wait_seconds, unsure=decision.unsure, reason=decision.reason
            )
        if decision.verdict is retry.Verdict.CHANNEL:
            if ticket and ping.kind == PingKind.CONFIRMATION and message.channel != ticket.filer_user_id:
                # The bot is not in the filer's channel: a direct message still reaches them.
                outcome = self._send(replace(message, channel=ticket.filer_user_id), ping, ticket, claim)
                outcome.reason = f"fell back to a direct message: {code}"
                return outcome
            return Outcome(State.FAILED, channel=message.channel, reason=code)
        log.error("Slack refused ping %s (%s): %s", ping_id, ping.kind, decision.reason)
        return Outcome(State.FAILED, channel=message.channel, reason=decision.reason)

    def _hold_off(self, channel: str, seconds: float) -> None:
        try:
            with session_scope(self.engine) as session:
                pace.hold_off(session, channel, ping_store.store_now(session), seconds)
        except Exception as error:  # the row's own retry still waits: the pace is a courtesy to others
            log.warning("could not hold off %s after a 429: %r", channel, error)

    def _find_posted(self, message: Message, ping: Ping, ping_id: int) -> str | None:
        """Look-before-resend: the ts of this ping's message if an earlier attempt posted it already,
        paging through everything posted since the ping was planned (a busy channel has hundreds)."""
        cursor = ""
        for _ in range(LOOK_BACK_PAGES):
            try:
                response = self._page_of(message, ping, cursor)
            except Exception as error:  # can't tell: post, since a missing ping is worse than a late double
                log.warning("could not look for ping %s before re-posting: %r", ping_id, error)
                return None
            for posted in response.get("messages") or []:
                payload = (posted.get("metadata") or {}).get("event_payload") or {}
                if payload.get("ping_id") == ping_id:
                    return str(posted.get("ts"))
            cursor = str((response.get("response_metadata") or {}).get("next_cursor") or "")
            if not (response.get("has_more") and cursor):
                return None
        log.warning("ping %s: not found in %d pages of history; posting it again", ping_id, LOOK_BACK_PAGES)
        return None

    def _page_of(self, message: Message, ping: Ping, cursor: str) -> Any:
        paging: dict[str, Any] = {"include_all_metadata": True, "limit": 200}
        if cursor:
            paging["cursor"] = cursor
        if message.thread_ts:
            return self.client.conversations_replies(channel=message.channel, ts=message.thread_ts, **paging)
        oldest = str(ping.planned_at.timestamp() - 60)
        return self.client.conversations_history(channel=message.channel, oldest=oldest, **paging)

    def _record(self, claim: ping_store.Claimed, outcome: Outcome) -> None:
        if outcome.state is State.LOST:
            return
        now = self.clock()
        with session_scope(self.engine) as session:
            _, store_time = self._times(session)
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
            has_card = ping_store.has_kind(session, outcome.ticket_id, PingKind.CARD)
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
