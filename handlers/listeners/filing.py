"""Filing tickets: the forms, the rules on submit, and what a filed ticket sets in motion."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from handlers.listeners.common import (
    BUSY,
    FORM_LOCK_WAIT_MS,
    STILL_CHECKING,
    Who,
    failure_message,
    filer_facts,
    first_input,
    guarded,
    identify,
    learn_who,
    look_up,
    runtime_of,
    still_unknown,
)
from handlers.operations import tickets as ops
from handlers.rules import eligibility as rules
from handlers.rules.channels import message_prefill
from handlers.rules.sla import Queue
from handlers.runtime import Runtime
from handlers.ui import forms
from storage import channels as channel_store
from storage import tickets as ticket_store
from storage.db import collect_owed, is_lock_timeout, session_scope, within
from storage.vocabulary import CLASS_WORDS, QUEUE_WORDS, TicketClass

log = logging.getLogger(__name__)
# A form is answered on the form: its store work must end well inside Slack's 3 seconds.
FORM_BUDGET_SECONDS = 2.3


def register(app: App) -> None:
    app.view(forms.CHOOSER_CALLBACK)(choose_queue)
    app.view(forms.TECH_CALLBACK)(submit_form)
    app.view(forms.CARE_CALLBACK)(submit_form)


def form_for(
    runtime: Runtime, queue: Queue, metadata: str, prefill: forms.Prefill = forms.Prefill()
) -> dict[str, Any]:
    settings = runtime.config
    if queue is Queue.TECH:
        return forms.tech_form(metadata, settings.docs_url, prefill=prefill)
    return forms.care_form(metadata, settings.docs_url, settings.care_faq_url, prefill=prefill)


def prefill_of(session: Session, origin: forms.FormOrigin) -> forms.Prefill:
    """A form opened on a message of a partner channel starts from that message's text."""
    if not (origin.channel and origin.message_ts):
        return forms.Prefill()
    offer = channel_store.get_offer(session, origin.channel, origin.message_ts)
    if offer is None:
        return forms.Prefill()
    subject, description = message_prefill(offer.text, rules.SUBJECT_MAX, rules.DESCRIPTION_MAX)
    return forms.Prefill(subject, description)


def already_filed(session: Session, origin: forms.FormOrigin, submission_key: str | None) -> str | None:
    """The ticket a message of a partner channel already is (one message, one ticket): its ref."""
    if not (origin.channel and origin.thread_ts):
        return None
    found = session.exec(ticket_store.filer_thread_query(origin.channel, origin.thread_ts)).first()
    return found.ref if found is not None and found.submission_key != submission_key else None


def refusal_for(
    session: Session, runtime: Runtime, who: Who, queue: Queue, calls_failing: bool = False
) -> rules.Decision:
    if still_unknown(runtime, who):  # the form came back before Slack said who is filing
        runtime.after_ack(learn_who, runtime, who.user_id)
        return rules.Decision(False, message=STILL_CHECKING)
    settings = runtime.config
    decision = rules.may_file(
        filer_facts(session, runtime, who),
        queue,
        settings.certification_ladder,
        settings.certification_minimum,
        support_phone=settings.support_phone if calls_failing else None,
    )
    if not decision.allowed:
        ticket_store.audit(
            session,
            None,
            who.user_id,
            "filing_refused",
            runtime.clock(),
            queue=queue.value,
            reason=decision.refusal,
        )
    return decision


