"""Partner channels' rules: what `conversations.info` says of a channel, who may act in one, and a
message offered as a ticket. Pure: plain values in and out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
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


@dataclass(frozen=True)
class ChannelLink:
    """What the store says of the channel a request comes from, as the rule below needs it."""

    partner_id: int
    teams: frozenset[str]  # the partner teams it connects
    connected: bool  # not unshared, left or archived


class ActorRefusal(StrEnum):
    NOT_CONNECTED = "not_connected"  # another workspace, in a channel that serves no partner of it
    OTHER_PARTNER = "other_partner"  # a partner's person in another partner's channel


ACTOR_REFUSALS = {
    ActorRefusal.NOT_CONNECTED: (
        "SLA Desk serves partners in the channel their company shares with the vendor. Your workspace "
        "is not connected to this channel, so nothing was done."
    ),
    ActorRefusal.OTHER_PARTNER: (
        "This channel serves another partner company: please use your own company's channel with the "
        "vendor. Nothing was done."
    ),
}


def actor_refusal(
    own_team: str, actor_team: str | None, link: ChannelLink | None, partner_team: bool
) -> ActorRefusal | None:
    """May a person of `actor_team` act in the channel `link` describes (None: no partner channel)?

    People of this workspace (or of a team Slack did not name) may; a partner's people only in a
    connected channel that connects their team. `partner_team`: the team is connected to some other
    partner channel (so the refusal can say why)."""
    if not actor_team or not own_team or actor_team == own_team:
        return None
    if link is not None and link.connected and actor_team in link.teams:
        return None
    return ActorRefusal.OTHER_PARTNER if partner_team else ActorRefusal.NOT_CONNECTED


def message_prefill(text: str, subject_max: int, description_max: int) -> tuple[str, str]:
    """A message offered as a ticket: its first line the subject, its text the description."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    subject = lines[0] if lines else ""
    if len(subject) > subject_max:
        subject = subject[: subject_max - 1].rstrip() + "…"
    return subject, (text or "").strip()[:description_max]
