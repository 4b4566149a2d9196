"""Look-before-resend: whether an earlier attempt posted a row's message already (Slack may have
posted it and lost its answer), found by the row id in the message's metadata."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from handlers.delivery.renderers import Message
from storage.models import Ping

log = logging.getLogger(__name__)
# At most this many pages of 200 messages are read.
LOOK_BACK_PAGES = 25


def find_posted(client: WebClient, message: Message, ping: Ping, ping_id: int) -> str | None:
    """Look-before-resend: the ts of this ping's message if an earlier attempt posted it already,
    paging through everything posted since the ping was planned (a busy channel has hundreds)."""
    cursor = ""
    for _ in range(LOOK_BACK_PAGES):
        try:
            response = _page_of(client, message, ping, cursor)
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


def _page_of(client: WebClient, message: Message, ping: Ping, cursor: str) -> Any:
    paging: dict[str, Any] = {"include_all_metadata": True, "limit": 200}
    if cursor:
        paging["cursor"] = cursor
    if message.thread_ts:
        return client.conversations_replies(channel=message.channel, ts=message.thread_ts, **paging)
    oldest = str(ping.planned_at.timestamp() - 60)
    return client.conversations_history(channel=message.channel, oldest=oldest, **paging)
