"""Message events: the conversation in the ticket's two threads, edits and deletions of what was
copied, and direct messages to the bot. Acked at once (Bolt acks events); the work runs after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from sqlmodel import Session

from handlers.listeners.common import identify, is_agent, look_up, runtime_of, unlisted_company
from handlers.operations import channels as channel_ops
from handlers.operations import conversation as conversation
from handlers.operations.conversation import Author, SlackMessage
from handlers.operations.present import view_of
from handlers.runtime import Runtime
from handlers.ui import tickets as views
from storage import tickets as ticket_store
from storage.db import reading, session_scope
from storage.directory import get_partner, member_by_slack_id
from storage.models import Ticket
from storage.vocabulary import ChannelStatus

# A reply also sent to the channel, or one with a file, is a reply all the same.
REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


def register(app: App) -> None:
    app.event("message")(message_event)
    app.event("channel_shared")(sharing_event)
    app.event("channel_unshared")(sharing_event)
    for lost in ("channel_left", "group_left", "channel_archive", "group_archive"):
        app.event(lost)(channel_lost_event)


def sharing_event(event: dict[str, Any], context: BoltContext) -> None:
    """A partner channel shared with one more team, or one fewer: its link kept current."""
    runtime = runtime_of(context)
    shared = event.get("type") == "channel_shared"
    team = str(event.get("connected_team_id") or event.get("previously_connected_team_id") or "")
    still_external = bool(event.get("is_ext_shared", shared))
    runtime.after_ack(
        _sharing_changed, runtime, str(event.get("channel") or ""), team, shared, still_external
    )


def _sharing_changed(runtime: Runtime, channel: str, team: str, shared: bool, still_external: bool) -> None:
    with session_scope(runtime.engine) as session:
        channel_ops.sharing_changed(session, channel, team, shared, still_external, runtime.clock())


def channel_lost_event(event: dict[str, Any], context: BoltContext) -> None:
    """The bot left a channel, or it was archived: a partner channel's link is marked, once."""
    runtime = runtime_of(context)
    runtime.after_ack(_channel_lost, runtime, str(event.get("channel") or ""))


def _channel_lost(runtime: Runtime, channel: str) -> None:
    with session_scope(runtime.engine) as session:
        channel_ops.lost(session, channel, ChannelStatus.LEFT, runtime.clock())


def message_event(event: dict[str, Any], context: BoltContext) -> None:
    runtime = runtime_of(context)
    subtype = event.get("subtype")
    # One lane a thread: its messages, edits and deletions are handled in the order they came.
    about = event.get("message") or event.get("previous_message") or event
    lane = f"{event.get('channel')}:{about.get('thread_ts')}"
    if subtype == "message_changed":
        runtime.after_ack_in_order(lane, carry_edit, runtime, event)
    elif subtype == "message_deleted":
        runtime.after_ack_in_order(lane, carry_deletion, runtime, event)
    elif subtype in REPLY_SUBTYPES and _from_a_person(event, runtime):
        if event.get("channel_type") == "im":
            runtime.after_ack(answer_direct_message, runtime, event)
        elif event.get("thread_ts") and event.get("thread_ts") != event.get("ts"):
            runtime.after_ack_in_order(lane, carry_message, runtime, event)


def _from_a_person(message: dict[str, Any], runtime: Runtime) -> bool:
    """Never the bot's own messages (its copies among them), nor another bot's: no loops."""
    user = message.get("user")
    return bool(user) and not message.get("bot_id") and user != runtime.bot_user_id


def slack_message(channel: str, message: dict[str, Any]) -> SlackMessage:
    files = tuple(
        (str(f.get("name") or f.get("title") or "file"), str(f.get("permalink") or ""))
        for f in message.get("files") or []
        if isinstance(f, dict)
    )
    return SlackMessage(
        channel, str(message["ts"]), str(message.get("thread_ts") or ""), message.get("text") or "", files
    )


