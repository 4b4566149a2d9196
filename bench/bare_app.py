"""A bare Bolt app that only acknowledges `/ticket` and buttons, on the same server stack as `serve`.

.venv/bin/python bench/bare_app.py PORT
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_bolt import Ack, App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bot.server import Server  # noqa: E402


def main() -> None:
    port = int(sys.argv[1])
    client = WebClient(token="xoxb-bench", base_url=os.environ.get("SLACK_API_URL", "https://slack.com/api/"))
    app = App(
        client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False
    )

    @app.command("/ticket")
    def acknowledge(ack: Ack) -> None:
        ack()

    @app.action(re.compile(".*"))
    def acknowledge_button(ack: Ack) -> None:
        ack()

    from slack_bolt.adapter.wsgi import SlackRequestHandler

    slack = SlackRequestHandler(app)

    def application(environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") == "/health":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        return slack(environ, start_response)

    Server(application, "127.0.0.1", port, threads=16).serve_forever()


if __name__ == "__main__":
    main()
