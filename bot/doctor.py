"""`python -m bot doctor`: is SLA Desk set up right? One line a check, "ok" or "problem" with the fix;
the exit status 0 when all is well, 1 otherwise. Reads the settings, the store and Slack; changes
nothing. The signing secret and tokens are never printed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.settings import Settings
from storage import channels as channel_store
from storage.db import make_engine, reading, schema_revisions, session_scope

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"ok       {self.what}" if self.ok else f"problem  {self.what} -> fix: {self.fix}"


def manifest_scopes(path: Path = MANIFEST) -> set[str]:
    manifest = yaml.safe_load(path.read_text())
    return set(manifest["oauth_config"]["scopes"]["bot"])


def scope_checks(granted: set[str], asked: set[str]) -> Iterator[Check]:
    missing, unneeded = sorted(asked - granted), sorted(granted - asked)
    if missing:
        yield Check(
            False,
            f"scopes missing: {', '.join(missing)}",
            "add them under OAuth & Permissions (or recreate the app from manifest.yml) and reinstall",
        )
    else:
        yield Check(True, f"every scope manifest.yml asks for is granted ({len(asked)})")
    if unneeded:
        yield Check(
            False,
            f"scopes granted but not needed: {', '.join(unneeded)}",
            "remove them under OAuth & Permissions and reinstall (least privilege)",
        )


def settings_checks(settings: Settings) -> Iterator[Check]:
    required = {
        "SLACK_BOT_TOKEN": (settings.slack_bot_token, "the bot token (xoxb-…) from OAuth & Permissions"),
        "TECH_CHANNEL": (settings.tech_channel, "the Technical Support queue's channel id (C…)"),
        "CARE_CHANNEL": (settings.care_channel, "the Customer Care queue's channel id (C…)"),
        "DATABASE_URL": (settings.database_url, "sqlite:///sla_desk.db or a postgresql+psycopg:// URL"),
    }
    for name, (value, hint) in required.items():
        yield Check(bool(value), f"setting {name} is set", f"set {name}: {hint}")
    yield Check(
        bool(settings.slack_signing_secret),
        "setting SLACK_SIGNING_SECRET is set (not shown)",
        "set SLACK_SIGNING_SECRET from the app's Basic Information page",
    )


def store_checks(engine: Engine) -> Iterator[Check]:
    try:
        current, head = schema_revisions(engine)
    except Exception as error:
        yield Check(
            False,
            f"the store is reachable ({type(error).__name__})",
            "check DATABASE_URL and that the database server runs",
        )
        return
    yield Check(True, "the store is reachable")
    yield Check(
        current == head,
        f"the store's schema is migrated ({current or 'empty'}, code {head})",
        "run `python -m bot migrate` (serve and scheduler also do it at start)",
    )


def slack_checks(settings: Settings, client: WebClient, engine: Engine | None) -> Iterator[Check]:
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "no answer"
        yield Check(
            False,
            f"the bot token is valid (auth.test: {code})",
            "copy the Bot User OAuth Token (xoxb-…) again into SLACK_BOT_TOKEN",
        )
        return
    except Exception as error:
        yield Check(False, f"Slack answers ({type(error).__name__})", "check SLACK_API_URL and the network")
        return
    yield Check(
        True, f"the bot token is valid (workspace {answer.get('team_id')}, bot {answer.get('user_id')})"
    )
    headers = {k.lower(): v for k, v in (answer.headers or {}).items()}
    scopes = headers.get("x-oauth-scopes")
    if isinstance(scopes, list):
        scopes = ",".join(scopes)
    granted = {s.strip() for s in str(scopes or "").split(",") if s.strip()}
    yield from scope_checks(granted, manifest_scopes())
    yield from channel_checks(settings, client, engine)
    yield from contact_checks(settings, client)


def _member_of(client: WebClient, channel: str) -> tuple[bool, bool, str]:
    """(the bot is in it, it is shared with another organization, why not when Slack refused)."""
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as error:
        return False, False, str(error.response.get("error") if error.response is not None else "no answer")
    shared = bool(info.get("is_ext_shared") or info.get("is_shared"))
    return bool(info.get("is_member")), shared, "" if info.get("is_member") else "not a member"


def channel_checks(settings: Settings, client: WebClient, engine: Engine | None) -> Iterator[Check]:
    wanted = [
        ("queue channel TECH_CHANNEL", settings.tech_channel),
        ("queue channel CARE_CHANNEL", settings.care_channel),
    ]
    wanted += [
        (f"report channel of desk {name}", desk.report_channel)
        for name, desk in settings.desks.items()
        if desk.report_channel
    ]
    for what, channel in wanted:
        if channel:
            member, _, why = _member_of(client, channel)
            yield Check(
                member,
                f"the bot is in the {what} <#{channel}>" + (f" ({why})" if why else ""),
                f"invite it: /invite @SLA Desk in <#{channel}>",
            )
    if engine is None:
        return
    try:
        with session_scope(reading(engine)) as session:
            links = [
                (c.channel_id, name, c.status) for c, name in channel_store.channels_with_companies(session)
            ]
    except Exception:
        return  # the store's own check says why
    for channel, company, status in links:
        if status == "disconnected":
            continue
        member, shared, why = _member_of(client, channel)
        yield Check(
            member,
            f"the bot is in partner channel <#{channel}> ({company})" + (f": {why}" if why else ""),
            f"invite it again, or `python -m bot channels disconnect {channel}`",
        )
        if member:
            yield Check(
                shared,
                f"partner channel <#{channel}> ({company}) is still shared",
                f"share it with {company}'s workspace again, or disconnect it",
            )


def contact_checks(settings: Settings, client: WebClient) -> Iterator[Check]:
    groups: set[str] | None = None
    for name, desk in settings.desks.items():
        if desk.lead_group:
            if groups is None:
                groups = _user_groups(client)
            yield Check(
                desk.lead_group in groups,
                f"desk {name}'s lead group {desk.lead_group} exists",
                "set the desk's lead_group in DESKS to a user group id (S…) of this workspace",
            )
        if desk.oncall:
            found, why = _exists(client, desk.oncall)
            yield Check(
                found,
                f"desk {name}'s on-call {desk.oncall} exists" + (f" ({why})" if why else ""),
                "set the desk's oncall in DESKS to a user (U…) or channel (C…) id",
            )


def _user_groups(client: WebClient) -> set[str]:
    try:
        return {str(g.get("id")) for g in client.usergroups_list().get("usergroups") or []}
    except Exception:
        return set()


def _exists(client: WebClient, target: str) -> tuple[bool, str]:
    try:
        if target.startswith(("U", "W")):
            client.users_info(user=target)
        else:
            client.conversations_info(channel=target)
    except SlackApiError as error:
        return False, str(error.response.get("error") if error.response is not None else "no answer")
    return True, ""


def run(settings: Settings, client: WebClient) -> list[Check]:
    checks = list(settings_checks(settings))
    engine = None
    if settings.database_url:
        engine = make_engine(settings.database_url)
        checks += store_checks(engine)
    if settings.slack_bot_token:
        checks += slack_checks(settings, client, engine)
    if engine is not None:
        engine.dispose()
    return checks
