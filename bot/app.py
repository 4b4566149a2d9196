"""Assembling the Bolt app: one register(app) per listener group."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot.runtime import Runtime
from handlers import agents, commands, events, filing, home


def build_app(runtime: Runtime) -> App:
    app = App(
        client=runtime.client,
        signing_secret=runtime.settings.slack_signing_secret,
        token_verification_enabled=False,  # start even while Slack is unreachable
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    @app.middleware
    def inject_runtime(context: BoltContext, next: Callable[[], Any]) -> Any:
        context["runtime"] = runtime
        return next()

    @app.error
    def log_listener_error(error: Exception, logger: logging.Logger) -> None:
        # Database outages are answered by the listeners (handlers.common.guarded); this is the rest.
        logger.exception("listener failed: %r", error)

    for group in (commands, filing, agents, home, events):
        group.register(app)
    return app
