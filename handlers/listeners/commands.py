"""The `/ticket` slash command: ack at once, then work it out and answer on the response URL."""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.listeners import partner_messages
from handlers.listeners.agents import ACTIONS, run_agent_command
from handlers.listeners.channels import run_connect
from handlers.listeners.common import (
    answer_later,
    guarded,
    identify,
    look_up,
    no_such_ticket,
    parse_ticket_id,
    pressed_in,
    runtime_of,
    visible_ticket,
)
from handlers.listeners.filing import open_form_then_check
from handlers.listeners.incidents import list_incidents, run_incident_command
from handlers.operations import reports as reports
from handlers.operations.present import incident_view, view_of
from handlers.rules import eligibility as rules
from handlers.runtime import Runtime
from handlers.ui import channels as channel_views
from handlers.ui import incidents as incident_views
from handlers.ui import tickets as views
from storage import incidents as incident_store
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import reading, session_scope
from storage.vocabulary import QUEUE_WORDS, PingKind

log = logging.getLogger(__name__)
UNKNOWN = "I don't know `/ticket {word}`. Try `/ticket help` for what I can do."
REPORT_USAGE = (
    "Usage: `/ticket report [this-week|last-week|this-month|last-month|FROM..TO] [cet|est] [tech|care]`"
)
NEW_USAGE = (
    "Use `/ticket new tech` for Technical Support, `/ticket new care` for Customer Care, "
    "or `/ticket new` to choose."
)


def register(app: App) -> None:
    app.command("/ticket")(ticket_command)
    for action in (
        channel_views.INTRO_TECH_ACTION,
        channel_views.INTRO_CARE_ACTION,
        channel_views.INTRO_LIST_ACTION,
        channel_views.OFFER_TECH_ACTION,
        channel_views.OFFER_CARE_ACTION,
    ):
        app.action(action)(intro_button)


