"""Block Kit builders for tickets: the card and the Resolve form, lists and status, the ping and
notice texts, direct messages, help and App Home. Pure functions from plain values to the dicts
Slack takes (the filing forms are in `forms.py`, Block Kit's parts in `blocks.py`).

Every string a user typed reaches these builders already passed through `rules.safe`,
or is passed through it here; our own strings are plain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pendulum

from handlers.rules.eligibility import (
    CARE_TOPICS,
    CRITICAL_REASONS,
    NOTE_MAX,
    SUBJECT_MAX,
    agent_text,
    cut,
    escape,
    safe,
)
from handlers.ui.blocks import (
    Block,
    context,
    input_block,
    md,
    modal,
    plain,
    section,
    text_input,
)
from storage.vocabulary import OPEN_STATES, Queue, TicketClass, TicketStatus

CLAIM_ACTION = "ticket_claim"
RESOLVE_ACTION = "ticket_resolve"
RESOLVE_CALLBACK = "ticket_resolve_form"
MAX_LIST_ROWS = 20  # a message or Home list shows this many tickets, then a summary line

CARD_TEXT_MAX = 2500


# --- the Resolve form ------------------------------------------------------------------------------------


def resolve_modal(ref: str, channel: str | None) -> dict[str, Any]:
    """The Resolve button's small form: the resolution note the filer will read."""
    note = text_input(
        "note", multiline=True, max_length=NOTE_MAX, placeholder="What was wrong, what fixed it"
    )
    blocks = [
        section(f"Resolve *{escape(ref)}*. The filer is told in their thread, with this note."),
        input_block("note", "Resolution note", note, optional=True),
    ]
    metadata = json.dumps({"ticket": ref, "channel": channel or ""})
    return modal(RESOLVE_CALLBACK, f"Resolve {ref}"[:24], blocks, metadata, submit="Resolve")


# --- tickets ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TicketView:
    """What a card, a list row or a status reply shows of a ticket, its fields in the order of its life."""

    ref: str
    desk: str = ""
    desk_label: str
    timezone: str
    # what was filed, by whom
    queue: str
    klass: str | None
    topic: str | None
    subject: str
    description: str
    product: str | None
    critical_reason: str | None
    company: str
    filer: str
    filed_at: datetime
    # the first response
    due_at: datetime
    first_response_at: datetime | None = None
    sla_met: bool | None = None
    # the conversation after it: whose turn, since when, and the running next-response window
    turn: str = "support"
    turn_since: datetime | None = None
    next_due_at: datetime | None = None
    # who works it, and how it ended
    status: str
    claimant: str | None = None
    incident: str | None = None  # the mass incident it is part of ("I-3")
    resolved_at: datetime | None = None
    resolution_note: str | None = None
    reopened: bool = False
    rating: int | None = None  # the partner's satisfaction answer, 1-5
    # where it is shown: permalinks of the card in the queue channel and of the partner's thread
    card_link: str | None = None
    filer_link: str | None = None


def kind_label(ticket: TicketView) -> str:
    if ticket.queue == Queue.TECH:
        return f"Technical · {(ticket.klass or 'standard').title()}"
    return f"Customer Care · {CARE_TOPICS.get(ticket.topic or '', ticket.topic or 'General')}"


def slack_date(at: datetime, fmt: str = "{date_short_pretty} at {time}", fallback: str | None = None) -> str:
    """Slack's date formatting: each reader sees it in their own time zone."""
    epoch = int(at.timestamp())
    return f"<!date^{epoch}^{fmt}|{fallback or pendulum.instance(at).to_iso8601_string()}>"


def desk_time(at: datetime, timezone: str, label: str) -> str:
    return pendulum.instance(at).in_timezone(timezone).format("ddd D MMM HH:mm") + f" {label}"


