"""Block Kit builders for mass incidents: the incident message, its pings, the partners' notices and
the lists. Pure, like `views`: plain values in, Slack's dicts and strings out, within Slack's limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.rules.eligibility import CRITICAL_REASONS, NOTE_MAX, agent_text, cut, escape, safe
from handlers.ui.blocks import Block, context, input_block, modal, plain, section, text_input
from handlers.ui.tickets import desk_time, slack_date, time_left
from storage.vocabulary import IncidentStatus, TicketStatus

CLAIM_ACTION = "incident_claim"
UPDATE_ACTION = "incident_update"
RESOLVE_ACTION = "incident_resolve"
UPDATE_CALLBACK = "incident_update_form"
RESOLVE_CALLBACK = "incident_resolve_form"
# The incident message lists its tickets in a few sections (3,000 characters each) and stays well
# under 50 blocks; beyond this many lines it says how many more.
LINES_PER_SECTION = 20
MAX_SECTIONS = 5


@dataclass(frozen=True)
class IncidentLine:
    ref: str
    company: str
    subject: str
    filed_at: datetime
    status: str
    card_link: str | None = None


@dataclass(frozen=True, kw_only=True)
class IncidentView:
    """What the incident's message shows, its fields in the order of its life."""

    ref: str
    desk: str
    desk_label: str
    timezone: str
    link: str | None = None  # permalink of the incident message
    # what it is and whom it covers
    reason: str
    opened_at: datetime
    due_at: datetime
    tickets: tuple[IncidentLine, ...] = field(default_factory=tuple)
    # who works it, what they said, how it ended
    claimant: str | None = None
    claimed_at: datetime | None = None
    latest_update: str | None = None
    updated_at: datetime | None = None
    status: str
    resolved_by: str | None = None
    resolution_note: str | None = None

    @property
    def companies(self) -> int:
        return len({line.company for line in self.tickets})

    @property
    def open_tickets(self) -> int:
        return sum(1 for line in self.tickets if line.status != TicketStatus.RESOLVED)


def reason_words(reason: str) -> str:
    return CRITICAL_REASONS.get(reason, reason)


def size_words(view: IncidentView) -> str:
    tickets, companies = len(view.tickets), view.companies
    return (
        f"{tickets} ticket{'s' if tickets != 1 else ''} from "
        f"{companies} compan{'ies' if companies != 1 else 'y'}"
    )


def who_words(view: IncidentView) -> str:
    if view.status == IncidentStatus.RESOLVED:
        return f":heavy_check_mark: Resolved by <@{view.resolved_by}>"
    if view.claimant:
        return f":raising_hand: Claimed by <@{view.claimant}>"
    return ":inbox_tray: Nobody has claimed it yet"


def _ticket_lines(view: IncidentView) -> list[Block]:
    lines = [
        f"• *{f'<{line.card_link}|{line.ref}>' if line.card_link else line.ref}* "
        f"{escape(line.company)} · {safe(line.subject, 80)} · {slack_date(line.filed_at, '{time}')}"
        + (" · resolved" if line.status == TicketStatus.RESOLVED else "")
        for line in view.tickets
    ]
    shown = lines[: LINES_PER_SECTION * MAX_SECTIONS]
    blocks = [
        section("\n".join(shown[start : start + LINES_PER_SECTION]))
        for start in range(0, len(shown), LINES_PER_SECTION)
    ]
    if len(lines) > len(shown):
        blocks.append(context(f"…and {len(lines) - len(shown)} more. `/ticket incidents` lists them all."))
    return blocks


def incident_message(view: IncidentView) -> tuple[str, list[Block]]:
    """The incident's one message in the queue channel, re-rendered in place as it changes."""
    title = f":rotating_light: {view.ref} · {reason_words(view.reason)} · {view.desk_label} desk"
    if view.status == IncidentStatus.RESOLVED:
        title = (
            f":white_check_mark: {view.ref} resolved · {reason_words(view.reason)} · {view.desk_label} desk"
        )
    due = f"first response due {desk_time(view.due_at, view.timezone, view.desk_label)} (earliest ticket)"
    summary = f"*{size_words(view)}* since {slack_date(view.opened_at, '{time}')}"
    blocks: list[Block] = [
        {"type": "header", "text": plain(title[:150])},
        section(f"{summary} · {due}" if not view.claimant else summary),
        context(who_words(view)),
    ]
    if view.latest_update and view.status != IncidentStatus.RESOLVED:
        blocks.append(section(f"*Latest update*: {cut(agent_text(view.latest_update), 2500)}"))
    if view.resolution_note:
        blocks.append(section(f"*Resolution*: {cut(agent_text(view.resolution_note), 2500)}"))
    blocks += _ticket_lines(view)
    if view.status != IncidentStatus.RESOLVED:
        buttons: list[dict[str, Any]] = []
        if not view.claimant:
            buttons.append(_button("Claim", CLAIM_ACTION, view.ref, "primary"))
        buttons += [_button("Update", UPDATE_ACTION, view.ref), _button("Resolve", RESOLVE_ACTION, view.ref)]
        blocks.append({"type": "actions", "block_id": f"incident_{view.ref}", "elements": buttons})
    text = f"{view.ref}: {reason_words(view.reason)}, {size_words(view)} ({view.desk_label} desk)"
    return text, blocks


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "text": plain(label), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def _open_link(view: IncidentView) -> str:
    return f" <{view.link}|Open {view.ref}>" if view.link else ""


