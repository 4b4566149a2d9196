"""The `/ticket` slash command: parse, route to the rules and the store, reply (ephemeral)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.runtime import Runtime
from handlers import rules, views
from handlers.agents import ACTIONS, run_agent_command
from handlers.common import (
    DATABASE_DOWN,
    guarded,
    identify,
    no_such_ticket,
    parse_ticket_id,
    runtime_of,
    visible_ticket,
)
from handlers.filing import open_form, open_view
from handlers.present import view_of
from handlers.sla import Queue
from storage import tickets as ticket_store
from storage.db import session_scope

log = logging.getLogger(__name__)
FORM_FAILED = "Slack could not open the form just now. Please run the command again."
UNKNOWN = "I don't know `/ticket {word}`. Try `/ticket help` for what I can do."


def register(app: App) -> None:
    app.command("/ticket")(ticket_command)


@guarded
def ticket_command(
    ack: Ack, respond: Respond, command: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    runtime = runtime_of(context)
    words = rules.clean(command.get("text")).split()
    sub = words[0].lower() if words else "new"
    args = words[1:]
    user_id = command["user_id"]
    if sub == "help":
        ack(response_type="ephemeral", text=views.HELP_TEXT)
    elif sub == "new":
        _new(ack, respond, runtime, client, command, args)
    elif sub in ACTIONS:
        ack(response_type="ephemeral", text=run_agent_command(runtime, client, user_id, sub, args))
        ticket_id = parse_ticket_id(args[0]) if args else None
        if ticket_id is not None:
            runtime.deliverer.deliver_for_ticket(ticket_id)
    elif sub == "status":
        text, blocks = _status(runtime, client, user_id, args)
        ack(response_type="ephemeral", text=text, blocks=blocks)
    elif sub == "list":
        text, blocks = _company_list(runtime, client, user_id)
        ack(response_type="ephemeral", text=text, blocks=blocks)
    elif sub == "queue":
        text, blocks = _queue(runtime, client, user_id, args)
        ack(response_type="ephemeral", text=text, blocks=blocks)
    else:
        ack(response_type="ephemeral", text=UNKNOWN.format(word=rules.escape(sub[:40])))


def _new(
    ack: Ack, respond: Respond, runtime: Runtime, client: WebClient, command: dict[str, Any], args: list[str]
) -> None:
    """Ack at once (the form must open within Slack's 3 s); a refusal follows as an ephemeral reply."""
    choice = args[0].lower() if args else None
    if choice not in (None, "tech", "care"):
        ack(
            response_type="ephemeral",
            text="Use `/ticket new tech` for Technical Support, `/ticket new care` for Customer Care, "
            "or `/ticket new` to choose.",
        )
        return
    ack()
    queue = Queue(choice) if choice else None
    try:
        refusal = _precheck_and_open(runtime, client, command, queue)
    except (OperationalError, DBAPIError):
        respond(text=DATABASE_DOWN, response_type="ephemeral")
        return
    except SlackApiError as error:  # the trigger expired, Slack is slow: say so rather than nothing
        log.warning("views.open failed: %s", error.response.get("error") if error.response else error)
        respond(text=FORM_FAILED, response_type="ephemeral")
        return
    if refusal:
        respond(text=refusal, response_type="ephemeral")


def _precheck_and_open(
    runtime: Runtime, client: WebClient, command: dict[str, Any], queue: Queue | None
) -> str | None:
    """Open the form (or the chooser); a refusal to show instead, if the filer can't file."""
    user_id = command["user_id"]
    if (user_id, queue) in runtime.recently_allowed:
        # Seen allowed a moment ago: open at once (the submit checks again on fresh data).
        open_view(runtime, client, queue, command.get("trigger_id", ""), command.get("channel_id"))
        return None
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, client, user_id)
        refusal = open_form(
            runtime, client, who, session, queue, command.get("trigger_id", ""), command.get("channel_id")
        )
    if not refusal:
        runtime.recently_allowed[(user_id, queue)] = True
    return refusal


def _status(
    runtime: Runtime, client: WebClient, user_id: str, args: list[str]
) -> tuple[str, list[Any] | None]:
    ticket_id = parse_ticket_id(args[0]) if args else None
    if ticket_id is None:
        return "Please give a ticket id, like `/ticket status T-42`.", None
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, client, user_id)
        ticket = visible_ticket(session, who, ticket_id)
        if ticket is None:
            return no_such_ticket(who, ticket_id), None
        text, blocks = views.ticket_status_blocks(view_of(session, ticket, runtime.desks), runtime.clock())
    return text, blocks


def _company_list(runtime: Runtime, client: WebClient, user_id: str) -> tuple[str, list[Any] | None]:
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, client, user_id)
        if who.partner is None:
            hint = " Agents: `/ticket queue`." if who.is_agent else ""
            return "You are not registered as a member of a partner company." + hint, None
        tickets = ticket_store.company_tickets(session, who.partner.id or 0, limit=views.MAX_LIST_ROWS + 1)
        shown = [view_of(session, t, runtime.desks) for t in tickets]
    title = f"Open tickets of {who.partner.name}"
    blocks = views.ticket_list_blocks(title, shown, len(shown), runtime.clock(), "No open tickets.")
    return title, blocks


def _queue(
    runtime: Runtime, client: WebClient, user_id: str, args: list[str]
) -> tuple[str, list[Any] | None]:
    queue = desk = None
    for word in (a.lower() for a in args):
        if word in ("tech", "care"):
            queue = word
        elif word in runtime.desks.calendars:
            desk = word
        else:
            desks = "|".join(sorted(runtime.desks.calendars))
            return (
                f"Usage: `/ticket queue [tech|care] [{desks}]` (I don't know {rules.escape(word[:40])!r}).",
                None,
            )
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, client, user_id)
        if not who.is_agent:
            return "Only support agents can see the queue. `/ticket list` shows your company's tickets.", None
        tickets, total = ticket_store.open_tickets(session, queue, desk, limit=views.MAX_LIST_ROWS)
        now = runtime.clock()
        breached = ticket_store.unanswered_breached(session, now, queue, desk)
        shown = [view_of(session, t, runtime.desks) for t in tickets]
    title = "Queue" + (f" · {queue}" if queue else "") + (f" · {desk}" if desk else "")
    title += f" ({views.queue_summary(total, breached)})"
    return title, views.ticket_list_blocks(title, shown, total, now, "The queue is empty.")
