"""Requests shaped and signed as Slack sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import requests

SIGNING_SECRET = "test-signing-secret"


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str, content_type: str, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(timestamp if timestamp is not None else time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


class SlackSender:
    """Posts signed slash commands, interactions and events to the app's endpoint."""

    def __init__(self, base_url: str, response_url: str, secret: str = SIGNING_SECRET):
        self.endpoint = base_url.rstrip("/") + "/slack/events"
        self.response_url = response_url
        self.secret = secret
        self._trigger = 1_000_000
        self._lock = threading.Lock()

    def post_raw(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        headers = headers if headers is not None else signed_headers(body, content_type, self.secret)
        return requests.post(self.endpoint, data=body.encode(), headers=headers, timeout=30)

    def command_body(self, text: str, user: str, channel: str = "CPARTNER", ref: int | None = None) -> str:
        self._trigger += 1
        ref = self._trigger if ref is None else ref
        return urlencode(
            {
                "token": "legacy",
                "team_id": "T0TEAM",
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "support",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/ticket",
                "text": text,
                "api_app_id": "A0SLADESK",
                "is_enterprise_install": "false",
                # Each command's own response URL, so its answer can be told from others'.
                "response_url": f"{self.response_url}?cmd={ref}",
                "trigger_id": f"trigger.{ref}",
            }
        )

    def command(self, text: str, user: str, channel: str = "CPARTNER") -> requests.Response:
        """The HTTP answer (the ack); `response.ref` names the answer sent later on its response URL."""
        with self._lock:
            self._trigger += 1
            ref = self._trigger
        body = self.command_body(text, user, channel, ref=ref)
        response = self.post_raw(body, "application/x-www-form-urlencoded")
        response.ref = str(ref)  # type: ignore[attr-defined]
        return response

    def interaction(self, payload: dict[str, Any]) -> requests.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post_raw(body, "application/x-www-form-urlencoded")

    def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int = 0, ext_shared: bool = False
    ) -> requests.Response:
        """An Events API callback; `retry` > 0 re-delivers it as Slack does after a slow ack;
        `ext_shared`: from a Slack Connect channel (the event then names its author's team)."""
        callback: dict[str, Any] = {
            "token": "legacy",
            "team_id": "T0TEAM",
            "api_app_id": "A0SLADESK",
            "type": "event_callback",
            "event_id": event_id or f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": "T0TEAM", "user_id": "UBOTSLADESK", "is_bot": True}],
        }
        if ext_shared:
            callback["is_ext_shared_channel"] = True
            callback["context_team_id"] = "T0TEAM"
        body = json.dumps(callback)
        headers = signed_headers(body, "application/json", self.secret)
        if retry:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        return self.post_raw(body, "application/json", headers=headers)

    def view_submission(
        self, view: dict[str, Any], user: str, view_id: str = "VFORM1", team: str = "T0TEAM"
    ) -> requests.Response:
        """A form submitted; by a person of another team (a partner in a shared channel), as Slack
        sends it: their own team in `team` and `user.team_id`, this installation in
        `view.app_installed_team_id`."""
        form = {"id": view_id, **view, "team_id": team, "app_installed_team_id": "T0TEAM"}
        return self.interaction({**_from(user, "view_submission", team), "view": form})

    def shortcut(
        self, message: dict[str, Any], user: str, channel: str, team: str = "T0TEAM", trigger: str = "t.sc"
    ) -> requests.Response:
        """The message shortcut *File as ticket* on `message`, as Slack sends a `message_action`."""
        payload = {
            **_from(user, "message_action", team),
            "callback_id": "file_as_ticket",
            "trigger_id": trigger,
            "action_ts": str(time.time()),
            "message_ts": message["ts"],
            "channel": {"id": channel, "name": channel.lower()},
            "message": message,
            "response_url": self.response_url,
        }
        return self.interaction(payload)

    def button(
        self, action_id: str, value: str, user: str, channel: str = "CTECH", team: str = "T0TEAM"
    ) -> requests.Response:
        return self.interaction(
            {**button_payload(action_id, value, user, channel, team), "response_url": self.response_url}
        )


def button_payload(
    action_id: str, value: str, user: str, channel: str = "CTECH", team: str = "T0TEAM"
) -> dict[str, Any]:
    """A press of a card's button, as Slack sends it."""
    return {
        **_from(user, "block_actions", team),
        "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": "1800000001.000100"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "card",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }


def _from(user: str, kind: str, team: str = "T0TEAM") -> dict[str, Any]:
    """What every interaction payload carries: its type, the team, the user, the app, a trigger."""
    return {
        "type": kind,
        "team": {"id": team},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0SLADESK",
        "trigger_id": f"trigger.{kind}",
    }


def submitted(view: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The view as Slack sends it back on submit, with `answers` filled in (block id -> value)."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        block_id = block["block_id"]
        element = block["element"]
        answer = answers.get(block_id)
        if element["type"] == "plain_text_input":  # a prefilled field is sent back as it stands
            value = answer if answer is not None else element.get("initial_value")
            values[block_id] = {block_id: {"type": "plain_text_input", "value": value}}
        else:
            option = None
            if answer is None and element.get("initial_option"):
                option = element["initial_option"]
            elif answer is not None:
                option = {"text": {"type": "plain_text", "text": str(answer)}, "value": answer}
            values[block_id] = {block_id: {"type": element["type"], "selected_option": option}}
    return {**view, "state": {"values": values}}