def due_in_words(due_at: datetime, now: datetime, timezone: str, label: str) -> str:
    """'by 18:00 CET today', 'by 18:00 CET tomorrow', 'by 18:00 CET Monday 30 November';
    a due time already past is never promised: 'now: it is overdue (due 10:30 CET today)'."""
    due = pendulum.instance(due_at).in_timezone(timezone)
    today = pendulum.instance(now).in_timezone(timezone).date()
    clock = due.format("HH:mm") + f" {label}"
    if due.date() == today:
        day = "today"
    elif (due.date() - today).days == 1:
        day = "tomorrow"
    elif (due.date() - today).days == -1:
        day = "yesterday"
    else:
        day = due.format("dddd D MMMM")
    if due_at < now:
        return f"now: it is overdue (due {clock} {day})"
    return f"by {clock} {day}"


def time_left(due_at: datetime, now: datetime) -> str:
    """'due in 25 min', 'due in 3 h 10 min', 'breached 2 h ago'."""
    seconds = int((due_at - now).total_seconds())
    words = _duration(abs(seconds))
    return f"due in {words}" if seconds >= 0 else f"breached {words} ago"


def _duration(seconds: int) -> str:
    minutes = seconds // 60
    if minutes < 60:
        return f"{max(minutes, 1) if seconds else 0} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{hours // 24} days"


def sla_line(ticket: TicketView) -> str:
    if ticket.first_response_at is None:
        local = desk_time(ticket.due_at, ticket.timezone, ticket.desk_label)
        return f"First response due {slack_date(ticket.due_at)} ({local})"
    verdict = ":white_check_mark: SLA met" if ticket.sla_met else ":red_circle: SLA breached"
    return f"{verdict}: first response {slack_date(ticket.first_response_at)}"


def turn_words(ticket: TicketView) -> str:
    """Whose turn, with the running clock: 'next response due Tue 24 Nov 17:00 CET', or 'waiting for
    the partner since …' (no support clock runs then)."""
    if ticket.turn == "partner":
        since = ticket.turn_since
        return "waiting for the partner" + (
            f" since {desk_time(since, ticket.timezone, ticket.desk_label)}" if since else ""
        )
    if ticket.next_due_at is not None:
        return f"next response due {desk_time(ticket.next_due_at, ticket.timezone, ticket.desk_label)}"
    return "waiting for support"


def status_line(ticket: TicketView) -> str:
    """Who holds it and whose turn it is: never 'waiting for an agent' once an agent has answered."""
    if ticket.status == TicketStatus.RESOLVED:
        return ":heavy_check_mark: Resolved" + (f" by <@{ticket.claimant}>" if ticket.claimant else "")
    if ticket.status == TicketStatus.CLAIMED:
        return f":raising_hand: Claimed by <@{ticket.claimant}> · {turn_words(ticket)}"
    if ticket.reopened:
        return f":arrows_counterclockwise: Reopened, unclaimed · {turn_words(ticket)}"
    return f":inbox_tray: Open, unclaimed · {turn_words(ticket)}"


def ticket_card(ticket: TicketView) -> tuple[str, list[Block]]:
    """The card in the queue channel, with Claim and Resolve buttons while the ticket is open."""
    fields = [
        md(f"*Company*\n{safe(ticket.company, 200)}"),
        md(f"*Filed by*\n<@{ticket.filer}>"),
        md(f"*Type*\n{kind_label(ticket)}"),
        md(f"*Desk*\n{ticket.desk_label}"),
    ]
    if ticket.product:
        fields.append(md(f"*Product / PBX*\n{safe(ticket.product, 200)}"))
    if ticket.rating is not None:
        fields.append(md(f"*Partner's rating*\n{':star:' * ticket.rating} {ticket.rating}/5"))
    if ticket.critical_reason:
        fields.append(md(f"*Critical reason*\n{CRITICAL_REASONS.get(ticket.critical_reason, 'n/a')}"))
    blocks: list[Block] = [
        section(f"*{ticket.ref}* · {safe(ticket.subject, SUBJECT_MAX)}"),
        {"type": "section", "fields": fields[:10]},
        section(safe(ticket.description, CARD_TEXT_MAX) or " "),
        context(f"{status_line(ticket)} · {sla_line(ticket)}"),
    ]
    if ticket.resolution_note:
        blocks.append(
            context(f"Resolution: {cut(agent_text(ticket.resolution_note), 2000)}")
        )  # the agent's words
    if ticket.incident and ticket.status != TicketStatus.RESOLVED:
        blocks.append(
            context(
                f":link: Part of mass incident *{ticket.incident}*: claim, update and resolve it there "
                f"(`/ticket incident {ticket.incident} claim`)."
            )
        )
    if ticket.filer_link:
        blocks.append(context(f"<{ticket.filer_link}|The partner's thread> · replies here reach the partner"))
    buttons = []
    if ticket.status == TicketStatus.OPEN:
        buttons.append(
            {
                "type": "button",
                "text": plain("Claim"),
                "action_id": CLAIM_ACTION,
                "value": ticket.ref,
                "style": "primary",
            }
        )
    if ticket.status in OPEN_STATES:
        buttons.append(
            {"type": "button", "text": plain("Resolve"), "action_id": RESOLVE_ACTION, "value": ticket.ref}
        )
    if buttons:
        blocks.append({"type": "actions", "block_id": f"card_{ticket.ref}", "elements": buttons})
    subject = safe(ticket.subject, SUBJECT_MAX)
    text = f"{ticket.ref} ({kind_label(ticket)}) from {escape(ticket.company)}: {subject}"
    return text, blocks


