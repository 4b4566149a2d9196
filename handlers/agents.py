"""Agents at work: claim, release, reassign, resolve, reopen; the card buttons; first responses.

Each change is one conditional UPDATE (the database decides races), an audit record, a card
update and, where the filer should know, a line in the filer's thread: all in one transaction.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlmodel import Session

from handlers import rules, views
from handlers.common import (
    Who,
    failure_message,
    guarded,
    identify,
    is_agent,
    no_such_ticket,
    parse_ticket_id,
    runtime_of,
    visible_ticket,
)
from handlers.filing import replan_for_new_window, restore_pings
from handlers.runtime import Runtime
from handlers.sla import Queue, first_response_window
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.models import PingKind, Ticket, TicketStatus
from storage.tickets import ChangeResult

AGENTS_ONLY = "Only support agents can {verb} tickets."
USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def register(app: App) -> None:
    app.action(views.CLAIM_ACTION)(card_button)
    app.action(views.RESOLVE_ACTION)(card_button)


@guarded
def card_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    ack()
    runtime = runtime_of(context)
    runtime.after_ack(press_card_button, runtime, client, body["user"]["id"], body, action)


def press_card_button(
    runtime: Runtime, client: WebClient, user_id: str, body: dict[str, Any], action: dict[str, Any]
) -> None:
    ticket_id = parse_ticket_id(action.get("value"))
    verb = "claim" if action.get("action_id") == views.CLAIM_ACTION else "resolve"
    try:
        reply = run_agent_command(
            runtime, client, user_id, verb, [action.get("value") or ""], ticket_id=ticket_id
        )
    except Exception as error:
        reply = failure_message(error)
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if channel:
        client.chat_postEphemeral(channel=channel, user=user_id, text=reply)
    if ticket_id is not None:
        runtime.deliverer.deliver_for_ticket(ticket_id)


def run_agent_command(
    runtime: Runtime,
    client: WebClient,
    user_id: str,
    verb: str,
    args: list[str],
    ticket_id: int | None = None,
) -> str:
    """claim | release | reassign | resolve | reopen: the reply for the person who asked."""
    if ticket_id is None:
        ticket_id = parse_ticket_id(args[0]) if args else None
    if ticket_id is None:
        example = "`/ticket reassign T-42 @agent`" if verb == "reassign" else f"`/ticket {verb} T-42`"
        shown = rules.escape(args[0]) if args else "nothing"
        return f"Please give a ticket id, like {example} (got {shown})."
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, client, user_id)
        ticket = visible_ticket(session, who, ticket_id)
        if ticket is None:
            return no_such_ticket(who, ticket_id)
        action = ACTIONS[verb]
        return action(session, runtime, who, ticket, args[1:])


def _claim(session: Session, runtime: Runtime, who: Who, ticket: Ticket, _args: list[str]) -> str:
    if not who.is_agent:
        return AGENTS_ONLY.format(verb="claim")
    now = runtime.clock()
    result = ticket_store.claim_ticket(session, ticket.id or 0, who.user_id, now)
    if result is not ChangeResult.DONE:
        fresh = ticket_store.get_ticket(session, ticket.id or 0)
        if fresh and fresh.status == TicketStatus.CLAIMED:
            mine = fresh.claimant_user_id == who.user_id
            return f"{ticket.ref} is already claimed by " + (
                "you." if mine else f"<@{fresh.claimant_user_id}>."
            )
        return f"{ticket.ref} is resolved; reopen it first with `/ticket reopen {ticket.ref}`."
    first = _first_response(session, runtime, ticket, who.user_id)
    _changed(
        session,
        runtime,
        ticket,
        who.user_id,
        "claimed",
        notice=f":raising_hand: <@{who.user_id}> picked up {ticket.ref} and is looking into it.",
    )
    verdict = (
        ""
        if not first
        else (
            " First response within the SLA." if first == "met" else " First response after the SLA deadline."
        )
    )
    return f"You claimed {ticket.ref}.{verdict} The filer has been told."


def _release(session: Session, runtime: Runtime, who: Who, ticket: Ticket, _args: list[str]) -> str:
    if not who.is_agent:
        return AGENTS_ONLY.format(verb="release")
    result = ticket_store.release_ticket(session, ticket.id or 0, who.user_id)
    if result is not ChangeResult.DONE:
        return _not_yours(ticket, "release")
    _changed(session, runtime, ticket, who.user_id, "released")
    return f"{ticket.ref} is back in the queue."


def _reassign(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    if not who.is_agent:
        return AGENTS_ONLY.format(verb="reassign")
    match = USER_MENTION.match(args[0]) if args else None
    if match is None:
        return f"Please name the agent, like `/ticket reassign {ticket.ref} @agent`."
    target = match.group(1)
    if not is_agent(session, runtime, target):
        return f"<@{target}> is not a support agent."
    result = ticket_store.reassign_ticket(session, ticket.id or 0, target)
    if result is not ChangeResult.DONE:
        return f"{ticket.ref} is resolved; reopen it first with `/ticket reopen {ticket.ref}`."
    first = _first_response(session, runtime, ticket, who.user_id)
    _changed(
        session,
        runtime,
        ticket,
        who.user_id,
        "reassigned",
        to=target,
        notice=f":busts_in_silhouette: {ticket.ref} is now handled by <@{target}>."
        if first is None
        else f":raising_hand: <@{target}> picked up {ticket.ref} and is looking into it.",
    )
    return f"{ticket.ref} is now with <@{target}>."


def _resolve(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    if not who.is_agent:
        return AGENTS_ONLY.format(verb="resolve")
    note = rules.clean(" ".join(args))[: rules.NOTE_MAX] or None
    now = runtime.clock()
    result = ticket_store.resolve_ticket(session, ticket.id or 0, who.user_id, note, now)
    if result is not ChangeResult.DONE:
        if ticket.status == TicketStatus.RESOLVED:
            return f"{ticket.ref} is already resolved."
        return _not_yours(ticket, "resolve")
    ping_store.drop_deadline_pings(session, ticket.id or 0)
    said = f": {rules.safe(note, rules.NOTE_MAX)}" if note else "."
    _changed(
        session,
        runtime,
        ticket,
        who.user_id,
        "resolved",
        note=note,
        notice=f":white_check_mark: <@{who.user_id}> resolved {ticket.ref}{said} "
        f"If it is not solved, `/ticket reopen {ticket.ref}`.",
    )
    return f"{ticket.ref} is resolved; the filer has been told."


def _reopen(session: Session, runtime: Runtime, who: Who, ticket: Ticket, _args: list[str]) -> str:
    if not who.is_agent and ticket.filer_user_id != who.user_id:
        return "Only the person who filed a ticket, or an agent, can reopen it."
    result = ticket_store.reopen_ticket(session, ticket.id or 0, runtime.clock())
    if result is not ChangeResult.DONE:
        return f"{ticket.ref} is not resolved, so there is nothing to reopen."
    fresh = ticket_store.get_ticket(session, ticket.id or 0)
    if fresh is not None:
        restore_pings(session, runtime, fresh)
    _changed(
        session,
        runtime,
        ticket,
        who.user_id,
        "reopened",
        notice=f":arrows_counterclockwise: <@{who.user_id}> reopened {ticket.ref}; it is back in the queue.",
    )
    return f"{ticket.ref} is open again."


def _reclass(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    """Change a Technical Support ticket's class; its deadline and pings follow from the filing time."""
    if not who.is_agent:
        return AGENTS_ONLY.format(verb="change the class of")
    klass = args[0].lower() if args else ""
    reason = args[1].lower() if len(args) > 1 else None
    reasons = ", ".join(f"`{key}`" for key in rules.CRITICAL_REASONS)
    if ticket.queue != Queue.TECH:
        return "Only Technical Support tickets have a class."
    if klass not in ("standard", "critical") or (
        klass == "critical" and reason not in rules.CRITICAL_REASONS
    ):
        return (
            f"Usage: `/ticket class {ticket.ref} standard` or "
            f"`/ticket class {ticket.ref} critical REASON` ({reasons})."
        )
    if ticket.klass == klass:
        return f"{ticket.ref} is already {klass}."
    calendar = runtime.desks.calendar(ticket.desk)
    window = first_response_window(calendar, ticket.queue, klass, ticket.filed_at, runtime.desks.policy)
    result = ticket_store.change_class(
        session,
        ticket.id or 0,
        klass,
        reason if klass == "critical" else None,
        window.due_at,
        window.business_time,
    )
    if result is not ChangeResult.DONE:
        return f"{ticket.ref} is resolved; reopen it first with `/ticket reopen {ticket.ref}`."
    now = runtime.clock()
    fresh = ticket_store.get_ticket(session, ticket.id or 0)
    if fresh is not None:
        replan_for_new_window(session, runtime, fresh, now)
    label = runtime.desks.labels.get(ticket.desk, ticket.desk)
    due = views.due_in_words(window.due_at, now, calendar.timezone, label)
    _changed(
        session,
        runtime,
        ticket,
        who.user_id,
        "class_changed",
        klass=klass,
        notice=f":label: <@{who.user_id}> made {ticket.ref} *{klass}*: first answer {due}.",
    )
    return f"{ticket.ref} is now {klass}; first response due {due}."


