"""HTTP mode: Slack's requests at POST /slack/events and GET /health, served by waitress."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.runtime import Runtime

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_wsgi_app(app: App, runtime: Runtime) -> WSGIApp:
    slack = SlackRequestHandler(app, path="/slack/events")

    def health(start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            status, body = "200 OK", {"status": "ok", "database": "ok"}
        except Exception:
            status, body = "503 Service Unavailable", {"status": "degraded", "database": "unavailable"}
        payload = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return health(start_response)
        try:
            return slack(environ, start_response)
        except Exception:
            # A signed request whose payload Bolt can't read: refuse it plainly, without a trace.
            log.exception("unreadable request to %s", environ.get("PATH_INFO"))
            payload = b'{"ok": false, "error": "bad_request"}'
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]

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
        self._closing = True
        self._server.close()
        if self._thread:
            self._thread.join(timeout=5)
