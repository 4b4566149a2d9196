"""Slack I/O for one delivery row: where it goes (a person's DM opened once), whether it was posted
already, the channel's turn, the call itself, and what Slack's answer means (the retry policy's)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from handlers.config import DeskConfig
from handlers.delivery.lookback import find_posted
from handlers.delivery.outcome import Outcome, State
from handlers.delivery.pacing import hold_off, wait_for_turn
from handlers.delivery.renderers import Message
from handlers.rules import retry as retry
from storage import pings as ping_store
from storage.db import session_scope
from storage.models import Ping, PingKind, Ticket
from storage.pings import Claimed

log = logging.getLogger(__name__)

METADATA_EVENT = "sla_desk_ping"
ALREADY_DONE = frozenset({"already_reacted", "already_pinned", "message_not_found"})


@dataclass
class SlackPoster:
    """Posts one rendered row; never retries on its own (the loop records a retry)."""

    config: DeskConfig
    engine: Engine
    client: WebClient

    def send(self, message: Message, ping: Ping, ticket: Ticket | None, claim: Claimed) -> Outcome:
        """Where it goes, whether an earlier attempt posted it already, the channel's turn, the post."""
        try:
            message.channel = self._direct_channel(message.channel, ping, claim)
        except SlackApiError as error:
            return self._after_error(error, message, ping, ticket, claim)
        except Exception as error:
            return self._no_answer(error, ping, claim.id)
        is_post = not (
            message.update_ts or message.delete_ts or message.reaction or message.files or message.pin_ts
        )
        if claim.in_flight and is_post and (found := find_posted(self.client, message, ping, claim.id)):
            return Outcome(State.SENT, channel=message.channel, ts=found, late=message.late)
        if (
            wait := wait_for_turn(self.engine, self.config.channel_pace_seconds, message)
        ) is not None:  # right before the post: on time
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

    def permalink(self, channel: str | None, ts: str | None) -> str | None:
        """Asked once, when the card or the confirmation is posted, and kept on the ticket."""
        try:
            return str(self.client.chat_getPermalink(channel=channel or "", message_ts=ts or "")["permalink"])
        except Exception as error:  # a missing link costs a click, not a message: go on without it
            log.warning("no permalink for %s/%s: %r", channel, ts, error)
            return None

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
            if message.pin_ts:
                self.client.pins_add(channel=message.channel, timestamp=message.pin_ts)
                return Outcome(State.SENT, channel=message.channel, ts=message.pin_ts)
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
        log.warning(
            "posting ping %s failed: %r", ping_id, error,
            extra={"ping": ping_id, "ticket": ping.ticket_id, "slack_method": "chat.postMessage"},
        )  # fmt: skip
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
            hold_off(self.engine, message.channel, decision.wait_seconds)
        if decision.action is retry.Action.RETRY:
            return Outcome(
                State.RETRY, retry_in=decision.wait_seconds, unsure=decision.unsure, reason=decision.reason
            )
        if decision.action is retry.Action.CHANNEL:
            if ticket and ping.kind == PingKind.CONFIRMATION and message.channel != ticket.filer_user_id:
                # The bot is not in the filer's channel: a direct message still reaches them.
                outcome = self.send(replace(message, channel=ticket.filer_user_id), ping, ticket, claim)
                outcome.reason = f"fell back to a direct message: {code}"
                return outcome
            return Outcome(State.FAILED, channel=message.channel, reason=code)
        log.error(
            "Slack refused ping %s (%s): %s", ping_id, ping.kind, decision.reason,
            extra={"ping": ping_id, "ticket": ping.ticket_id},
        )  # fmt: skip
        return Outcome(State.FAILED, channel=message.channel, reason=decision.reason)