def _not_yours(ticket: Ticket, verb: str) -> str:
    if ticket.status == TicketStatus.CLAIMED:
        return f"{ticket.ref} is held by <@{ticket.claimant_user_id}>: only they can {verb} it."
    if ticket.status == TicketStatus.RESOLVED:
        return f"{ticket.ref} is resolved."
    return f"{ticket.ref} is not claimed: claim it first with `/ticket claim {ticket.ref}`."


ACTIONS = {
    "claim": _claim,
    "release": _release,
    "reassign": _reassign,
    "resolve": _resolve,
    "reopen": _reopen,
    "class": _reclass,
}


def _first_response(session: Session, runtime: Runtime, ticket: Ticket, by: str) -> str | None:
    """Stop the SLA clock once: 'met' or 'breached' when this call stopped it, else None."""
    now = runtime.clock()
    if not ticket_store.record_first_response(session, ticket, by, now):
        return None
    ping_store.drop_deadline_pings(session, ticket.id or 0)
    met = now <= ticket.due_at
    ticket_store.audit(session, ticket.id, by, "first_response", now, sla="met" if met else "breached")
    return "met" if met else "breached"


def _changed(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    actor: str,
    event: str,
    notice: str | None = None,
    **detail: Any,
) -> None:
    now = runtime.clock()
    ticket_store.audit(session, ticket.id, actor, event, now, **detail)
    ping_store.owe(session, ticket.id or 0, PingKind.CARD_UPDATE, now)
    if notice:
        ping_store.owe(session, ticket.id or 0, PingKind.NOTICE, now, text=notice)


def record_thread_reply(
    runtime: Runtime, session: Session, channel: str, thread_ts: str, user_id: str
) -> int | None:
    """An agent's reply in a ticket's thread is a first response too: the ticket's id when it was."""
    if not is_agent(session, runtime, user_id):
        return None
    ticket = ticket_store.ticket_by_thread(session, channel, thread_ts)
    if ticket is None or ticket.id is None or ticket.first_response_at is not None:
        return None
    if _first_response(session, runtime, ticket, user_id) is None:
        return None
    ping_store.owe(session, ticket.id, PingKind.CARD_UPDATE, runtime.clock())
    return ticket.id
