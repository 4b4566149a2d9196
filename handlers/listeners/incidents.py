"""Mass incidents, the listener side: the incident message's buttons and forms, and the words of
`/ticket incident I-3 claim|update TEXT|resolve NOTE|unlink T-9` and `/ticket incidents`.

Parse, find the incident, call the desk operation (`handlers.operations.incidents`), word its result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlmodel import Session

from handlers.listeners.common import (
    FORM_LOCK_WAIT_MS,
    Who,
    button_listener,
    failure_message,
    guarded,
    identify,
    look_up,
    parse_ticket_id,
    runtime_of,
)
from handlers.operations import incidents as incident_ops
from handlers.operations import tickets as ticket_ops
from handlers.operations.present import incident_view
from handlers.runtime import Runtime
from handlers.ui import incidents as incident_views
from storage import incidents as incident_store
from storage import tickets as ticket_store
from storage.db import reading, session_scope, within
from storage.models import Incident
from storage.vocabulary import IncidentStatus

log = logging.getLogger(__name__)
USAGE = (
    "Usage: `/ticket incident I-3 claim`, `/ticket incident I-3 update TEXT`, "
    "`/ticket incident I-3 resolve NOTE` or `/ticket incident I-3 unlink T-9`; "
    "`/ticket incidents` lists the open ones."
)


def register(app: App) -> None:
    app.action(incident_views.CLAIM_ACTION)(incident_button)
    app.action(incident_views.UPDATE_ACTION)(incident_button)
    app.action(incident_views.RESOLVE_ACTION)(incident_button)
    app.view(incident_views.UPDATE_CALLBACK)(submit_incident_form)
    app.view(incident_views.RESOLVE_CALLBACK)(submit_incident_form)


def _claim_incident(runtime: Runtime, user_id: str, ref: str, body: dict[str, Any]) -> str:
    return run_incident_command(runtime, user_id, [ref, "claim"], key=body.get("trigger_id", ""))


# The incident message's buttons: Update and Resolve ask for the text first, in a small form.
incident_button = button_listener(
    {
        incident_views.UPDATE_ACTION: incident_views.update_modal,
        incident_views.RESOLVE_ACTION: incident_views.resolve_modal,
    },
    _claim_incident,
)


@guarded
def submit_incident_form(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """The Update and Resolve forms: what can be refused is refused on the form; the work itself (one
    change per linked ticket, hundreds in a storm) runs after the ack, and its outcome is told."""
    runtime = runtime_of(context)
    metadata = json.loads(view.get("private_metadata") or "{}")
    resolving = view.get("callback_id") == incident_views.RESOLVE_CALLBACK
    field = "note" if resolving else "text"
    values = (view.get("state") or {}).get("values") or {}
    text = str(((values.get(field) or {}).get(field) or {}).get("value") or "")
    verb = "resolve" if resolving else "update"
    args = [str(metadata.get("incident") or ""), verb] + ([text] if text.strip() else [])
    user_id = context.user_id or ""
    with session_scope(reading(within(runtime.engine, FORM_LOCK_WAIT_MS))) as session:
        who = identify(session, runtime, user_id, remember=False)
        problem = refusal_before(session, who, args)
    if problem is not None:
        ack(response_action="errors", errors={field: problem})
        return
    ack()
    key, channel = str(view.get("id") or ""), str(metadata.get("channel") or "")
    runtime.after_ack(finish_form, runtime, client, user_id, args, key, channel)


def refusal_before(session: Session, who: Who, args: list[str]) -> str | None:
    """Why a request about an incident can't be done, as far as can be told without doing it."""
    found = _find(session, who, args)
    if isinstance(found, str):
        return found
    verb = args[1].lower()
    if found.status == IncidentStatus.RESOLVED:
        return refusal_text(incident_ops.IncidentRefused(incident_ops.IncidentRefusal.RESOLVED, found))
    if verb == "update" and not " ".join(args[2:]).strip():
        return refusal_text(incident_ops.IncidentRefused(incident_ops.IncidentRefusal.EMPTY, found))
    return None


def _find(session: Session, who: Who, args: list[str]) -> Incident | str:
    """The incident a request names (`I-3 verb …`), or what is wrong with the request."""
    if not who.is_agent:
        return "Only support agents can work on incidents."
    incident_id = incident_ops.parse_incident_id(args[0]) if args else None
    if incident_id is None or len(args) < 2 or args[1].lower() not in VERBS:
        return USAGE
    incident = incident_store.get_incident(session, incident_id)
    if incident is None:
        return f"There is no incident I-{incident_id}. `/ticket incidents` lists the open ones."
    return incident


def finish_form(
    runtime: Runtime, client: WebClient, user_id: str, args: list[str], key: str, channel: str
) -> None:
    try:
        reply = run_incident_command(runtime, user_id, args, key)
    except Exception as error:
        reply = failure_message(error)
    try:  # where the button was pressed, else in a direct message
        if channel:
            client.chat_postEphemeral(channel=channel, user=user_id, text=reply)
        else:
            client.chat_postMessage(channel=user_id, text=reply)
    except Exception as error:  # the work is done and the message shows it; the reply is a courtesy
        log.warning("could not tell %s how their incident request went: %r", user_id, error)


