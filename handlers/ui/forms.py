"""The filing forms: the team chooser, the Technical Support and Customer Care forms, what replaces
a form when its filer may not file, and where a form was opened (its private metadata)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handlers.rules.eligibility import CARE_TOPICS, CRITICAL_REASONS, DESCRIPTION_MAX, SUBJECT_MAX
from handlers.ui.blocks import context, input_block, modal, plain, radio, section, select, text_input

TECH_CALLBACK = "ticket_form_tech"
CARE_CALLBACK = "ticket_form_care"
CHOOSER_CALLBACK = "ticket_form_choose"


@dataclass(frozen=True)
class FormOrigin:
    """Where a form was opened: the channel the confirmation goes to and, for a ticket made from a
    message of a partner channel, that message (prefills the form) and its thread (the partner's)."""

    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class Prefill:
    subject: str = ""
    description: str = ""


def form_metadata(channel_id: str | None, thread_ts: str | None = None, message_ts: str | None = None) -> str:
    origin: dict[str, str] = {"channel": channel_id or ""}
    if thread_ts:
        origin["thread"] = thread_ts
    if message_ts:
        origin["message"] = message_ts
    return json.dumps(origin)


def read_form_origin(private_metadata: str | None) -> FormOrigin:
    try:
        origin = json.loads(private_metadata or "{}")
        return FormOrigin(
            origin.get("channel") or None, origin.get("thread") or None, origin.get("message") or None
        )
    except (ValueError, AttributeError):
        return FormOrigin()


def chooser_modal(metadata: str) -> dict[str, Any]:
    return modal(
        CHOOSER_CALLBACK,
        "Open a ticket",
        [
            section("Which team do you need?"),
            input_block(
                "queue",
                "Team",
                radio(
                    "queue",
                    {
                        "tech": "Technical Support: something does not work",
                        "care": "Customer Care: billing, orders, numbers, licenses, account",
                    },
                ),
            ),
        ],
        metadata,
        submit="Next",
    )


def tech_form(
    metadata: str, docs_url: str, critical: bool = False, prefill: Prefill = Prefill()
) -> dict[str, Any]:
    blocks = [
        context(
            f"Before filing, the <{docs_url}|documentation> may already answer it. Support does not "
            "cover pre-sales questions."
        ),
        input_block(
            "subject",
            "Subject",
            text_input(
                "subject",
                max_length=SUBJECT_MAX,
                placeholder="e.g. Calls to mobile numbers drop after 30 s",
                initial=prefill.subject,
            ),
        ),
        input_block(
            "description",
            "Description",
            text_input(
                "description",
                multiline=True,
                max_length=DESCRIPTION_MAX,
                placeholder="What happens, since when, what you tried",
                initial=prefill.description,
            ),
            hint="Steps to reproduce, error messages, call times and numbers help us answer sooner.",
        ),
        input_block(
            "product",
            "Product / PBX",
            text_input("product", max_length=150, placeholder="PBX serial or product name"),
        ),
        input_block(
            "class",
            "Class",
            radio(
                "class",
                {"standard": "Standard", "critical": "Critical"},
                initial="critical" if critical else "standard",
            ),
            hint="Critical only for: call drops not caused by the operator, a cloud system that "
            "can't be reached, or business operations severely impacted with no workaround.",
        ),
        input_block(
            "critical_reason",
            "Critical reason",
            select("critical_reason", CRITICAL_REASONS, "Which critical case applies?"),
            hint="Needed when the class is Critical.",
            optional=True,
        ),
    ]
    return modal(TECH_CALLBACK, "Technical Support", blocks, metadata)


def care_form(metadata: str, docs_url: str, faq_url: str, prefill: Prefill = Prefill()) -> dict[str, Any]:
    blocks = [
        context(
            "Customer Care accepts requests *in English only*. Some operations may be charged extra: "
            f"see the <{faq_url}|Customer Care FAQ>. The <{docs_url}|documentation> may already answer it."
        ),
        input_block("topic", "Topic", select("topic", CARE_TOPICS, "Choose a topic")),
        input_block(
            "subject", "Subject", text_input("subject", max_length=SUBJECT_MAX, initial=prefill.subject)
        ),
        input_block(
            "description",
            "Description",
            text_input(
                "description", multiline=True, max_length=DESCRIPTION_MAX, initial=prefill.description
            ),
            hint="In English, please.",
        ),
        input_block(
            "calls_failing",
            "Are incoming or outgoing calls failing?",
            radio("calls_failing", {"no": "No", "yes": "Yes: calls are failing now"}, initial="no"),
            hint="For CLASSOUND numbers with failing calls we open a Critical Technical Support "
            "ticket instead, so it is handled first.",
        ),
    ]
    return modal(CARE_CALLBACK, "Customer Care", blocks, metadata)


def refusal_modal(message: str) -> dict[str, Any]:
    """What replaces a form when its filer may not file: the reason, and nothing to submit."""
    return {
        "type": "modal",
        "title": plain("Open a ticket"),
        "close": plain("Close"),
        "blocks": [section(message)],
    }