def confirmation_text(
    ticket: TicketView,
    now: datetime,
    outside_hours: bool,
    support_phone: str,
    redirected: bool = False,
    incident_line: str | None = None,
) -> str:
    lines = [f":ticket: Ticket *{ticket.ref}* is filed: _{safe(ticket.subject, SUBJECT_MAX)}_."]
    if redirected:
        lines.append("Because calls are failing, it was opened as a *Critical Technical Support* ticket.")
    if incident_line:  # part of a wider problem: said once, here, instead of in a second message
        lines.append(incident_line)
        if ticket.claimant:
            lines.append(f"<@{ticket.claimant}> is already working on it.")
    lines.append(
        f"Expect a first answer {due_in_words(ticket.due_at, now, ticket.timezone, ticket.desk_label)}."
    )
    if outside_hours:
        lines.append("You filed outside support hours (Monday to Friday 09:00-18:00, except holidays).")
        if ticket.klass == TicketClass.CRITICAL:
            lines.append(
                f"The on-call engineer has been paged. For an urgent problem please also phone "
                f"support: *{escape(support_phone)}*."
            )
    lines.append(
        "Reply in this thread to add details; `/ticket status " + ticket.ref + "` shows where it stands."
    )
    return "\n".join(lines)


def ticket_status_blocks(ticket: TicketView, now: datetime) -> tuple[str, list[Block]]:
    text, blocks = ticket_card(ticket)
    blocks = [b for b in blocks if b["type"] != "actions"]
    if ticket.status != TicketStatus.RESOLVED and ticket.first_response_at is None:
        blocks.append(context(time_left(ticket.due_at, now)))
    return text, blocks


def ticket_row(ticket: TicketView, now: datetime) -> str:
    waiting = (
        time_left(ticket.due_at, now)
        if ticket.first_response_at is None
        else ("answered, SLA met" if ticket.sla_met else "answered, SLA breached")
    )
    if ticket.status != TicketStatus.RESOLVED:
        waiting += f" · {turn_words(ticket)}"
    who = f" · <@{ticket.claimant}>" if ticket.claimant else ""
    reopened = (
        ":arrows_counterclockwise: reopened · "
        if ticket.reopened and ticket.status != TicketStatus.RESOLVED
        else ""
    )
    incident = f" · :link: {ticket.incident}" if ticket.incident else ""
    return (
        f"{reopened}*{linked_ref(ticket)}* {safe(ticket.subject, 80)} · {escape(ticket.company)} · "
        f"{kind_label(ticket)} · {waiting}{who}{incident}"
    )


def linked_ref(ticket: TicketView) -> str:
    return f"<{ticket.card_link}|{ticket.ref}>" if ticket.card_link else ticket.ref


def card_link_text(ticket: TicketView) -> str:
    return f" <{ticket.card_link}|Open the card>" if ticket.card_link else ""


