"""What Slack's `conversations.info` says of a channel, read into plain values (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChannelFacts:
    channel_id: str
    name: str
    is_shared: bool  # shared with another workspace or organization (Slack Connect)
    team_ids: frozenset[str]  # the other teams (T…) and orgs (E…) it connects
    is_member: bool  # the bot is in it
    is_archived: bool


def channel_facts(info: dict[str, Any], own_team: str) -> ChannelFacts:
    """`info` is `conversations.info`'s `channel`; `own_team` is this workspace, not a partner's."""
    shared = bool(info.get("is_ext_shared") or info.get("is_shared") or info.get("is_pending_ext_shared"))
    teams = {str(t) for t in info.get("shared_team_ids") or [] if t}
    teams |= {str(t) for t in info.get("connected_team_ids") or [] if t}
    teams.discard(own_team)
    return ChannelFacts(
        channel_id=str(info.get("id") or ""),
        name=str(info.get("name") or ""),
        is_shared=shared,
        team_ids=frozenset(teams),
        is_member=bool(info.get("is_member", True)),
        is_archived=bool(info.get("is_archived")),
    )
