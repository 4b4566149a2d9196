"""HTTP mode: Slack's requests at POST /slack/events, GET /health and GET /metrics, served by waitress."""

from __future__ import annotations

import hmac
import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pendulum
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine

from bot.logs import REQUEST_ID
from handlers import metrics
from handlers.runtime import Runtime
from storage.db import describe_store_error, session_scope, within
from storage.health import write_heartbeat

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


HEALTH_LOCK_WAIT_MS = 2000
MAX_BODY_BYTES = 1_000_000  # Slack's payloads are far smaller


def _answer(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def store_health(engine: Engine) -> tuple[bool, str]:
    """Readable *and* writable: a full disk or a read-only file is as bad as no database at all."""
    try:
        with session_scope(within(engine, HEALTH_LOCK_WAIT_MS)) as session:
            write_heartbeat(session, pendulum.now("UTC"))
        return True, "ok"
    except Exception as error:
        cause = describe_store_error(error)
        log.error("health check: the store is unhealthy: %s", cause)
        return False, cause


def _shielded_from_bolts_payload_check(raw: bytes, content_type: str) -> bytes:
    """Bolt reads any form body with the word "payload" in it as an interaction, so `/ticket note T-1
    the payload was corrupt` would go unanswered. In a slash command's fields the word is spelled
    `%70ayload` instead: the same text once decoded. (The signature was checked on the raw body.)"""
    if "x-www-form-urlencoded" in content_type and not raw.startswith(b"payload=") and b"payload" in raw:
        return raw.replace(b"payload", b"%70ayload")
    return raw


def make_wsgi_app(app: App, runtime: Runtime, signing_secret: str, metrics_token: str = "") -> WSGIApp:
    slack = SlackRequestHandler(app, path="/slack/events")
    verifier = SignatureVerifier(signing_secret)
    registry = metrics.registry_for(runtime.engine, runtime.clock)

    def metrics_page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if metrics_token and not hmac.compare_digest(
            environ.get("HTTP_AUTHORIZATION", ""), f"Bearer {metrics_token}"
        ):
            start_response("401 Unauthorized", [("WWW-Authenticate", "Bearer"), ("Content-Length", "0")])
            return [b""]
        page = metrics.exposition(registry)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(page)))])
        return [page]

    def health(start_response: Callable[..., Any]) -> Iterable[bytes]:
        healthy, cause = store_health(runtime.engine)
        if healthy:
            return _answer(start_response, "200 OK", {"status": "ok", "database": "ok"})
        body = {"status": "degraded", "database": "unavailable", "cause": cause}
        return _answer(start_response, "503 Service Unavailable", body)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return health(start_response)
        if environ.get("PATH_INFO") == "/metrics" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return metrics_page(environ, start_response)
        started, kind = time.monotonic(), "other"
        REQUEST_ID.set(uuid.uuid4().hex[:12])
        if environ.get("REQUEST_METHOD") == "POST":
            # Checked before anything reads the payload: an unsigned body is never parsed.
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                return _answer(start_response, "413 Payload Too Large", {"ok": False})
            raw = environ["wsgi.input"].read(length) if length else b""
            if not verifier.is_valid(
                raw,
                environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                environ.get("HTTP_X_SLACK_SIGNATURE"),
            ):
                return _answer(
                    start_response, "401 Unauthorized", {"ok": False, "error": "invalid_signature"}
                )
            kind = metrics.request_kind(environ.get("CONTENT_TYPE") or "", raw)
            raw = _shielded_from_bolts_payload_check(raw, environ.get("CONTENT_TYPE") or "")
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
        try:
            answer = slack(environ, start_response)
            metrics.ACK_SECONDS.labels(kind=kind).observe(time.monotonic() - started)
            return answer
        except Exception as error:
            # A signed request whose payload Bolt can't read: refuse it plainly, without a trace.
            log.warning("unreadable signed request to %s: %r", environ.get("PATH_INFO"), error)
            return _answer(start_response, "400 Bad Request", {"ok": False, "error": "bad_request"})

    return application


class Server:
    """A waitress server that can run in a thread (tests) or in the foreground (`serve`)."""

    def __init__(self, wsgi_app: WSGIApp, host: str, port: int, threads: int):
        from waitress.server import create_server

        self._server = create_server(
            wsgi_app,
            host=host,
            port=port,
            threads=threads,
            ident="sla-desk",
            clear_untrusted_proxy_headers=True,
        )
        self.port: int = self._server.effective_port  # type: ignore[union-attr]
        self._thread: threading.Thread | None = None
        self._closing = False

    def serve_forever(self) -> None:
        self._server.run()

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self._run_until_closed, name="http", daemon=True)
        self._thread.start()

    def _run_until_closed(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            if not self._closing:  # closing the sockets under a running loop ends it this way
                raise

    def close(self) -> None:
        """Stop at once: the sockets are closed from inside the server's loop, woken by its trigger,
        instead of waiting for the loop's next one-second wake-up."""
        self._closing = True
        if self._thread is not None and self._thread.is_alive():
            closed = threading.Event()

            def close_in_loop(*_: object) -> None:
                self._server.close()
                closed.set()

            try:
                self._server.trigger.pull_trigger(close_in_loop)  # type: ignore[union-attr]
                closed.wait(timeout=5)
            except OSError:  # the loop is ending already and closed its trigger
                pass
            self._thread.join(timeout=5)
        else:
            self._server.close()