@guarded
def choose_queue(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    """The chooser's Next: the chosen team's form, or why this person can't file there."""
    runtime = runtime_of(context)
    picked = _selected(view, "queue")
    if picked not in QUEUE_WORDS:
        ack(response_action="errors", errors={"queue": "Please choose a team."})
        return
    queue = Queue(picked)
    # Before the ack: no Slack call, and no lock waited on for longer than the form's budget.
    metadata = view.get("private_metadata") or ""
    with session_scope(within(runtime.engine, FORM_LOCK_WAIT_MS)) as session:
        who = identify(session, runtime, context.user_id or "")
        decision = refusal_for(session, runtime, who, queue)
        prefill = prefill_of(session, forms.read_form_origin(metadata))
    if not decision.allowed:
        ack(response_action="errors", errors={"queue": decision.message})
        return
    ack(response_action="update", view=form_for(runtime, queue, metadata, prefill))


@dataclass(frozen=True)
class FormAnswers:
    queue: Queue
    subject: str
    description: str
    product: str | None
    klass: str | None
    critical_reason: str | None
    topic: str | None
    calls_failing: bool


def read_answers(view: dict[str, Any]) -> FormAnswers:
    queue = Queue.TECH if view.get("callback_id") == forms.TECH_CALLBACK else Queue.CARE
    return FormAnswers(
        queue=queue,
        subject=rules.clean(_text(view, "subject")),
        description=rules.clean(_text(view, "description")),
        product=rules.clean(_text(view, "product")) or None if queue is Queue.TECH else None,
        klass=_selected(view, "class") if queue is Queue.TECH else None,
        critical_reason=_selected(view, "critical_reason") if queue is Queue.TECH else None,
        topic=_selected(view, "topic") if queue is Queue.CARE else None,
        calls_failing=_selected(view, "calls_failing") == "yes",
    )


def check_answers(answers: FormAnswers) -> rules.FormErrors:
    errors = rules.FormErrors()
    rules.check_text_fields(answers.subject, answers.description, answers.product, errors)
    if answers.queue is Queue.TECH:
        if answers.klass not in CLASS_WORDS:
            errors.add("class", "Please choose Standard or Critical.")
        if answers.klass == TicketClass.CRITICAL and answers.critical_reason not in rules.CRITICAL_REASONS:
            errors.add(
                "critical_reason",
                "A Critical ticket needs the critical case that applies; if none does, file it as Standard.",
            )
        if not answers.product:
            errors.add("product", "Please name the PBX (serial) or product concerned.")
    else:
        if answers.topic not in rules.CARE_TOPICS:
            errors.add("topic", "Please choose a topic.")
        if answers.description and not rules.is_plausibly_english(answers.description):
            errors.add(
                "description",
                "Customer Care accepts requests in English only. Please write the description in English.",
            )
    return errors


@guarded
def submit_form(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    runtime = runtime_of(context)
    user_id = body["user"]["id"]
    answers = read_answers(view)
    errors = check_answers(answers)
    if errors:
        if "description" in errors.by_block and answers.queue is Queue.CARE and answers.description:
            with session_scope(runtime.engine) as session:
                refused = {"queue": Queue.CARE.value, "reason": rules.FilingRefusal.NOT_ENGLISH}
                ticket_store.audit(session, None, user_id, "filing_refused", runtime.clock(), **refused)
        ack(response_action="errors", errors=errors.by_block)
        return
    routing = rules.route(answers.queue, answers.klass, answers.topic, answers.calls_failing)
    origin = forms.read_form_origin(view.get("private_metadata"))
    started = time.monotonic()
    try:
        # Before the ack: no Slack call, and the whole store work bounded, so Slack's 3 seconds hold.
        with collect_owed() as owed, session_scope(within(runtime.engine, FORM_LOCK_WAIT_MS)) as session:
            who = identify(session, runtime, user_id)
            decision = refusal_for(session, runtime, who, routing.queue, calls_failing=routing.redirected)
            filed_as = already_filed(session, origin, view.get("id"))
            if decision.allowed and filed_as is None:
                assert who.partner is not None
                ticket, _ = ops.file_ticket(
                    session,
                    runtime.policy,
                    who.user_id,
                    who.partner,
                    new_ticket(answers, routing),
                    runtime.clock(),
                    submission_key=view.get("id"),
                    origin=origin,
                )
            if time.monotonic() - started > FORM_BUDGET_SECONDS:
                raise StoreTooSlow  # rolled back: nothing filed, and the resubmission files once
    except (StoreTooSlow, OperationalError) as error:
        if isinstance(error, OperationalError) and not is_lock_timeout(error):
            raise  # the store is down, not busy: `guarded` says so
        described = str(getattr(error, "statement", None) or error).strip()
        waited_on = described.splitlines()[0][:200] if described else "nothing in particular (a slow store)"
        log.warning(
            "form not stored within %.1f s: answered busy (waiting on: %s)", FORM_BUDGET_SECONDS, waited_on
        )
        ack(response_action="errors", errors={first_input(view): BUSY})
        return
    if not decision.allowed:
        ack(response_action="errors", errors=refusal_on_form(decision, routing, answers.queue))
        return
    if filed_as is not None:
        ack(response_action="errors", errors={first_input(view): f"This message is already {filed_as}."})
        return
    ack()
    runtime.after_ack(runtime.deliver_owed, owed)


def refusal_on_form(decision: rules.Decision, routing: rules.Routing, asked: Queue) -> dict[str, str]:
    """A refusal shown on the field it concerns."""
    if routing.redirected:
        return {
            "calls_failing": "Failing calls make this a Critical Technical Support ticket. "
            + decision.message
        }
    return {"subject" if asked is Queue.TECH else "topic": decision.message}


def new_ticket(answers: FormAnswers, routing: rules.Routing) -> ops.NewTicket:
    return ops.NewTicket(
        queue=routing.queue,
        klass=routing.klass,
        subject=answers.subject,
        description=answers.description,
        product=answers.product,
        critical_reason=answers.critical_reason,
        topic=answers.topic,
        redirected=routing.redirected,
    )


class StoreTooSlow(Exception):
    """The store took longer than a form submission may wait."""


def _state(view: dict[str, Any], block: str) -> dict[str, Any]:
    values = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    value: Any = values.get(block) or next(iter(values.values()), {})
    return value if isinstance(value, dict) else {}


def _text(view: dict[str, Any], block: str) -> str:
    value = _state(view, block).get("value")
    return value if isinstance(value, str) else ""


def _selected(view: dict[str, Any], block: str) -> str | None:
    option = _state(view, block).get("selected_option") or {}
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


FORM_FAILED = "Slack could not open the form just now. Please run the command again."


def open_form_then_check(
    runtime: Runtime,
    client: WebClient,
    respond: Respond,
    command: dict[str, Any],
    choice: str | None,
    origin: forms.FormOrigin | None = None,
    prefill: forms.Prefill = forms.Prefill(),
) -> None:
    """Open the form at once (a trigger lasts 3 seconds), then check who is filing: a refusal
    replaces the form, so the filer reads it where they are looking. `origin`: a partner's message
    the ticket is made from (its thread becomes the partner's), and `prefill` its text."""
    queue = Queue(choice) if choice else None
    origin = origin or forms.FormOrigin(command.get("channel_id"))
    metadata = forms.form_metadata(origin.channel, origin.thread_ts, origin.message_ts)
    form = form_for(runtime, queue, metadata, prefill) if queue else forms.chooser_modal(metadata)
    try:
        opened = client.views_open(trigger_id=command.get("trigger_id", ""), view=form)
    except SlackApiError as error:  # the trigger expired, Slack is slow: say so rather than nothing
        log.warning("views.open failed: %s", error.response.get("error") if error.response else error)
        respond(text=FORM_FAILED, response_type="ephemeral")
        return
    view_id = ((opened.get("view") or {}) if opened else {}).get("id")
    runtime.after_ack(check_filer, runtime, client, respond, command["user_id"], queue, view_id)


def check_filer(
    runtime: Runtime,
    client: WebClient,
    respond: Respond,
    user_id: str,
    queue: Queue | None,
    view_id: str | None,
) -> None:
    """Who is filing, once the form is open: a refusal replaces the form's content."""
    try:
        look_up(runtime, user_id)
        with session_scope(runtime.engine) as session:
            who = identify(session, runtime, user_id)
            # Without a team yet, Customer Care is the least the filer needs.
            refusal = refusal_for(session, runtime, who, queue or Queue.CARE)
        message = None if refusal.allowed else refusal.message
    except Exception as error:
        message = failure_message(error)
    if message is None:
        return
    try:
        client.views_update(view_id=view_id, view=forms.refusal_modal(message))
    except Exception as error:  # closed already, or Slack away: the channel still gets the reason
        log.warning("could not show the refusal in the form: %r", error)
        respond(text=message, response_type="ephemeral")
