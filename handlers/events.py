"""Message events: an agent's reply in a ticket's thread is a first response."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from handlers.agents import record_thread_reply
from handlers.common import runtime_of
from handlers.runtime import Runtime
from storage.db import session_scope

# A reply also sent to the channel, or one with a file, is a reply all the same.
REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


def register(app: App) -> None:
    app.event("message")(thread_reply)


def thread_reply(event: dict[str, Any], context: BoltContext) -> None:
    thread_ts, user_id, channel = event.get("thread_ts"), event.get("user"), event.get("channel")
    if event.get("subtype") not in REPLY_SUBTYPES or event.get("bot_id"):
        return
    if not (thread_ts and user_id and channel):
        return
    if thread_ts == event.get("ts"):
        return  # the parent message itself
    runtime = runtime_of(context)
    runtime.after_ack(record_reply, runtime, channel, thread_ts, user_id)


def record_reply(runtime: Runtime, channel: str, thread_ts: str, user_id: str) -> None:
    with session_scope(runtime.engine) as session:
        answered = record_thread_reply(runtime, session, channel, thread_ts, user_id)
    if answered is not None:
        runtime.deliver_now(answered)
