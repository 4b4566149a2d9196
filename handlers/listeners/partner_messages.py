"""Tickets from a partner's message in a partner channel (SPEC "Partner channels"): a reaction with the
ticket emoji or a mention of the bot replies in the message's thread with the filing buttons; the
message shortcut *File as ticket* opens the form at once. Every form starts from the message, and the
message's thread becomes the ticket's partner thread. Acked at once; the work runs after."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.listeners.common import guarded, pressed_in, runtime_of, tell_privately
from handlers.listeners.filing import open_form_then_check, prefill_of
from handlers.operations import channels as channel_ops
from handlers.operations.channels import OfferRefusal, OfferRefused, PartnerMessage
from handlers.runtime import Runtime
from handlers.ui import channels as channel_views
from handlers.ui import forms
from storage import channels as channel_store
from storage import tickets as ticket_store
from storage.db import collect_owed, reading, session_scope
from storage.vocabulary import ChannelStatus

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def register(app: App) -> None:
    app.event("reaction_added")(reaction_event)
    app.event("app_mention")(mention_event)
    app.shortcut(channel_views.FILE_AS_TICKET_CALLBACK)(file_as_ticket)


def reaction_event(event: dict[str, Any], context: BoltContext) -> None:
    runtime = runtime_of(context)
    item = event.get("item") or {}
    if event.get("reaction") != runtime.config.ticket_emoji or item.get("type") != "message":
        return
    channel, ts = str(item.get("channel") or ""), str(item.get("ts") or "")
    runtime.after_ack(_offer_reacted, runtime, channel, ts, str(event.get("user") or ""))


def mention_event(event: dict[str, Any], context: BoltContext) -> None:
    runtime = runtime_of(context)
    if event.get("bot_id") or not event.get("user"):
        return
    message = partner_message(str(event.get("channel") or ""), event)
    runtime.after_ack(offer, runtime, message, str(event["user"]), True)


def partner_message(channel: str, message: dict[str, Any]) -> PartnerMessage:
    ts = str(message.get("ts") or "")
    text = MENTION.sub("", str(message.get("text") or "")).strip()
    return PartnerMessage(channel, ts, str(message.get("thread_ts") or ts), message.get("user"), text)


def _offer_reacted(runtime: Runtime, channel: str, ts: str, by: str) -> None:
    """Only in a partner channel (people react with that emoji elsewhere too): then Slack is asked
    for the message, outside any transaction."""
    with session_scope(reading(runtime.engine)) as session:
        link = channel_store.get_channel(session, channel)
        if link is None or link.status != ChannelStatus.CONNECTED:
            return
    found = fetch_message(runtime.client, channel, ts)
    if found is None or found.get("bot_id"):
        return
    offer(runtime, partner_message(channel, found), by, False)


def fetch_message(client: WebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """One message of a channel, top level or in a thread; None when Slack can't say."""
    try:
        history = client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
        found = [m for m in history.get("messages") or [] if m.get("ts") == ts]
        if not found:  # a reply in a thread: history lists only the channel's own messages
            replies = client.conversations_replies(channel=channel, ts=ts, limit=1)
            found = [m for m in replies.get("messages") or [] if m.get("ts") == ts]
    except Exception as error:
        log.warning("could not read message %s of %s: %r", ts, channel, error)
        return None
    return dict(found[0]) if found else None


def offer(runtime: Runtime, message: PartnerMessage, by: str, say_elsewhere: bool) -> None:
    """Record the offer and deliver its buttons; `say_elsewhere`: tell a mention outside a partner
    channel where tickets are made."""
    with collect_owed() as owed, session_scope(runtime.engine) as session:
        result = channel_ops.offer_as_ticket(session, message, by, runtime.clock())
    if isinstance(result, OfferRefused):
        if result.reason is OfferRefusal.ALREADY_A_TICKET or say_elsewhere:
            tell_privately(runtime.client, message.channel_id, by, refusal_text(result))
        return
    runtime.deliver_owed(owed)


def refusal_text(result: OfferRefused) -> str:
    if result.reason is OfferRefusal.ALREADY_A_TICKET:
        return channel_views.already_a_ticket(result.ticket_ref)
    return channel_views.ONLY_IN_PARTNER_CHANNELS


@guarded
def file_as_ticket(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """The message shortcut: the team chooser opens at once on the message (its trigger lasts 3 s);
    the offer is recorded meanwhile, so the form after the chooser starts from the message."""
    ack()
    runtime = runtime_of(context)
    channel, user_id = pressed_in(body) or "", body["user"]["id"]
    message = partner_message(channel, body.get("message") or {})
    runtime.after_ack(_record_shortcut_offer, runtime, message, user_id, respond)
    pressed = {"channel_id": channel, "trigger_id": body.get("trigger_id", ""), "user_id": user_id}
    origin = forms.FormOrigin(channel, message.thread_ts, message.ts)
    runtime.open_form(open_form_then_check, runtime, client, respond, pressed, None, origin)


def _record_shortcut_offer(runtime: Runtime, message: PartnerMessage, by: str, respond: Respond) -> None:
    with session_scope(runtime.engine) as session:
        result = channel_ops.offer_as_ticket(session, message, by, runtime.clock(), reply=False)
    if isinstance(result, OfferRefused):  # the form is open already: the channel says why it won't do
        respond(text=refusal_text(result), response_type="ephemeral")


OFFERED_QUEUES = {channel_views.OFFER_TECH_ACTION: "tech", channel_views.OFFER_CARE_ACTION: "care"}


def open_offered_form(
    runtime: Runtime,
    client: WebClient,
    respond: Respond,
    pressed: dict[str, Any],
    message_ts: str,
    queue: str,
) -> None:
    """Technical Support or Customer Care under an offered message (the buttons are the intro's
    listener's, `commands.py`): that form, prefilled, on the trigger pool (it lasts 3 s)."""
    channel = pressed["channel_id"] or ""
    with session_scope(reading(runtime.engine)) as session:  # a read: the trigger's 3 s hold
        found = channel_store.get_offer(session, channel, message_ts)
        thread = found.thread_ts if found is not None else message_ts
        filed = session.exec(ticket_store.filer_thread_query(channel, thread)).first()
        origin = forms.FormOrigin(channel, thread, message_ts)
        prefill = prefill_of(session, origin)
    if filed is not None:
        respond(text=channel_views.already_a_ticket(filed.ref), response_type="ephemeral")
        return
    open_form_then_check(runtime, client, respond, pressed, queue, origin, prefill)