def ticket_list_blocks(
    title: str, tickets: Sequence[TicketView], total: int, now: datetime, empty: str
) -> list[Block]:
    """A list that stays within Slack's 50-block limit however long the queue is."""
    blocks: list[Block] = [section(f"*{escape(title)}*")]
    if not tickets:
        blocks.append(context(empty))
        return blocks
    shown = tickets[:MAX_LIST_ROWS]
    for ticket in shown:
        blocks.append(section(ticket_row(ticket, now)))
    if total > len(shown):
        blocks.append(context(f"…and {total - len(shown)} more. Narrow it with `/ticket queue tech cet`."))
    return blocks


def queue_summary(total: int, breached: int) -> str:
    return f"{total} open · {breached} breached"


# --- pings -----------------------------------------------------------------------------------------------


def mentions(leads: Sequence[str], lead_group: str | None) -> str:
    parts = [f"<!subteam^{lead_group}>"] if lead_group else []
    parts += [f"<@{user}>" for user in leads]
    return " ".join(parts) or "(no desk lead configured)"


def ticket_deadline_words(ticket: TicketView) -> dict[str, str]:
    """What the deadline pings (handlers/ui/deadlines.py) say of a ticket."""
    return {
        "noun": "",
        "described": f"{kind_label(ticket)}, {escape(ticket.company)}",
        "size": "",
        "subject": f": _{safe(ticket.subject, SUBJECT_MAX)}_",
        "link": card_link_text(ticket),
        "remedy": "Claim it from the card.",
        "nobody": "Nobody has answered yet.",
        "still": "unanswered",
    }


def next_response_deadline_words(ticket: TicketView, message_link: str | None) -> dict[str, str]:
    """The same pings for a next response: the partner wrote again and waits for support."""
    words = ticket_deadline_words(ticket)
    their = f" <{message_link}|The partner's message>" if message_link else ""
    words.update(
        remedy="Answer the partner in the card's thread." + their,
        nobody="The partner wrote again and nobody has answered yet.",
        still="waiting for a next response",
        window="next-response",
        subject=words["subject"] + (f" ({their.strip()})" if their else ""),
    )
    return words


def reminder_text(ticket: TicketView, resolve_days: int) -> str:
    then = (
        f" Without an answer it is resolved in {resolve_days} more business days; you can reopen it by "
        "writing here."
        if resolve_days
        else ""
    )
    return f":wave: Support is waiting for your answer on *{ticket.ref}*: please reply in this thread.{then}"


def auto_resolved_text(ticket: TicketView, reopen_days: int) -> str:
    reopen = f" Write in this thread within {reopen_days} days to reopen it." if reopen_days else ""
    return f":heavy_check_mark: *{ticket.ref}* is resolved: no answer from you.{reopen}"


def page_text(ticket: TicketView) -> str:
    return (
        f":pager: After-hours *critical* ticket *{ticket.ref}* from {escape(ticket.company)} "
        f"(<@{ticket.filer}>): _{safe(ticket.subject, SUBJECT_MAX)}_. First response due "
        f"{desk_time(ticket.due_at, ticket.timezone, ticket.desk_label)}.{card_link_text(ticket)}"
    )


def late_note(
    planned_at: datetime, timezone: str, label: str, missed: int = 0, slack_refused: bool = False
) -> str:
    """Says the ping is late, and why only when the bot knows (Slack refused the earlier attempts)."""
    why = "; Slack did not accept it in time" if slack_refused else ""
    skipped = (
        f"; {missed} earlier reminder{'s' if missed != 1 else ''} of this ticket fell due meanwhile"
        if missed
        else ""
    )
    return f" _(posted late: due at {desk_time(planned_at, timezone, label)}{why}{skipped})_"


# --- notices in the filer's thread ----------------------------------------------------------------------


def picked_up(agent: str, ref: str) -> str:
    return f":raising_hand: <@{agent}> picked up {ref} and is looking into it."


def assigned_dm(by: str, ticket: Any) -> str:
    return f":inbox_tray: <@{by}> handed *{ticket.ref}* to you: _{safe(ticket.subject, SUBJECT_MAX)}_."


def handed_over(agent: str, ref: str) -> str:
    return f":busts_in_silhouette: {ref} is now handled by <@{agent}>."


