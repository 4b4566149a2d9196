"""Message events: an agent's reply in a ticket's thread is a first response."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from handlers.agents import record_thread_reply
from handlers.common import runtime_of
from storage.db import session_scope


def register(app: App) -> None:
    app.event("message")(thread_reply)


def thread_reply(event: dict[str, Any], context: BoltContext) -> None:
    thread_ts, user_id, channel = event.get("thread_ts"), event.get("user"), event.get("channel")
    if event.get("subtype") or event.get("bot_id") or not (thread_ts and user_id and channel):
        return
    if thread_ts == event.get("ts"):
        return  # the parent message itself
    runtime = runtime_of(context)
    with session_scope(runtime.engine) as session:
        answered = record_thread_reply(runtime, session, channel, thread_ts, user_id)
    if answered is not None:
        runtime.deliverer.deliver_for_ticket(answered)
