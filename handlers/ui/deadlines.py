"""The words of a deadline ping, one builder for tickets and incidents alike: a warning, the breach
alert, an escalation. Pure: what is watched arrives as a `Watched`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.ui.tickets import desk_time, time_left


@dataclass(frozen=True)
class Watched:
    """What a deadline ping is about, worded: a ticket, or a mass incident."""

    ref: str
    due_at: datetime
    timezone: str
    desk_label: str
    noun: str  # "" for a ticket, "mass incident " for an incident
    described: str  # inside the breach alert's brackets
    size: str  # " (12 tickets from 9 companies)" for an incident, else ""
    subject: str  # ": _subject_" for a ticket, else ""
    link: str  # " <permalink|Open the card>", or ""
    remedy: str  # what to do, after a warning
    nobody: str  # "Nobody has answered yet." / "Nobody has claimed it yet."
    still: str  # "unanswered" / "unclaimed"
    window: str = "first-response"  # or "next-response": the window after the partner wrote again


def warning_text(watched: Watched, share: float, now: datetime, late_note: str) -> str:
    return (
        f":hourglass_flowing_sand: {int(round(share * 100))}% of the {watched.window} window of "
        f"*{watched.ref}*{watched.size} has passed: {time_left(watched.due_at, now)}. "
        f"{watched.remedy}{late_note}"
    )


def breach_text(watched: Watched, who: str, late_note: str) -> str:
    return (
        f":rotating_light: {who} {watched.noun}*{watched.ref}* ({watched.described}) breached its "
        f"{watched.window} SLA at {desk_time(watched.due_at, watched.timezone, watched.desk_label)}"
        f"{watched.subject}. {watched.nobody}{watched.link}{late_note}"
    )


def escalation_text(watched: Watched, number: int, who: str, now: datetime, late_note: str) -> str:
    return (
        f":fire: Escalation {number}: {who} {watched.noun}*{watched.ref}*{watched.size} is still "
        f"{watched.still}, {time_left(watched.due_at, now)}{watched.subject}.{watched.link}{late_note}"
    )