@guarded
def intro_button(
    ack: Ack,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """A partner channel's buttons. The intro's Technical Support and Customer Care open the same forms
    as `/ticket new`; Our open tickets answers the company's list to whoever pressed it. Under an
    offered message (`partner_messages.py`), they open that form prefilled with the message."""
    ack()
    runtime = runtime_of(context)
    user_id, value = body["user"]["id"], str(action.get("value") or "")
    pressed = {"channel_id": pressed_in(body), "trigger_id": body.get("trigger_id", ""), "user_id": user_id}
    offered = partner_messages.OFFERED_QUEUES.get(str(action.get("action_id")))
    if offered is not None:
        runtime.open_form(
            partner_messages.open_offered_form, runtime, client, respond, pressed, value, offered
        )
        return
    if value == "list":
        answer_later(runtime, respond, lambda: _company_list(runtime, user_id, []))
        return
    runtime.open_form(
        open_form_then_check, runtime, client, respond, pressed, value if value in QUEUE_WORDS else None
    )


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
        choice = args[0].lower() if args else None
        if choice is not None and choice not in QUEUE_WORDS:
            ack(response_type="ephemeral", text=NEW_USAGE)
            return
        ack()
        runtime.open_form(open_form_then_check, runtime, client, respond, command, choice)
    elif sub in ACTIONS:
        ack()
        answer_later(runtime, respond, lambda: (run_agent_command(runtime, user_id, sub, args), None))
    elif sub == "report":
        ack()
        trigger = str(command.get("trigger_id") or runtime.clock().isoformat())
        compute = lambda: _report(runtime, user_id, args, trigger)  # noqa: E731
        answer_later(runtime, respond, compute)
    elif sub == "incident":
        ack()
        key = str(command.get("trigger_id") or "")
        compute = lambda: (run_incident_command(runtime, user_id, args, key), None)  # noqa: E731
        answer_later(runtime, respond, compute)
    elif sub == "connect":
        ack()
        channel = command.get("channel_id")
        answer_later(runtime, respond, lambda: (run_connect(runtime, user_id, channel, args), None))
    elif sub in ANSWERS:
        ack()
        answer_later(runtime, respond, lambda: ANSWERS[sub](runtime, user_id, args))
    else:
        ack(response_type="ephemeral", text=UNKNOWN.format(word=rules.escape(sub[:40])))


def _status(runtime: Runtime, user_id: str, args: list[str]) -> tuple[str, list[Any] | None]:
    ticket_id = parse_ticket_id(args[0]) if args else None
    if ticket_id is None:
        return "Please give a ticket id, like `/ticket status T-42`.", None
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
        ticket = visible_ticket(session, who, ticket_id)
        if ticket is None:
            return no_such_ticket(who, ticket_id), None
        text, blocks = views.ticket_status_blocks(view_of(session, ticket, runtime.desks), runtime.clock())
    return text, blocks


def _company_list(runtime: Runtime, user_id: str, _args: list[str]) -> tuple[str, list[Any] | None]:
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
        if who.partner is None:
            hint = " Agents: `/ticket queue`." if who.is_agent else ""
            return "You are not registered as a member of a partner company." + hint, None
        tickets = ticket_store.company_tickets(session, who.partner.id or 0, limit=views.MAX_LIST_ROWS + 1)
        shown = [view_of(session, t, runtime.desks) for t in tickets]
    title = f"Open tickets of {who.partner.name}"
    blocks = views.ticket_list_blocks(title, shown, len(shown), runtime.clock(), "No open tickets.")
    return rules.escape(title), blocks


def _queue(runtime: Runtime, user_id: str, args: list[str]) -> tuple[str, list[Any] | None]:
    queue = desk = None
    for word in (a.lower() for a in args):
        if word in QUEUE_WORDS:
            queue = word
        elif word in runtime.desks.calendars:
            desk = word
        else:
            desks = "|".join(sorted(runtime.desks.calendars))
            return (
                f"Usage: `/ticket queue [tech|care] [{desks}]` (I don't know {rules.escape(word[:40])!r}).",
                None,
            )
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
        if not who.is_agent:
            return "Only support agents can see the queue. `/ticket list` shows your company's tickets.", None
        tickets, total = ticket_store.open_tickets(session, queue, desk, limit=views.MAX_LIST_ROWS)
        now = runtime.clock()
        breached = ticket_store.unanswered_breached(session, now, queue, desk)
        shown = [view_of(session, t, runtime.desks) for t in tickets]
        incidents = [
            incident_view(session, i, runtime.desks)
            for i in incident_store.open_incidents(session, desk)
            if queue in (None, i.queue)
        ]
    title = "Queue" + (f" · {queue}" if queue else "") + (f" · {desk}" if desk else "")
    title += f" ({views.queue_summary(total, breached)})"
    blocks = views.ticket_list_blocks(title, shown, total, now, "The queue is empty.")
    # Each open incident is one line at the head of the queue; its tickets are marked with it.
    rows = [views.section(incident_views.incident_row(i, now)) for i in incidents[:5]]
    return title, blocks[:1] + rows + blocks[1:]


def _report(runtime: Runtime, user_id: str, args: list[str], trigger: str) -> tuple[str, list[Any] | None]:
    """The figures as a message now; the chart and the CSV follow as files in the agent's DM."""
    words = [a.lower() for a in args]
    desk = next((w for w in words if w in runtime.desks.calendars), None)
    queue = next((w for w in words if w in QUEUE_WORDS), None)
    period = next((w for w in words if w not in runtime.desks.calendars and w not in QUEUE_WORDS), None)
    calendar = runtime.desks.calendar(desk or runtime.config.default_desk)
    now = runtime.clock()
    try:
        first, last = reports.parse_period(
            period, pendulum.instance(now).in_timezone(calendar.timezone).date()
        )
    except reports.BadPeriod as error:
        return f"{REPORT_USAGE}: {rules.escape(str(error))}", None
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
        if not who.is_agent:
            return "Only support agents can see SLA reports.", None
        report = reports.report_of(session, runtime.desks, first, last, desk, queue, now)
    rows, blocks = report.rows, reports.as_blocks(report)
    if not rows:
        return f"No tickets were filed from {first} to {last}.", blocks
    payload = {
        "to": user_id,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "desk": desk,
        "queue": queue,
    }
    with session_scope(runtime.engine) as session:
        ping_store.owe_once(session, PingKind.REPORT, f"report:{trigger}", now, None, payload=payload)
    return f"SLA report {first} to {last}: the chart and the CSV follow in a direct message.", blocks


ANSWERS = {"status": _status, "list": _company_list, "queue": _queue, "incidents": list_incidents}
