"""Partner channels, the desk's side: connecting a channel to a partner company (its intro posted and
pinned once), taking the link away, and listing the links. Plain values in, a result out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from handlers.operations.context import Actor
from handlers.rules.channels import ChannelFacts
from handlers.rules.eligibility import escape
from storage import channels as channel_store
from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.directory import partner_by_name
from storage.models import Partner, PartnerChannel
from storage.vocabulary import ChannelStatus, PingKind


class ChannelRefusal(StrEnum):
    AGENTS_ONLY = "agents_only"
    UNKNOWN_COMPANY = "unknown_company"
    OTHER_COMPANY = "other_company"  # the channel serves another company: `company`
    NOT_A_MEMBER = "not_a_member"  # the bot is not in the channel
    ARCHIVED = "archived"
    NOT_CONNECTED = "not_connected"


@dataclass(frozen=True)
class Connected:
    channel: PartnerChannel
    company: str
    again: bool  # it was connected to this company already (nothing new is posted)


@dataclass(frozen=True)
class ChannelRefused:
    reason: ChannelRefusal
    company: str = ""


def connect(
    session: Session, facts: ChannelFacts, company: str, actor: Actor, now: datetime
) -> Connected | ChannelRefused:
    """Link the channel to the company. The intro (what the desk does, its hours, the filing buttons)
    is owed once per channel, and pinned once it is posted: connecting again posts nothing."""
    if not actor.is_agent:
        return ChannelRefused(ChannelRefusal.AGENTS_ONLY)
    if not facts.is_member:
        return ChannelRefused(ChannelRefusal.NOT_A_MEMBER)
    if facts.is_archived:
        return ChannelRefused(ChannelRefusal.ARCHIVED)
    partner = partner_by_name(session, company)
    if partner is None or partner.id is None:
        return ChannelRefused(ChannelRefusal.UNKNOWN_COMPANY, company)
    existing = channel_store.get_channel(session, facts.channel_id)
    serving = existing is not None and existing.status != ChannelStatus.DISCONNECTED
    if existing is not None and serving and existing.partner_id != partner.id:
        other = session.get(type(partner), existing.partner_id)
        return ChannelRefused(ChannelRefusal.OTHER_COMPANY, other.name if other else "another company")
    again = existing is not None and serving and existing.partner_id == partner.id
    channel = channel_store.connect_channel(
        session, facts.channel_id, partner.id, facts.is_shared, facts.team_ids, actor.user_id, now
    )
    ping_store.owe_once(
        session, PingKind.INTRO, f"intro:{facts.channel_id}", now, payload={"channel": facts.channel_id}
    )
    ticket_store.audit(
        session, None, actor.user_id, "channel_connected", now, channel=facts.channel_id,
        company=partner.name, shared=facts.is_shared, teams=sorted(facts.team_ids),
    )  # fmt: skip
    return Connected(channel, partner.name, again)


def disconnect(session: Session, channel_id: str, actor: Actor, now: datetime) -> bool | ChannelRefused:
    """Take the link away (the channel then serves nobody); False when it was not connected."""
    if not actor.is_agent:
        return ChannelRefused(ChannelRefusal.AGENTS_ONLY)
    if not channel_store.set_status(session, channel_id, ChannelStatus.DISCONNECTED, now):
        return False
    ticket_store.audit(session, None, actor.user_id, "channel_disconnected", now, channel=channel_id)
    return True


def sharing_changed(
    session: Session, channel_id: str, team: str, shared: bool, still_external: bool, now: datetime
) -> ChannelStatus | None:
    """Slack's `channel_shared` / `channel_unshared`: the teams the channel connects kept current. When
    no partner team is left the link is marked unshared and the desk lead is told once. The new
    status when it changed, else None (also for a channel that serves no partner)."""
    channel = channel_store.get_channel(session, channel_id)
    if channel is None or channel.status == ChannelStatus.DISCONNECTED:
        return None
    teams = channel.teams | {team} if shared else channel.teams - {team}
    channel_store.set_teams(session, channel_id, teams, shared or still_external, now)
    if shared:
        changed = channel_store.set_status(session, channel_id, ChannelStatus.CONNECTED, now)
        return ChannelStatus.CONNECTED if changed else None
    if teams and still_external:
        return None
    return lost(session, channel_id, ChannelStatus.UNSHARED, now)


def lost(session: Session, channel_id: str, status: ChannelStatus, now: datetime) -> ChannelStatus | None:
    """The channel is unshared, archived or the bot left it: the link is marked, the desk lead told
    once, and its tickets' messages go to the filers' direct messages from then on."""
    channel = channel_store.get_channel(session, channel_id)
    if channel is None or channel.status == ChannelStatus.DISCONNECTED:
        return None
    if not channel_store.set_status(session, channel_id, status, now):
        return None
    partner = session.get(Partner, channel.partner_id)
    company = partner.name if partner else "a partner"
    why = {
        ChannelStatus.UNSHARED: "is no longer shared with",
        ChannelStatus.LEFT: "was archived or left, for",
    }
    text = (
        f":warning: <#{channel_id}> {why.get(status, 'changed for')} {escape(company)}: replies on its "
        "tickets go to the filers' direct messages from now on. Connect another channel with "
        "`/ticket connect COMPANY`."
    )
    key = f"channel-{status.value}:{channel_id}:{now.isoformat()}"
    desk = partner.desk if partner else ""
    ping_store.owe_once(session, PingKind.LEAD_ALERT, key, now, None, text, payload={"desk": desk})
    ticket_store.audit(
        session, None, "slack", f"channel_{status.value}", now, channel=channel_id, company=company
    )
    return status


@dataclass(frozen=True)
class PartnerMessage:
    """A message of a partner channel, as Slack gave it."""

    channel_id: str
    ts: str
    thread_ts: str  # the thread it is in: its own ts for a message of the channel
    author: str | None
    text: str


class OfferRefusal(StrEnum):
    NOT_A_PARTNER_CHANNEL = "not_a_partner_channel"
    ALREADY_A_TICKET = "already_a_ticket"


@dataclass(frozen=True)
class Offered:
    new: bool  # False: offered before (Slack told of it again): nothing more is owed


@dataclass(frozen=True)
class OfferRefused:
    reason: OfferRefusal
    ticket_ref: str = ""


def offer_as_ticket(
    session: Session, message: PartnerMessage, by: str, now: datetime, *, reply: bool = True
) -> Offered | OfferRefused:
    """A partner's message offered as a ticket (a reaction, a mention, the shortcut): recorded once,
    and, unless `reply` is False (the shortcut opens the form itself), the filing buttons owed once in
    its thread, however often Slack delivers the event."""
    channel = channel_store.get_channel(session, message.channel_id)
    if channel is None or channel.status != ChannelStatus.CONNECTED:
        return OfferRefused(OfferRefusal.NOT_A_PARTNER_CHANNEL)
    filed = session.exec(ticket_store.filer_thread_query(message.channel_id, message.thread_ts)).first()
    if filed is not None:
        return OfferRefused(OfferRefusal.ALREADY_A_TICKET, filed.ref)
    _, new = channel_store.record_offer(
        session, message.channel_id, message.ts, message.thread_ts, message.author, message.text, by, now
    )
    if new and reply:
        where = {"channel": message.channel_id, "thread": message.thread_ts, "message": message.ts}
        key = f"offer:{message.channel_id}:{message.ts}"
        ping_store.owe_once(session, PingKind.OFFER, key, now, payload=where)
    if new:
        ticket_store.audit(
            session, None, by, "message_offered", now, channel=message.channel_id, message=message.ts
        )
    return Offered(new)
