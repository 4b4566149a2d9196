"""Whose request counts (SPEC "Partner channels"): the installation Slack authorized must be this one,
and the person acting must be of this workspace, or of a partner team that the channel the request
comes from connects. Checked once for every request, before any listener; a refusal is a clear message
and changes nothing.

Before the ack: no Slack call here, and a store read only for people of another team (a primary-key
read, which waits on no writer)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from handlers.listeners.common import first_input, runtime_of, tell_privately
from handlers.rules.channels import ACTOR_REFUSALS, ActorRefusal, ChannelLink, actor_refusal
from handlers.runtime import Runtime
from storage import channels as channel_store
from storage.db import reading, session_scope
from storage.vocabulary import ChannelStatus

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.middleware(check_who_acts)


@dataclass(frozen=True)
class RequestFacts:
    """Who is acting where, as the request's payload says."""

    kind: str  # the payload's type ("event_callback", "block_actions", …) or "command"
    installation_team: str | None  # the installation Slack authorized, when the payload names it
    actor: str | None
    actor_team: str | None
    channel: str | None
    event_type: str | None = None


def request_facts(body: dict[str, Any]) -> RequestFacts:
    """Read from the payload as Slack sends it, also for people of other organizations: their own
    `user.team_id` (interactions), `event.user_team` (events); `authorizations` and
    `view.app_installed_team_id` name the installation."""
    view, event, user = _part(body, "view"), _part(body, "event"), _part(body, "user")
    authorizations = body.get("authorizations") or []
    installation = view.get("app_installed_team_id") or (
        authorizations[0].get("team_id") if authorizations and isinstance(authorizations[0], dict) else None
    )
    if "command" in body:  # slash commands reach this workspace's people only
        return RequestFacts("command", None, body.get("user_id"), body.get("team_id"), body.get("channel_id"))
    if event:
        item = _part(event, "item")
        actor = event.get("user") if isinstance(event.get("user"), str) else None
        team = event.get("user_team") or (event.get("team") if actor else None)
        channel = event.get("channel") if isinstance(event.get("channel"), str) else item.get("channel")
        return RequestFacts(
            "event_callback", installation, actor, team, channel, event_type=event.get("type")
        )
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if not channel and view:
        channel = _form_channel(view.get("private_metadata"))
    return RequestFacts(
        str(body.get("type") or ""),
        installation,
        user.get("id"),
        user.get("team_id") or (body.get("team") or {}).get("id"),
        channel,
    )


def _part(payload: dict[str, Any], key: str) -> dict[str, Any]:
    part = payload.get(key)
    return part if isinstance(part, dict) else {}


def _form_channel(private_metadata: str | None) -> str | None:
    try:
        channel = json.loads(private_metadata or "{}").get("channel")
    except (ValueError, AttributeError):
        return None
    return str(channel) if channel else None


def check_who_acts(
    body: dict[str, Any], context: BoltContext, client: WebClient, next: Callable[[], Any]
) -> Any:
    runtime = runtime_of(context)
    facts = request_facts(body)
    own = runtime.team_id
    if own and facts.installation_team and facts.installation_team != own:
        # Signed with our secret, but for another installation: not ours to serve.
        log.warning("refused a request for installation %s", facts.installation_team)
        return BoltResponse(status=403, body="")
    if facts.actor and facts.actor_team:
        runtime.user_teams[facts.actor] = facts.actor_team
    if not own or not facts.actor_team or facts.actor_team == own:
        return next()
    link, partner_team = _link_of(runtime, facts)
    refusal = actor_refusal(own, facts.actor_team, link, partner_team)
    if refusal is None:
        return next()
    log.warning(
        "refused %s of %s (team %s) in %s: %s",
        facts.kind, facts.actor, facts.actor_team, facts.channel, refusal.value,
    )  # fmt: skip
    if link is None and not partner_team:
        return BoltResponse(status=403, body="")  # another workspace, in no partner's channel
    return refused(runtime, client, body, facts, refusal)


def _link_of(runtime: Runtime, facts: RequestFacts) -> tuple[ChannelLink | None, bool]:
    with session_scope(reading(runtime.engine)) as session:
        row = channel_store.get_channel(session, facts.channel) if facts.channel else None
        link = (
            ChannelLink(row.partner_id, frozenset(row.teams), row.status == ChannelStatus.CONNECTED.value)
            if row is not None
            else None
        )
        in_link = link is not None and facts.actor_team in link.teams
        partner_team = not in_link and facts.actor_team in channel_store.teams_of_connected_channels(session)
    return link, partner_team


def refused(
    runtime: Runtime, client: WebClient, body: dict[str, Any], facts: RequestFacts, refusal: ActorRefusal
) -> BoltResponse:
    """The refusal, where the person looks: on the form, or ephemerally in the channel."""
    message = ACTOR_REFUSALS[refusal]
    if facts.kind == "view_submission":
        errors = {first_input(body.get("view") or {}): message}
        answer = json.dumps({"response_action": "errors", "errors": errors})
        return BoltResponse(status=200, body=answer, headers={"content-type": "application/json"})
    if facts.kind == "command":
        answer = json.dumps({"response_type": "ephemeral", "text": message})
        return BoltResponse(status=200, body=answer, headers={"content-type": "application/json"})
    said_to_them = facts.kind != "event_callback" or facts.event_type in ("app_mention", "reaction_added")
    if said_to_them and facts.channel and facts.actor:
        runtime.after_ack(tell_privately, client, facts.channel, facts.actor, message)
    return BoltResponse(status=200, body="")
