"""The Slack app's manifest asks for what the code uses, and tells users every sub-command."""

from __future__ import annotations

from pathlib import Path

import yaml

from handlers.listeners.agents import ACTIONS
from handlers.listeners.commands import ANSWERS

MANIFEST = yaml.safe_load((Path(__file__).resolve().parent.parent / "manifest.yml").read_text())


def test_least_privilege_scopes() -> None:
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "files:write",
        "im:write",
        "reactions:write",
        "users:read",
        "users:read.email",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
        "channels:read",
        "groups:read",
        "pins:write",
        "reactions:read",
        "app_mentions:read",
        "usergroups:read",
    }


def test_events_the_listeners_handle() -> None:
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "channel_shared",
        "channel_unshared",
        "channel_left",
        "group_left",
        "channel_archive",
        "group_archive",
        "reaction_added",
        "app_mention",
    }


def test_the_message_shortcut_is_the_one_the_listener_handles() -> None:
    from handlers.ui.channels import FILE_AS_TICKET_CALLBACK

    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", FILE_AS_TICKET_CALLBACK)


def test_the_usage_hint_names_every_sub_command() -> None:
    [command] = MANIFEST["features"]["slash_commands"]
    hint = command["usage_hint"]
    for word in [*ACTIONS, *ANSWERS, "new", "help", "report"]:
        assert word in hint, word
    assert command["should_escape"] is True


def test_the_scripts_install_from_lock_files_of_exact_versions_and_hashes() -> None:
    """A fresh machine gets what CI tested: every dependency pinned (==) with its hashes, installed
    with --require-hashes by the scripts the README's two commands run."""
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    venv = (root / "scripts" / "_venv.sh").read_text()
    assert '--require-hashes -r "$lock"' in venv and "--no-deps -e ." in venv
    for lock, wanted in (
        ("requirements.lock", project["dependencies"]),
        ("requirements-dev.lock", project["dependencies"] + project["optional-dependencies"]["dev"]),
    ):
        text = (root / lock).read_text()
        pinned = {
            m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", text, re.M)
        }
        for requirement in wanted:
            name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
            assert name in pinned, f"{name} is not pinned in {lock}"
        blocks = re.findall(
            r"^[A-Za-z0-9_.-]+==\S+(?: \\\n(?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n?)+)", text, re.M
        )
        assert len(blocks) == len(pinned), f"a requirement of {lock} has no hash"