def page_text(view: IncidentView, phone: str, paged_already: Sequence[str] = ()) -> str:
    """`paged_already`: its tickets the on-call was paged for before the incident opened."""
    earlier = ""
    if paged_already:
        shown = ", ".join(paged_already[:10]) + (" …" if len(paged_already) > 10 else "")
        earlier = f" You were paged for {shown} before it opened: part of it."
    return (
        f":pager: *Mass incident {view.ref}*: {reason_words(view.reason)}, {size_words(view)} so far "
        f"({view.desk_label} desk).{earlier} First response due "
        f"{desk_time(view.due_at, view.timezone, view.desk_label)}. Claim it from the incident message, "
        f"or `/ticket incident {view.ref} claim`. Partners may phone {escape(phone)}.{_open_link(view)}"
    )


def incident_deadline_words(view: IncidentView) -> dict[str, str]:
    """What the deadline pings (handlers/ui/deadlines.py) say of a mass incident."""
    return {
        "noun": "mass incident ",
        "described": f"{reason_words(view.reason)}, {size_words(view)}",
        "size": f" ({size_words(view)})",
        "subject": "",
        "link": _open_link(view),
        "remedy": "Claim it to answer them all.",
        "nobody": "Nobody has claimed it yet.",
        "still": "unclaimed",
    }


# --- what partners read in their own thread --------------------------------------------------------------

KNOWN = (
    ":satellite_antenna: Other partners report the same problem: support is treating it as one "
    "incident ({incident}), with the highest priority. You will be updated here, in this thread."
)


def known_line(incident: str) -> str:
    return KNOWN.format(incident=incident)


def claimed_notice(agent: str, incident: str) -> str:
    """With `{ref}` left for the ticket's own reference."""
    return (
        f":raising_hand: <@{agent}> is working on the wider problem ({incident}) that {{ref}} is part of. "
        "Updates follow in this thread."
    )


def update_notice(incident: str, text: str) -> str:
    return f":loudspeaker: Update on the wider problem ({incident}): {cut(agent_text(text), NOTE_MAX)}"


def unlinked_notice(ref: str, incident: str) -> str:
    return f":link: {ref} is now handled on its own, apart from the wider problem ({incident})."


# --- lists and forms -------------------------------------------------------------------------------------


def incident_row(view: IncidentView, now: datetime) -> str:
    waiting = time_left(view.due_at, now) if not view.claimant else f"claimed by <@{view.claimant}>"
    return (
        f":rotating_light: *{f'<{view.link}|{view.ref}>' if view.link else view.ref}* "
        f"{reason_words(view.reason)} · {view.desk_label} · {size_words(view)} · {waiting}"
    )


def incidents_blocks(views: Sequence[IncidentView], now: datetime) -> list[Block]:
    blocks: list[Block] = [section("*Open incidents*")]
    if not views:
        blocks.append(context("No open incidents."))
        return blocks
    for view in views[:20]:
        blocks.append(section(incident_row(view, now)))
        blocks += _ticket_lines(view)[:2]
        if len(blocks) > 45:
            blocks.append(context("…more incidents: narrow with `/ticket incidents cet`."))
            break
    return blocks


def update_modal(ref: str, channel: str | None) -> dict[str, Any]:
    text = text_input("text", multiline=True, max_length=NOTE_MAX, placeholder="What we know, what's next")
    blocks = [
        section(f"An update on *{escape(ref)}*: every linked partner reads it in their own thread."),
        input_block("text", "Update", text),
    ]
    metadata = json.dumps({"incident": ref, "channel": channel or ""})
    return modal(UPDATE_CALLBACK, f"Update {ref}"[:24], blocks, metadata, submit="Send")


def resolve_modal(ref: str, channel: str | None) -> dict[str, Any]:
    note = text_input("note", multiline=True, max_length=NOTE_MAX, placeholder="What failed, what fixed it")
    blocks = [
        section(
            f"Resolve *{escape(ref)}* and every ticket linked to it. "
            "Each partner is told once, with this note."
        ),
        input_block("note", "Resolution note", note, optional=True),
    ]
    metadata = json.dumps({"incident": ref, "channel": channel or ""})
    return modal(RESOLVE_CALLBACK, f"Resolve {ref}"[:24], blocks, metadata, submit="Resolve")
