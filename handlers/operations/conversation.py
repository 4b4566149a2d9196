"""The conversation between partner and support, through the ticket's two threads.

Operations like those in `operations.py`: plain values and a session in, rows owed to Slack out. A
partner's message in the partner's thread is copied into the card thread; an agent's message in the
card thread is sent to the partner's thread (a first response), unless it is an internal note; an
agent replying in the partner's thread is a first response and is copied into the card thread.
Each copy, edit, deletion and mark is a delivery row keyed by the Slack message it comes from, so an
event Slack delivers twice is carried over once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Session

from handlers.operations import next_response as next_response
from handlers.operations import tickets as ops
from handlers.rules.eligibility import agent_text, clean, cut, escape
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.models import Ticket
from storage.vocabulary import COPY_KINDS, PingKind, PingState, Turn

NOTE = re.compile(r"^\s*note:", re.IGNORECASE)
SENT_MARK = "outbox_tray"  # the reaction on a card-thread message sent to the partner
INTERNAL_MARK = "lock"  # ... and on one that stayed internal
COPY_MAX = 3500  # well inside Slack's 4,000 characters for a message's text


@dataclass(frozen=True)
class Author:
    user_id: str
    name: str
    is_agent: bool
    company: str | None = None  # a partner's company, for the attribution


@dataclass(frozen=True)
class SlackMessage:
    channel: str
    ts: str
    thread_ts: str
    text: str
    files: tuple[tuple[str, str], ...] = ()  # (name, permalink): linked, never downloaded

    @property
    def source(self) -> str:
        return f"{self.channel}:{self.ts}"

    @property
    def written_at(self) -> datetime:
        return datetime.fromtimestamp(float(self.ts), UTC)


class Carried(StrEnum):
    TO_PARTNER = "to_partner"
    TO_CARD = "to_card"
    INTERNAL = "internal"
    ALREADY = "already"  # the same message arrived before: nothing more to do


def side_of(ticket: Ticket, channel: str, thread_ts: str) -> str:
    return "card" if (channel, thread_ts) == (ticket.queue_channel, ticket.card_ts) else "partner"


def copy_text(author: Author, message: SlackMessage) -> str:
    """Attributed; a partner's text escaped (it never notifies or links), an agent's kept as written."""
    if author.is_agent:
        head, body = f"*{escape(author.name)}* (Support)", agent_text(message.text)
    else:
        company = f" ({escape(author.company)})" if author.company else ""
        head, body = f"*{escape(author.name)}*{company}", escape(clean(message.text))
    files = "".join(
        f"\n:paperclip: <{link}|{escape(name).replace('|', '¦')}>" for name, link in message.files if link
    )
    return cut(f"{head}: {body}{files}" if body else f"{head} shared:{files}", COPY_MAX)


def carry_message(
    session: Session,
    ticket: Ticket,
    message: SlackMessage,
    author: Author,
    now: datetime,
    desk: ops.DeskPolicy | None = None,
) -> tuple[Carried, ops.Verdict | None]:
    """A person's message in one of the ticket's threads."""
    at = min(now, message.written_at)  # copies go out in the order they were written
    if side_of(ticket, message.channel, message.thread_ts) == "card":
        if not author.is_agent or NOTE.match(message.text):
            _mark(session, ticket, message, INTERNAL_MARK, at)
            return Carried.INTERNAL, None
        payload = {"text": copy_text(author, message)}
        if (
            ping_store.owe_once(session, PingKind.TO_PARTNER, message.source, at, ticket.id, payload=payload)
            is None
        ):
            return Carried.ALREADY, None
        _mark(session, ticket, message, SENT_MARK, at)
        return Carried.TO_PARTNER, _support_wrote(session, ticket, author, now, desk)
    payload = {"text": copy_text(author, message)}
    if ping_store.owe_once(session, PingKind.TO_CARD, message.source, at, ticket.id, payload=payload) is None:
        return Carried.ALREADY, None
    if author.is_agent:
        return Carried.TO_CARD, _support_wrote(session, ticket, author, now, desk)
    _partner_wrote(session, ticket, message, at, now, desk)
    return Carried.TO_CARD, None


def _partner_wrote(
    session: Session,
    ticket: Ticket,
    message: SlackMessage,
    at: datetime,
    now: datetime,
    desk: ops.DeskPolicy | None,
) -> None:
    """A partner's message: support's turn; after the first answer, a next-response window from it; a
    ticket resolved for want of an answer reopens when they write in time."""
    if desk is not None and next_response.may_reopen_by_writing(ticket, now, desk.config.reopen_days):
        ops.reopen(session, desk, ticket, ops.Actor(ticket.filer_user_id, False), now)
        ticket = ticket_store.get_ticket(session, ticket.id or 0) or ticket
    ticket_store.set_turn(session, ticket.id or 0, Turn.SUPPORT, at)
    if desk is not None:
        next_response.partner_wrote(session, desk, ticket, at, message.channel, message.ts)
    ping_store.owe(session, ticket.id or 0, PingKind.CARD_UPDATE, now)


def _support_wrote(
    session: Session, ticket: Ticket, author: Author, now: datetime, desk: ops.DeskPolicy | None
) -> ops.Verdict | None:
    """An agent's message reached the partner: the first response, if none came before, else the
    answer to a running next-response window; then the ticket waits on the partner."""
    ticket_store.set_turn(session, ticket.id or 0, Turn.PARTNER, now)
    verdict = ops.record_first_response(session, ticket, author.user_id, now, desk)
    if verdict is None:
        verdict = next_response.support_answered(session, desk, ticket, author.user_id, now)
    next_response.wait_on_partner(session, desk, ticket, now)
    ping_store.owe(session, ticket.id or 0, PingKind.CARD_UPDATE, now)
    return verdict


def _mark(session: Session, ticket: Ticket, message: SlackMessage, reaction: str, at: datetime) -> None:
    payload = {"channel": message.channel, "ts": message.ts, "name": reaction}
    ping_store.owe_once(session, PingKind.REACTION, message.source, at, ticket.id, payload=payload)


def carry_edit(
    session: Session, ticket: Ticket, message: SlackMessage, author: Author, edited: str, now: datetime
) -> bool:
    """An edit of a copied message follows to its copy (an internal note stays internal)."""
    copy = ping_store.by_source(session, COPY_KINDS, message.source)
    text = copy_text(author, message)
    if copy is None:
        if ping_store.by_source(session, (PingKind.REACTION,), message.source) is not None:
            return False  # a message marked already, with no copy: an internal note stays internal
        # Its copy may not be recorded yet (another process handles the message): the edit waits for it.
        waiting: dict[str, object] = {"source": message.source, "text": text}
        source = f"{message.source}:{edited}"
        return (
            ping_store.owe_once(session, PingKind.EDIT, source, now, ticket.id, payload=waiting) is not None
        )
    if copy.state == PingState.PLANNED:  # not out yet: it goes out edited
        copy.payload = json.dumps({"text": text})
        session.add(copy)
        return True
    payload = {"copy": copy.id, "text": text}
    return (
        ping_store.owe_once(
            session, PingKind.EDIT, f"{message.source}:{edited}", now, ticket.id, payload=payload
        )
        is not None
    )


def carry_deletion(session: Session, ticket: Ticket, channel: str, ts: str, now: datetime) -> bool:
    """A deletion of a copied message follows to its copy."""
    source = f"{channel}:{ts}"
    copy = ping_store.by_source(session, COPY_KINDS, source)
    if copy is None:
        return False
    if ping_store.drop_unsent(session, copy, "its message was deleted before it was copied"):
        return True
    payload = {"copy": copy.id}
    return (
        ping_store.owe_once(session, PingKind.DELETE, f"{source}:deleted", now, ticket.id, payload=payload)
        is not None
    )


def post_note(
    session: Session, ticket: Ticket, actor: ops.Actor, name: str, text: str, now: datetime
) -> ops.Result:
    """`/ticket note`: an internal note in the card thread, never sent to the partner."""
    if not actor.is_agent:
        return ops.Refused(ops.Refusal.AGENTS_ONLY, ticket)
    body = cut(f"*{escape(name)}* (internal note): {clean(text)}", COPY_MAX)
    ping_store.owe(session, ticket.id or 0, PingKind.NOTE, now, payload={"text": body})
    ticket_store.audit(session, ticket.id, actor.user_id, "note", now)
    return ops.Done(ticket)


def answer_direct_message(session: Session, channel: str, ts: str, to: str, text: str, now: datetime) -> bool:
    """A direct message to the bot gets one answer, however often Slack delivers it."""
    payload = {"to": to, "text": text}
    return (
        ping_store.owe_once(session, PingKind.DIRECT, f"{channel}:{ts}", now, None, payload=payload)
        is not None
    )
