"""Assembling the Bolt app: one register(app) per listener group."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.authorization import AuthorizeResult

from bot.settings import Settings
from handlers.listeners import access as access
from handlers.listeners import agents as agents
from handlers.listeners import commands as commands
from handlers.listeners import events as events
from handlers.listeners import filing as filing
from handlers.listeners import home as home
from handlers.listeners import incidents as incident_actions
from handlers.listeners import partner_messages as partner_messages
from handlers.listeners import satisfaction as satisfaction
from handlers.runtime import Runtime

log = logging.getLogger(__name__)
# Bolt warns that SLACK_BOT_TOKEN is unused when a client is given: it is the client's token.
logging.getLogger("slack_bolt.App").addFilter(
    lambda record: "will be unused" not in record.getMessage() and "token" not in record.getMessage().lower()
)


def build_app(runtime: Runtime, settings: Settings) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # One installation, one bot token: no auth.test per request (Bolt's default), so a Slack that
        # is away at start refuses nothing. A partner's people in a shared channel come with their own
        # team's id here: whose request counts is the middleware's check (listeners/access.py).
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=runtime.client.token,
            bot_user_id=runtime.bot_user_id or None,
        )

    app = App(
        client=runtime.client,
        authorize=authorize,
        signing_secret=settings.slack_signing_secret,
        token_verification_enabled=False,  # start even while Slack is unreachable
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        # The HTTP layer (bot/server.py) checks every request's signature on the raw body before Bolt
        # sees it (and may re-spell it for Bolt); Socket Mode requests are not signed.
        request_verification_enabled=False,
        # Listeners only ack and hand the rest to the runtime's after-ack pool, so these threads are
        # free within milliseconds; as many as the server has, so no ack ever queues for one.
        listener_executor=runtime.listener_pool(settings.server_threads),
    )

    @app.middleware
    def inject_runtime(context: BoltContext, next: Callable[[], Any]) -> Any:
        context["runtime"] = runtime
        return next()

    # Whose request counts (this installation; this workspace's people, or a partner's in its channel).
    access.register(app)

    @app.error
    def log_listener_error(error: Exception, logger: logging.Logger) -> None:
        # Database outages are answered by the listeners (listeners/common.py `guarded`); this is the rest.
        logger.exception("listener failed: %r", error)

    for group in (commands, filing, agents, incident_actions, home, events, partner_messages, satisfaction):
        group.register(app)
    return app