def resolved_notice(agent: str, ref: str, note: str | None, partner_channel: bool = False) -> str:
    """`partner_channel`: a Slack Connect channel, where the partner's people have no slash commands."""
    said = f": {cut(agent_text(note), NOTE_MAX)}" if note else "."  # the agent's own words, links kept
    again = (
        "reply in this thread: support reads it and can reopen it"
        if partner_channel
        else f"`/ticket reopen {ref}`"
    )
    return f":white_check_mark: <@{agent}> resolved {ref}{said} If it is not solved, {again}."


def reopened_notice(user: str, ref: str) -> str:
    return f":arrows_counterclockwise: <@{user}> reopened {ref}; it is back in the queue."


def class_changed_notice(agent: str, ref: str, klass: str, due: str) -> str:
    return f":label: <@{agent}> made {ref} *{klass}*: first answer {due}."


# --- direct messages to the bot -------------------------------------------------------------------------

DM_FOR_AGENTS = (
    "Hi! I'm SLA Desk. `/ticket queue [tech|care] [cet|est]` shows the open tickets, soonest due first; "
    "`/ticket help` lists every command. Reply in a card's thread to answer the partner (start with "
    "`note:` to keep it internal), or use `/ticket note T-42 TEXT`."
)
DM_FOR_OTHERS = (
    "Hi! I'm SLA Desk, the support desk for the vendor's partners. You are not registered with a "
    "partner company: please contact your system integrator (the partner who installed your system), "
    "or ask your company's partner administrator to add you."
)


def dm_for_partners(company: str, tickets: Sequence[TicketView]) -> str:
    lines = [
        f"Hi! I'm SLA Desk, {escape(company)}'s support desk. I don't open tickets from direct messages: "
        "type `/ticket` (here or in any channel) to open one. `/ticket status T-42` shows where one stands.",
    ]
    if tickets:
        lines.append("Your company's open tickets:")
        lines += [f"• *{linked_ref(t)}* {safe(t.subject, 80)} · {turn_words(t)}" for t in tickets[:10]]
    else:
        lines.append("Your company has no open tickets.")
    return "\n".join(lines)


# --- help ------------------------------------------------------------------------------------------------

HELP_TEXT = """*SLA Desk: `/ticket` commands*
*For partners*
• `/ticket` or `/ticket new`: open a ticket
   (`/ticket new tech` or `/ticket new care` skips the first question)
• `/ticket list`: your company's open tickets
• `/ticket status T-42`: where one ticket stands
• `/ticket reopen T-42`: reopen a resolved ticket you filed
*For agents*
• `/ticket queue [tech|care] [cet|est]`: open tickets, soonest due first
• `/ticket claim T-42`: take a ticket (this is the first response)
• `/ticket release T-42`: put a ticket you hold back in the queue
• `/ticket reassign T-42 @agent`: hand a ticket to another agent
• `/ticket resolve T-42 [note]`: close a ticket you hold; the filer is told
• `/ticket class T-42 critical call_drops|cloud_unreachable|business_down` or `standard`: change the class
• `/ticket note T-42 TEXT`: an internal note on the card (never sent to the partner)
• `/ticket incidents`: open mass incidents (many partners, one failure)
• `/ticket incident I-3 claim|update TEXT|resolve NOTE|unlink T-42`: work on one for all its tickets
• `/ticket report [this-week|last-week|this-month|last-month|FROM..TO] [cet|est] [tech|care]`:
   SLA figures, a chart and a CSV
• `/ticket connect COMPANY` in a partner's channel: it serves that company (intro posted and pinned)
Reply in a card's thread to answer the partner; start with `note:` to keep it internal.
• `/ticket reopen T-42`, `/ticket status T-42`
Ticket ids may be written `T-42`, `t-42` or `42`."""


def home_view(title: str, sections: list[list[Block]]) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": plain(title[:150])}]
    for part in sections:
        if len(blocks) + len(part) + 1 > 100:
            break
        blocks.append({"type": "divider"})
        blocks.extend(part)
    return {"type": "home", "blocks": blocks}