def run_incident_command(runtime: Runtime, user_id: str, args: list[str], key: str) -> str:
    """`/ticket incident I-3 …`: the reply for the person who asked. `key` tells a request Slack sent
    twice from two requests."""
    look_up(runtime, user_id)
    with session_scope(runtime.engine) as session:
        who = identify(session, runtime, user_id)
        reply, _ = _run(session, runtime, who, args, key)
        return reply


@dataclass(frozen=True)
class Asked:
    """One request about one incident: who asked, the words after the verb, and the request's key."""

    session: Session
    runtime: Runtime
    who: Who
    incident: Incident
    args: list[str]
    key: str

    @property
    def text(self) -> str:
        return " ".join(self.args)


def _run(session: Session, runtime: Runtime, who: Who, args: list[str], key: str) -> tuple[str, bool]:
    found = _find(session, who, args)
    if isinstance(found, str):
        return found, False
    verb = args[1].lower()
    result = VERBS[verb](Asked(session, runtime, who, found, args[2:], key))
    if isinstance(result, str):
        return result, False
    if isinstance(result, incident_ops.IncidentRefused):
        return refusal_text(result), False
    return done_text(result, verb, args[2:]), True


Outcome = incident_ops.IncidentResult | str


def _claim(asked: Asked) -> Outcome:
    return incident_ops.claim(
        asked.session, _desk(asked.runtime), asked.incident, _actor(asked.who), _now(asked)
    )


def _update(asked: Asked) -> Outcome:
    return incident_ops.update(
        asked.session, asked.incident, _actor(asked.who), asked.text, asked.key, _now(asked)
    )


def _resolve(asked: Asked) -> Outcome:
    desk = _desk(asked.runtime)
    return incident_ops.resolve(
        asked.session, desk, asked.incident, _actor(asked.who), asked.text, _now(asked)
    )


def _unlink(asked: Asked) -> Outcome:
    ticket_id = parse_ticket_id(asked.args[0]) if asked.args else None
    if ticket_id is None:
        return f"Please name the ticket, like `/ticket incident {asked.incident.ref} unlink T-9`."
    ticket = ticket_store.get_ticket(asked.session, ticket_id)
    if ticket is None:
        return f"There is no ticket T-{ticket_id}."
    desk = _desk(asked.runtime)
    return incident_ops.unlink(asked.session, desk, asked.incident, ticket, _actor(asked.who), _now(asked))


def _now(asked: Asked) -> datetime:
    return asked.runtime.clock()


VERBS: dict[str, Callable[[Asked], Outcome]] = {
    "claim": _claim,
    "update": _update,
    "resolve": _resolve,
    "unlink": _unlink,
}


def done_text(done: incident_ops.IncidentDone, verb: str, args: list[str]) -> str:
    ref, count, breached = done.incident.ref, done.tally.changed, done.tally.breached
    tickets = f"{count} linked ticket{'s' if count != 1 else ''}"
    if verb == "claim":
        late = f" ({breached} of them after their SLA deadline)" if breached else ""
        return f"You claimed {ref}: the first response for {tickets}{late}. Each partner has been told."
    if verb == "update":
        return f"Update sent to the partners of {tickets} of {ref}, each in their own thread."
    if verb == "resolve":
        return f"{ref} is resolved, and with it {tickets}; each partner has been told once."
    return f"T-{parse_ticket_id(args[0])} is no longer part of {ref}; it is handled on its own again."


def refusal_text(refused: incident_ops.IncidentRefused) -> str:
    ref = refused.incident.ref
    texts = {
        incident_ops.IncidentRefusal.AGENTS_ONLY: "Only support agents can work on incidents.",
        incident_ops.IncidentRefusal.CLAIMED: f"{ref} is already claimed by <@{refused.holder}>.",
        incident_ops.IncidentRefusal.RESOLVED: f"{ref} is already resolved.",
        incident_ops.IncidentRefusal.NOT_LINKED: f"That ticket is not part of {ref}.",
        incident_ops.IncidentRefusal.EMPTY: f"Please write the update, like `/ticket incident {ref} update "
        "The cloud is back for most partners`.",
    }
    return texts[refused.reason]


def list_incidents(runtime: Runtime, user_id: str, args: list[str]) -> tuple[str, list[Any] | None]:
    """`/ticket incidents [desk]`: the open incidents, with their first tickets."""
    desk = next((a.lower() for a in args if a.lower() in runtime.desks.calendars), None)
    look_up(runtime, user_id)
    with session_scope(reading(runtime.engine)) as session:
        who = identify(session, runtime, user_id, remember=False)
        if not who.is_agent:
            return "Only support agents can see incidents.", None
        shown = [
            incident_view(session, i, runtime.desks) for i in incident_store.open_incidents(session, desk)
        ]
    count = len(shown)
    return f"{count} open incident{'s' if count != 1 else ''}", incident_views.incidents_blocks(
        shown, runtime.clock()
    )


def _actor(who: Who) -> ticket_ops.Actor:
    return ticket_ops.Actor(who.user_id, who.is_agent)


def _desk(runtime: Runtime) -> ticket_ops.DeskPolicy:
    return runtime.policy
