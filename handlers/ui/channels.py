"""A partner channel's intro message: what the desk does, its hours, and the filing buttons. Pure."""

from __future__ import annotations

from typing import Any

from handlers.rules.eligibility import escape
from handlers.rules.sla import WEEKDAYS, DeskCalendar

INTRO_TECH_ACTION = "intro_tech"
INTRO_CARE_ACTION = "intro_care"
INTRO_LIST_ACTION = "intro_list"
INTRO_BUTTONS = (
    ("Technical Support", INTRO_TECH_ACTION, "tech"),
    ("Customer Care", INTRO_CARE_ACTION, "care"),
    ("Our open tickets", INTRO_LIST_ACTION, "list"),
)


def hours_words(calendar: DeskCalendar, label: str) -> str:
    """'Mon-Fri 09:00-18:00 CET': each run of weekdays with the same intervals."""
    runs: list[tuple[str, str, str]] = []
    for index, day in enumerate(WEEKDAYS):
        intervals = calendar.weekly[index]
        if not intervals:
            continue
        text = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in intervals)
        if runs and runs[-1][2] == text and WEEKDAYS.index(runs[-1][1]) == index - 1:
            runs[-1] = (runs[-1][0], day, text)
        else:
            runs.append((day, day, text))
    days = [
        f"{first.title()}{'-' + last.title() if last != first else ''} {text}" for first, last, text in runs
    ]
    return "; ".join(days) + f" {label}"


def _button(title: str, action_id: str, value: str) -> dict[str, Any]:
    text = {"type": "plain_text", "text": title}
    return {"type": "button", "text": text, "action_id": action_id, "value": value}


def intro_message(company: str, calendar: DeskCalendar, label: str, phone: str) -> tuple[str, list[Any]]:
    """The message pinned in the channel when it is connected to the company."""
    text = f"SLA Desk: support for {escape(company)}"
    about = (
        f"This channel is {escape(company)}'s line to the vendor's support desk. Open a ticket with a "
        "button below; support's replies come in the ticket's thread."
    )
    hours = (
        f"*Support hours:* {hours_words(calendar, label)}. "
        f"Critical issues: a 24/7 on-call, phone {escape(phone)}."
    )
    buttons = [_button(title, action, value) for title, action, value in INTRO_BUTTONS]
    blocks: list[Any] = [
        {"type": "header", "text": {"type": "plain_text", "text": text[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": about}},
        {"type": "section", "text": {"type": "mrkdwn", "text": hours}},
        {"type": "actions", "block_id": "intro", "elements": buttons},
    ]
    return text, blocks


OFFER_TECH_ACTION = "offer_tech"
OFFER_CARE_ACTION = "offer_care"
OFFER_BUTTONS = (("Technical Support", OFFER_TECH_ACTION), ("Customer Care", OFFER_CARE_ACTION))
FILE_AS_TICKET_CALLBACK = "file_as_ticket"  # the message shortcut, as manifest.yml names it


def offer_message(message_ts: str) -> tuple[str, list[Any]]:
    """The bot's reply in a partner's message's thread: the filing buttons, for that message."""
    text = "Shall SLA Desk open a ticket for this message? Choose the team; the form starts from the message."
    buttons = [_button(title, action, message_ts) for title, action in OFFER_BUTTONS]
    blocks: list[Any] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "offer", "elements": buttons},
    ]
    return text, blocks


ONLY_IN_PARTNER_CHANNELS = (
    "A ticket is made from a message in a partner's channel. Elsewhere, use `/ticket new`."
)


def already_a_ticket(ref: str) -> str:
    return f"This conversation is already ticket {ref}: its thread is where support answers."
