"""The satisfaction question's buttons and its comment form (SPEC "Satisfaction (CSAT)"): only people
of the ticket's company may answer; the answer is acknowledged to them alone."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.listeners.common import guarded, identify, look_up, open_view, pressed_in, runtime_of
from handlers.operations import satisfaction as csat_ops
from handlers.runtime import Runtime
from handlers.ui import satisfaction as csat_views
from storage.db import collect_owed, session_scope

RATE = re.compile(rf"^{csat_views.CSAT_RATE_ACTION}_[1-5]$")
REFUSED = {
    csat_ops.AnswerRefusal.NOT_THEIR_COMPANY: "Only people of the ticket's company can rate it.",
    csat_ops.AnswerRefusal.TOO_LATE: "This question has closed: thank you all the same.",
    csat_ops.AnswerRefusal.NO_QUESTION: "There is no such question any more.",
    csat_ops.AnswerRefusal.BAD_RATING: "Please choose a rating from 1 to 5.",
}


def register(app: App) -> None:
    app.action(RATE)(csat_button)
    app.action(csat_views.CSAT_COMMENT_ACTION)(csat_button)
    app.view(csat_views.CSAT_COMMENT_CALLBACK)(comment_submitted)


@guarded
def csat_button(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext
) -> None:
    """A rating (answered after the ack, privately), or Add a comment (its form, on the trigger pool)."""
    ack()
    runtime = runtime_of(context)
    action = (body.get("actions") or [{}])[0]
    value = str(action.get("value") or "")
    if action.get("action_id") == csat_views.CSAT_COMMENT_ACTION:
        if value.isdigit():
            form = csat_views.comment_form(int(value), pressed_in(body))
            runtime.open_form(open_view, client, body.get("trigger_id", ""), form)
        return
    answer_id, _, rating = value.partition(":")
    if answer_id.isdigit() and rating.isdigit():
        user_id = body["user"]["id"]
        runtime.after_ack(_answer_and_tell, runtime, respond, user_id, int(answer_id), int(rating), None)


@guarded
def comment_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    runtime = runtime_of(context)
    values = (view.get("state") or {}).get("values") or {}
    comment = ((values.get("comment") or {}).get("comment") or {}).get("value") or ""
    option = ((values.get("rating") or {}).get("rating") or {}).get("selected_option") or {}
    rating = int(option["value"]) if str(option.get("value") or "").isdigit() else None
    try:
        answer_id = int(json.loads(view.get("private_metadata") or "{}").get("answer"))
    except (TypeError, ValueError):
        ack(response_action="errors", errors={"comment": "This form is not one SLA Desk opened."})
        return
    ack()
    runtime.after_ack(_answer_and_tell, runtime, None, body["user"]["id"], answer_id, rating, comment)


def _answer_and_tell(
    runtime: Runtime,
    respond: Respond | None,
    user_id: str,
    answer_id: int,
    rating: int | None,
    comment: str | None,
) -> None:
    look_up(runtime, user_id)
    with collect_owed() as owed, session_scope(runtime.engine) as session:
        who = identify(session, runtime, user_id)
        partner_id = who.partner.id if who.partner is not None and not who.is_agent else None
        result = csat_ops.answer(
            session, runtime.policy, answer_id, partner_id, user_id, rating, comment, runtime.clock()
        )
    text = csat_views.thanks(result.rating) if isinstance(result, csat_ops.Answered) else REFUSED[result]
    if respond is not None:
        respond(text=text, response_type="ephemeral", replace_original=False)
    runtime.deliver_owed(owed)
