"""Partner channels, the listener side: `/ticket connect COMPANY` in the channel (the CLI's
`channels connect` shares `connect_channel`). Slack is asked what the channel is before the write."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.listeners.common import identify, look_up
from handlers.operations import channels as channel_ops
from handlers.operations.context import Actor
from handlers.rules.channels import ChannelFacts, channel_facts
from handlers.rules.eligibility import escape
from handlers.runtime import Runtime
from storage.db import reading, session_scope

log = logging.getLogger(__name__)
CONNECT_USAGE = (
    "Usage: `/ticket connect COMPANY` in the partner's channel, like `/ticket connect Acme Telecom`."
)


def ask_slack(client: WebClient, channel_id: str, own_team: str) -> ChannelFacts | str:
    """What the channel is (shared? with whom? is the bot in it?), or why Slack could not say."""
    try:
        info = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "no answer"
        return (
            f"Slack could not say what <#{channel_id}> is (`{code}`): invite the bot (`/invite @SLA Desk`)."
        )
    except Exception as error:  # no answer in time
        log.warning("conversations.info for %s failed: %r", channel_id, error)
        return "Slack did not answer in time. Nothing was changed: please try again in a minute."
    return channel_facts(dict(info), own_team)


def connect_channel(runtime: Runtime, actor: Actor, facts: ChannelFacts, company: str) -> str:
    """Connect and word the result (for the command and the CLI alike)."""
    with session_scope(runtime.engine) as session:
        result = channel_ops.connect(session, facts, company, actor, runtime.clock())
    return connected_text(facts.channel_id, company, result)


def run_connect(runtime: Runtime, user_id: str, channel_id: str | None, args: list[str]) -> str:
    company = " ".join(args).strip()
    if not company:
        return CONNECT_USAGE
    if not channel_id or channel_id.startswith("D"):
        return "Run `/ticket connect COMPANY` in the partner's channel, not in a direct message."
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
    actor = Actor(user_id, who.is_agent)
    if not actor.is_agent:  # refused before Slack is asked anything
        return connected_text(
            channel_id, company, channel_ops.ChannelRefused(channel_ops.ChannelRefusal.AGENTS_ONLY)
        )
    facts = ask_slack(runtime.client, channel_id, runtime.team_id)
    if isinstance(facts, str):
        return facts
    return connect_channel(runtime, actor, facts, company)


def connected_text(
    channel_id: str, company: str, result: channel_ops.Connected | channel_ops.ChannelRefused
) -> str:
    here = f"<#{channel_id}>"
    if isinstance(result, channel_ops.Connected):
        if result.again:
            return f"{here} already serves *{escape(result.company)}*: nothing new was posted."
        shared = " (shared with their workspace)" if result.channel.is_shared else ""
        return f"{here} now serves *{escape(result.company)}*{shared}. The intro is posted and pinned there."
    reasons = {
        channel_ops.ChannelRefusal.AGENTS_ONLY: "Only support agents can connect a channel to a partner.",
        channel_ops.ChannelRefusal.UNKNOWN_COMPANY: f"There is no partner company {escape(company)!r} in "
        "the directory (`python -m bot directory import FILE.csv` adds it).",
        channel_ops.ChannelRefusal.OTHER_COMPANY: f"{here} already serves {escape(result.company)}: one "
        f"channel serves one company. Disconnect it first: `python -m bot channels disconnect {channel_id}`.",
        channel_ops.ChannelRefusal.NOT_A_MEMBER: f"I'm not in {here}: invite me first (`/invite @SLA Desk`).",
        channel_ops.ChannelRefusal.ARCHIVED: f"{here} is archived.",
        channel_ops.ChannelRefusal.NOT_CONNECTED: f"{here} is not connected to a partner.",
    }
    return reasons[result.reason]