def author_of(session: Session, runtime: Runtime, user_id: str) -> Author:
    """Who wrote a message, from the store and the name `look_up` cached (no Slack call here)."""
    agent = is_agent(session, runtime, user_id)
    member = None if agent else member_by_slack_id(session, user_id)
    partner = get_partner(session, member.partner_id) if member else None
    if partner is None and not agent:  # a person of the partner's own team the directory does not list
        partner = unlisted_company(session, runtime, user_id)
    fallback = member.email.split("@")[0] if member else ("an agent" if agent else "someone")
    name = runtime.names.get(user_id) or fallback
    return Author(user_id, name, agent, partner.name if partner else None)


Work = Callable[[Session, Ticket, Author | None], object]


def in_ticket_thread(
    runtime: Runtime, channel: str, thread_ts: str, work: Work, author_id: str | None = None
) -> None:
    """Do `work` on the ticket whose thread this is (if any), then deliver what it owes.

    Slack is asked for the author's name before the write transaction, and only for a ticket's
    thread (the bot sees every thread of the channels it is in)."""
    with session_scope(reading(runtime.engine)) as session:
        if ticket_store.ticket_by_thread(session, channel, thread_ts) is None:
            return
    if author_id:
        look_up(runtime, author_id, name=True)
    with session_scope(runtime.engine) as session:
        ticket = ticket_store.ticket_by_thread(session, channel, thread_ts)
        if ticket is None or ticket.id is None:
            return
        work(session, ticket, author_of(session, runtime, author_id) if author_id else None)


def carry_message(runtime: Runtime, event: dict[str, Any]) -> None:
    message = slack_message(event["channel"], event)
    desk = runtime.policy

    def carry(session: Session, ticket: Ticket, author: Author | None) -> object:
        assert author is not None
        return conversation.carry_message(session, ticket, message, author, runtime.clock(), desk)

    in_ticket_thread(runtime, message.channel, message.thread_ts, carry, event["user"])


def carry_edit(runtime: Runtime, event: dict[str, Any]) -> None:
    edited = event.get("message") or {}
    if not _from_a_person(edited, runtime) or not edited.get("thread_ts"):
        return
    message = slack_message(event["channel"], edited)
    version = str((edited.get("edited") or {}).get("ts") or event.get("event_ts") or event.get("ts"))

    def carry(session: Session, ticket: Ticket, author: Author | None) -> object:
        assert author is not None
        return conversation.carry_edit(session, ticket, message, author, version, runtime.clock())

    in_ticket_thread(runtime, message.channel, message.thread_ts, carry, edited["user"])


def carry_deletion(runtime: Runtime, event: dict[str, Any]) -> None:
    previous = event.get("previous_message") or {}
    thread_ts, deleted_ts = previous.get("thread_ts"), event.get("deleted_ts")
    if not (thread_ts and deleted_ts):
        return

    def carry(session: Session, ticket: Ticket, _author: Author | None) -> object:
        return conversation.carry_deletion(
            session, ticket, event["channel"], str(deleted_ts), runtime.clock()
        )

    in_ticket_thread(runtime, event["channel"], str(thread_ts), carry)


def answer_direct_message(runtime: Runtime, event: dict[str, Any]) -> None:
    """What the bot does, and the commands that fit who is writing. No ticket is filed from a DM."""
    user_id = event["user"]
    look_up(runtime, user_id)
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, user_id)
        if who.is_agent:
            text = views.DM_FOR_AGENTS
        elif who.partner is not None:
            tickets = ticket_store.company_tickets(session, who.partner.id or 0, limit=10)
            text = views.dm_for_partners(
                who.partner.name, [view_of(session, t, runtime.desks) for t in tickets]
            )
        else:
            text = views.DM_FOR_OTHERS
        conversation.answer_direct_message(
            session, event["channel"], event["ts"], user_id, text, runtime.clock()
        )
