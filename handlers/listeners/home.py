"""App Home: an agent's claimed tickets and the queue head; a partner's company tickets."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from handlers.listeners.common import identify, look_up, runtime_of
from handlers.operations.present import view_of
from handlers.runtime import Runtime
from handlers.ui import tickets as views
from storage import tickets as ticket_store
from storage.db import reading, session_scope

log = logging.getLogger(__name__)
HOME_ROWS = 10


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)


def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    runtime = runtime_of(context)
    runtime.after_ack(publish_home, runtime, client, event["user"])


def publish_home(runtime: Runtime, client: WebClient, user_id: str) -> None:
    now = runtime.clock()
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
        parts: list[list[dict[str, Any]]] = []
        if who.is_agent:
            mine = [
                view_of(session, t, runtime.desks)
                for t in ticket_store.claimed_by(session, user_id, HOME_ROWS)
            ]
            head, total = ticket_store.open_tickets(session, limit=HOME_ROWS)
            breached = ticket_store.unanswered_breached(session, now)
            parts.append(
                views.ticket_list_blocks("Your tickets", mine, len(mine), now, "You hold no tickets.")
            )
            parts.append(
                views.ticket_list_blocks(
                    f"Queue head ({views.queue_summary(total, breached)})",
                    [view_of(session, t, runtime.desks) for t in head],
                    total,
                    now,
                    "The queue is empty.",
                )
            )
            title = "SLA Desk: agent view"
        elif who.partner is not None:
            tickets = ticket_store.company_tickets(session, who.partner.id or 0, limit=HOME_ROWS)
            shown = [view_of(session, t, runtime.desks) for t in tickets]
            parts.append(
                views.ticket_list_blocks(
                    f"Open tickets of {who.partner.name}",
                    shown,
                    len(shown),
                    now,
                    "No open tickets. `/ticket new` opens one.",
                )
            )
            title = "SLA Desk"
        else:
            parts.append(
                [
                    views.section(
                        "You are not registered with a partner company. Please contact your "
                        "system integrator for support."
                    )
                ]
            )
            title = "SLA Desk"
    parts.append([views.context("`/ticket help` lists every command.")])
    client.views_publish(user_id=user_id, view=views.home_view(title, parts))
