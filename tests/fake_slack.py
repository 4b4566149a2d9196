"""A small fake of Slack's Web API: records every call, keeps posted messages, answers with errors on cue.

Shaped after slack-bolt's own tests/mock_web_api_server: a real HTTP server on a free port that the
app's WebClient is pointed at through SLACK_API_URL.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER = "UBOTSLADESK"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Latency:
    """Answer after `low`-`high` seconds, and a `slow_share` of calls after `slow` seconds."""

    low: float
    high: float
    slow_share: float = 0.0
    slow: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def draw(self) -> float:
        if self.rng.random() < self.slow_share:
            return self.slow
        return self.rng.uniform(self.low, self.high)


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def _manifest_scopes() -> list[str]:
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parent.parent / "manifest.yml").read_text())
    return list(manifest["oauth_config"]["scopes"]["bot"])


MANIFEST_SCOPES = _manifest_scopes()


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.emails: dict[str, str] = {}
        # People of other organizations (a partner in a Slack Connect channel): user id -> their team.
        # Their profiles show no e-mail unless `emails` gives one, as external profiles often hide it.
        self.user_teams: dict[str, str] = {}
        self.missing_users: set[str] = set()  # users.info answers user_not_found for these
        self.user_groups: set[str] = set()  # usergroups.list: the groups of the workspace
        self.scopes: set[str] = set(MANIFEST_SCOPES)  # the token's scopes (x-oauth-scopes)
        self.channel_errors: dict[str, str] = {}
        self.scripted: dict[str, deque[Scripted]] = defaultdict(deque)
        self.down_for: dict[str, float] = {}  # method -> monotonic time until which it answers 500
        self.delay = 0.0
        self.latencies: dict[str, Latency] = {}  # method -> how long it takes to answer
        # method -> seconds to wait *after* doing what was asked: the call takes effect, its answer is
        # lost to a client that gives up sooner (a post Slack made whose answer never arrived).
        self.hang_after: dict[str, float] = {}
        self.reactions: dict[tuple[str, str], list[str]] = defaultdict(list)  # (channel, ts) -> names
        self.uploads: dict[str, bytes] = {}  # file id -> the bytes uploaded
        # conversations.info: what a channel is (a Slack Connect channel: is_ext_shared, shared_team_ids)
        self.channels: dict[str, dict[str, Any]] = {}
        self.pins: dict[str, list[str]] = defaultdict(list)  # channel -> pinned message ts
        self.shared: list[dict[str, Any]] = []  # completed uploads: channel, comment, files with bytes
        # Slack's per-channel limit, when set: a second message (post or update) to a channel within this
        # many seconds is answered 429 with Retry-After, and counted.
        self.pace_per_channel = 0.0
        self.rate_limited = 0
        self._last_in_channel: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                fake._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- scripting ------------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int = 500,
        error: str = "internal_error",
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        for _ in range(times):
            self.scripted[method].append(Scripted(status, {"ok": False, "error": error}, headers))

    def outage(self, method: str, seconds: float) -> None:
        self.down_for[method] = time.monotonic() + seconds

    def recover(self) -> None:
        self.down_for.clear()
        self.scripted.clear()

    # --- reading --------------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c.params for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [
            p for p in self.calls_to("chat.postMessage") if channel is None or p.get("channel") == channel
        ]

    def delivered(self, channel: str) -> list[dict[str, Any]]:
        """Messages that Slack accepted in a channel (a failed call is not among them)."""
        with self._lock:
            return list(self.messages.get(channel, []))

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 10.0, **match: Any
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [p for p in self.calls_to(method) if all(p.get(k) == v for k, v in match.items())]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self.channel_errors.clear()
            self.scripted.clear()
            self.down_for.clear()
            self.latencies.clear()
            self.hang_after.clear()
            self.reactions.clear()
            self.uploads.clear()
            self.shared.clear()
            self.channels.clear()
            self.pins.clear()
            self.emails.clear()
            self.user_teams.clear()
            self.missing_users.clear()
            self.user_groups.clear()
            self.scopes = set(MANIFEST_SCOPES)
            self.delay = 0.0
            self.pace_per_channel = 0.0
            self.rate_limited = 0
            self._last_in_channel.clear()

    # --- serving --------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if parsed.path.startswith("/upload/"):  # files_upload_v2's second step: the bytes themselves
            with self._lock:
                self.uploads[parsed.path.rsplit("/", 1)[-1]] = raw
                self.calls.append(
                    Call("upload", {"file_id": parsed.path.rsplit("/", 1)[-1], "length": len(raw)})
                )
            request.send_response(200)
            request.send_header("Content-Length", "2")
            request.end_headers()
            request.wfile.write(b"OK")
            return
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if raw:
            if "json" in (request.headers.get("Content-Type") or ""):
                params.update(json.loads(raw))
            else:
                params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
        for key in ("blocks", "metadata", "view", "files"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        method = parsed.path.rsplit("/", 1)[-1]
        if self.delay:
            time.sleep(self.delay)
        if method in self.latencies:
            with self._lock:
                pause = self.latencies[method].draw()
            time.sleep(pause)
        with self._lock:
            self.calls.append(Call(method, params))
            status, body, headers = self._answer(method, params)
        if method in self.hang_after:
            time.sleep(self.hang_after[method])
        payload = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(payload)

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.pace_per_channel and method in ("chat.postMessage", "chat.update"):
            channel = self._channel_of(str(params.get("channel", "")))
            now = time.monotonic()
            if now - self._last_in_channel.get(channel, -1e9) < self.pace_per_channel:
                self.rate_limited += 1
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
            self._last_in_channel[channel] = now
        if time.monotonic() < self.down_for.get(method, 0):
            return 500, {"ok": False, "error": "internal_error"}, {}
        if self.scripted[method]:
            scripted = self.scripted[method].popleft()
            return scripted.status, scripted.body, scripted.headers
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        body = handler(params) if handler else {"ok": True}
        # As Slack does on every call: the scopes the token was granted.
        return 200, body, {"x-oauth-scopes": ",".join(sorted(self.scopes))}

    def _next_ts(self) -> str:
        return f"{1_800_000_000 + next(self._ts)}.000100"

    def _channel_of(self, channel: str) -> str:
        return "D" + channel[1:] if channel.startswith(("U", "W")) else channel

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "user_id": BOT_USER,
            "bot_id": "BSLADESK",
            "team_id": "T0TEAM",
            "user": "sla-desk",
        }

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = str(params.get("channel", ""))
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        channel = self._channel_of(channel)
        message = {
            "type": "message",
            "user": BOT_USER,
            "ts": self._next_ts(),
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "thread_ts": params.get("thread_ts"),
            "metadata": params.get("metadata"),
        }
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(str(params.get("channel")), []):
            if message["ts"] == params.get("ts"):
                message.update(text=params.get("text"), blocks=params.get("blocks"))
                return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        return {"ok": False, "error": "message_not_found"}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        messages = self.messages.get(str(params.get("channel")), [])
        for message in messages:
            if message["ts"] == params.get("ts"):
                messages.remove(message)
                return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        return {"ok": False, "error": "message_not_found"}

    def _chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel, ts = str(params.get("channel")), str(params.get("message_ts"))
        return {"ok": True, "channel": channel, "permalink": permalink(channel, ts)}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (str(params.get("channel")), str(params.get("timestamp")))
        if params.get("name") in self.reactions[key]:
            return {"ok": False, "error": "already_reacted"}
        self.reactions[key].append(str(params.get("name")))
        return {"ok": True}

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        file_id = "F" + self._next_ts().replace(".", "")
        return {
            "ok": True,
            "file_id": file_id,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
        }

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        files = [{**f, "content": self.uploads.get(f["id"], b"")} for f in params.get("files") or []]
        if any(not f["content"] for f in files):
            return {"ok": False, "error": "file_not_uploaded"}
        self.shared.append(
            {"channel": params.get("channel_id"), "comment": params.get("initial_comment"), "files": files}
        )
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": self._channel_of(str(params.get("users")))}}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel"))
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        info = {"id": channel, "name": channel.lower(), "is_member": True, "is_shared": False}
        return {"ok": True, "channel": {**info, **self.channels.get(channel, {})}}

    def _pins_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel")), str(params.get("timestamp"))
        if ts in self.pins[channel]:
            return {"ok": False, "error": "already_pinned"}
        self.pins[channel].append(ts)
        return {"ok": True}

    def _chat_postEphemeral(self, _params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"ok": True, "message_ts": self._next_ts()}

    def _usergroups_list(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "usergroups": [{"id": g, "handle": g.lower()} for g in sorted(self.user_groups)]}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user"))
        if user in self.missing_users:
            return {"ok": False, "error": "user_not_found"}
        email = self.emails.get(user)
        profile: dict[str, Any] = {"email": email} if email else {}
        profile["real_name"] = user[1:].lower()  # UALICE -> "alice"
        team = self.user_teams.get(user, "T0TEAM")
        found = {"id": user, "team_id": team, "name": user.lower(), "profile": profile}
        if team != "T0TEAM":
            found["is_stranger"] = False  # in a shared channel: of a connected organization
        return {"ok": True, "user": found}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel"))
        if channel.startswith(("U", "W")):  # as Slack: a user id is no conversation
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        inclusive = str(params.get("inclusive")).lower() in ("true", "1") or not params.get("latest")
        found = [
            m
            for m in self.messages.get(channel, [])
            if (not m.get("thread_ts") or m.get("thread_ts") == m["ts"])
            and (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
        ]
        return self._page(list(reversed(found)), params)

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        parent = params.get("ts")
        found = [
            m
            for m in self.messages.get(str(params.get("channel")), [])
            if m["ts"] == parent or m.get("thread_ts") == parent
        ]
        return self._page(found, params)

    def _page(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """One page of `limit` messages (Slack's default 100), with a cursor to the next one."""
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        shown = self._shown(messages[start : start + limit], params)
        more = start + limit < len(messages)
        body: dict[str, Any] = {"ok": True, "messages": shown, "has_more": more}
        body["response_metadata"] = {"next_cursor": str(start + limit) if more else ""}
        return body

    @staticmethod
    def _shown(messages: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
        with_metadata = str(params.get("include_all_metadata")).lower() in ("true", "1")
        return [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in messages]

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "view": {"id": "V" + self._next_ts().replace(".", ""), **(params.get("view") or {})},
        }

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {"id": params.get("view_id"), **(params.get("view") or {})}}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": params.get("view") or {}}


def permalink(channel: str, ts: str) -> str:
    return f"https://fake.slack.example/archives/{channel}/p{ts.replace('.', '')}"


def main() -> None:
    """Serve the fake alone (benchmarks run it in a process of its own): prints its API URL.

    `python -m tests.fake_slack [SECONDS]`: every call answered after SECONDS (a slow Slack).
    """
    fake = FakeSlack()
    if len(sys.argv) > 1:
        fake.delay = float(sys.argv[1])
    print(fake.url, flush=True)
    try:
        fake.thread.join()
    except KeyboardInterrupt:
        fake.close()


if __name__ == "__main__":
    main()
