"""Agents at work, the listener side: the card's buttons and the agent sub-commands of `/ticket`.

Parse, find the ticket the person may see, call the desk operation, word its result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlmodel import Session

from handlers.listeners.common import (
    FORM_LOCK_WAIT_MS,
    Who,
    button_listener,
    guarded,
    identify,
    is_agent,
    look_up,
    no_such_ticket,
    parse_ticket_id,
    runtime_of,
    visible_ticket,
)
from handlers.operations import conversation as conversation
from handlers.operations import tickets as ops
from handlers.rules import eligibility as rules
from handlers.runtime import Runtime
from handlers.ui import tickets as views
from storage.db import collect_owed, session_scope, within
from storage.models import Ticket

USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
REOPEN_FIRST = "{ref} is resolved; reopen it first with `/ticket reopen {ref}`."


def register(app: App) -> None:
    app.action(views.CLAIM_ACTION)(card_button)
    app.action(views.RESOLVE_ACTION)(card_button)
    app.view(views.RESOLVE_CALLBACK)(submit_resolution)


def _claim_ticket(runtime: Runtime, user_id: str, value: str, _body: dict[str, Any]) -> str:
    return run_agent_command(runtime, user_id, "claim", [value])


# The card's buttons: Resolve asks for the resolution note first, in a small form; Claim claims.
card_button = button_listener({views.RESOLVE_ACTION: views.resolve_modal}, _claim_ticket)


@guarded
def submit_resolution(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    """The Resolve form: resolved at once, or the reason shown on the form."""
    runtime = runtime_of(context)
    metadata = json.loads(view.get("private_metadata") or "{}")
    ticket_id = parse_ticket_id(metadata.get("ticket"))
    note = ((view.get("state") or {}).get("values") or {}).get("note", {}).get("note", {}).get("value")
    with collect_owed() as owed, session_scope(within(runtime.engine, FORM_LOCK_WAIT_MS)) as session:
        who = identify(session, runtime, context.user_id or "")
        ticket = visible_ticket(session, who, ticket_id or 0)
        if ticket is None:
            ack(response_action="errors", errors={"note": no_such_ticket(who, ticket_id or 0)})
            return
        result = ops.resolve(session, ticket, _actor(who), note, runtime.clock(), runtime.policy)
    if isinstance(result, ops.Refused):
        ack(response_action="errors", errors={"note": refusal_text(result, "resolve")})
        return
    ack()
    runtime.after_ack(runtime.deliver_owed, owed)


def run_agent_command(runtime: Runtime, user_id: str, verb: str, args: list[str]) -> str:
    """claim | release | reassign | resolve | reopen | class: the reply for the person who asked."""
    ticket_id = parse_ticket_id(args[0]) if args else None
    if ticket_id is None:
        example = "`/ticket reassign T-42 @agent`" if verb == "reassign" else f"`/ticket {verb} T-42`"
        shown = rules.escape(args[0][:40]) if args else "nothing"
        return f"Please give a ticket id, like {example} (got {shown})."
    look_up(runtime, user_id, name=verb == "note")  # Slack first: never inside the transaction
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, user_id)
        ticket = visible_ticket(session, who, ticket_id)
        if ticket is None:
            return no_such_ticket(who, ticket_id)
        return ACTIONS[verb](session, runtime, who, ticket, args[1:])


def _claim(session: Session, runtime: Runtime, who: Who, ticket: Ticket, _args: list[str]) -> str:
    result = ops.claim(session, ticket, _actor(who), runtime.clock(), _desk(runtime))
    if isinstance(result, ops.Refused):
        if result.reason is ops.Refusal.CLAIMED and result.holder == who.user_id:
            return f"{ticket.ref} is already claimed by you."
        return refusal_text(result, "claim")
    verdict = {
        ops.Verdict.MET: " First response within the SLA.",
        ops.Verdict.BREACHED: " First response after the SLA deadline.",
        None: "",
    }[result.first_response]
    return f"You claimed {ticket.ref}.{verdict} The filer has been told."


def _release(session: Session, runtime: Runtime, who: Who, ticket: Ticket, _args: list[str]) -> str:
    result = ops.release(session, ticket, _actor(who), runtime.clock())
    return (
        refusal_text(result, "release")
        if isinstance(result, ops.Refused)
        else f"{ticket.ref} is back in the queue."
    )


def _reassign(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    match = USER_MENTION.match(args[0]) if args else None
    if match is None and who.is_agent:
        return f"Please name the agent, like `/ticket reassign {ticket.ref} @agent`."
    target = match.group(1) if match else ""
    to_agent = bool(target) and is_agent(session, runtime, target)
    result = ops.reassign(session, ticket, _actor(who), target, to_agent, runtime.clock())
    if isinstance(result, ops.Refused):
        return refusal_text(result, "reassign")
    return f"{ticket.ref} is now with <@{target}>."


def _resolve(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    result = ops.resolve(session, ticket, _actor(who), " ".join(args), runtime.clock(), runtime.policy)
    if isinstance(result, ops.Refused):
        return refusal_text(result, "resolve")
    return f"{ticket.ref} is resolved; the filer has been told."


def _reopen(session: Session, runtime: Runtime, who: Who, ticket: Ticket, _args: list[str]) -> str:
    result = ops.reopen(session, _desk(runtime), ticket, _actor(who), runtime.clock())
    return (
        refusal_text(result, "reopen") if isinstance(result, ops.Refused) else f"{ticket.ref} is open again."
    )


def _reclass(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    klass = args[0].lower() if args else ""
    reason = args[1].lower() if len(args) > 1 else None
    now = runtime.clock()
    result = ops.reclassify(session, _desk(runtime), ticket, _actor(who), klass, reason, now)
    if isinstance(result, ops.Refused):
        return refusal_text(result, "change the class of", klass)
    calendar = runtime.desks.calendar(ticket.desk)
    label = runtime.desks.labels.get(ticket.desk, ticket.desk)
    due = views.due_in_words(result.due_at or ticket.due_at, now, calendar.timezone, label)
    return f"{ticket.ref} is now {klass}; first response due {due}."


def _note(session: Session, runtime: Runtime, who: Who, ticket: Ticket, args: list[str]) -> str:
    if not args:
        return f"Please write the note, like `/ticket note {ticket.ref} Checked the trunk logs`."
    name = runtime.names.get(who.user_id) or "An agent"
    result = conversation.post_note(session, ticket, _actor(who), name, " ".join(args), runtime.clock())
    if isinstance(result, ops.Refused):
        return refusal_text(result, "add notes to")
    return f"Internal note added to {ticket.ref}'s card thread; the partner does not see it."


ACTIONS: dict[str, Callable[[Session, Runtime, Who, Ticket, list[str]], str]] = {
    "claim": _claim,
    "release": _release,
    "reassign": _reassign,
    "resolve": _resolve,
    "reopen": _reopen,
    "class": _reclass,
    "note": _note,
}


def refusal_text(refused: ops.Refused, verb: str, klass: str = "") -> str:
    """Why an operation did not happen, and what to do instead."""
    ref = refused.ticket.ref
    reasons = ", ".join(f"`{key}`" for key in rules.CRITICAL_REASONS)
    texts = {
        ops.Refusal.AGENTS_ONLY: f"Only support agents can {verb} tickets.",
        ops.Refusal.CLAIMED: f"{ref} is already claimed by <@{refused.holder}>.",
        ops.Refusal.RESOLVED: REOPEN_FIRST.format(ref=ref)
        if verb != "resolve"
        else f"{ref} is already resolved.",
        ops.Refusal.NOT_CLAIMED: f"{ref} is not claimed: claim it first with `/ticket claim {ref}`.",
        ops.Refusal.HELD_BY_OTHER: f"{ref} is held by <@{refused.holder}>: only they can {verb} it.",
        ops.Refusal.NOT_RESOLVED: f"{ref} is not resolved, so there is nothing to reopen.",
        ops.Refusal.NOT_FILER: "Only the person who filed a ticket, or an agent, can reopen it.",
        ops.Refusal.NOT_AN_AGENT: f"<@{refused.holder}> is not a support agent.",
        ops.Refusal.NOT_TECH: "Only Technical Support tickets have a class.",
        ops.Refusal.SAME_CLASS: f"{ref} is already {klass}.",
        ops.Refusal.BAD_CLASS: f"Usage: `/ticket class {ref} standard` or "
        f"`/ticket class {ref} critical REASON` ({reasons}).",
    }
    return texts[refused.reason]


def _actor(who: Who) -> ops.Actor:
    return ops.Actor(who.user_id, who.is_agent)


def _desk(runtime: Runtime) -> ops.DeskPolicy:
    return runtime.policy
