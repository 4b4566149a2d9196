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
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": title}, "action_id": action, "value": value}
        for title, action, value in INTRO_BUTTONS
    ]
    blocks: list[Any] = [
        {"type": "header", "text": {"type": "plain_text", "text": text[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": about}},
        {"type": "section", "text": {"type": "mrkdwn", "text": hours}},
        {"type": "actions", "block_id": "intro", "elements": buttons},
    ]
    return text, blocks
