"""The desk's words, one place for all: queues, classes, statuses, tiers, ping kinds and states.

The lowest layer, so that the rules, the views and the store all compare against the same values.
"""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    TECH = "tech"
    CARE = "care"


class TicketClass(StrEnum):
    STANDARD = "standard"
    CRITICAL = "critical"


class TicketStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


OPEN_STATES = (TicketStatus.OPEN, TicketStatus.CLAIMED)


class Tier(StrEnum):
    PLATINUM = "platinum"
    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"
    RESELLER = "reseller"


# Bronze partners and resellers are referred to an assigned partner, which is Platinum or Gold.
REFERRED_TIERS = frozenset({Tier.BRONZE, Tier.RESELLER})
REFERRAL_TIERS = frozenset({Tier.PLATINUM, Tier.GOLD})


class PingKind(StrEnum):
    CARD = "card"  # the ticket card in the queue channel
    CARD_UPDATE = "card_update"  # re-render the card in place
    CONFIRMATION = "confirmation"  # the filer's receipt, in the channel they filed from
    PAGE = "page"  # the on-call page for an after-hours critical
    NOTICE = "notice"  # a line into the filer's thread (claimed, resolved, reopened)
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    LEAD_ALERT = "lead_alert"  # "the bot can't post in #channel", once, to the desk lead
    # The conversation: each keyed by the Slack message it comes from (`Ping.source`).
    TO_CARD = "to_card"  # a message of the partner's thread, copied into the card thread
    TO_PARTNER = "to_partner"  # an agent's card-thread message, sent to the partner's thread
    EDIT = "edit"  # an edit carried over to its copy
    DELETE = "delete"  # a deletion carried over to its copy
    REACTION = "reaction"  # marks a card-thread message: sent to the partner, or kept internal
    NOTE = "note"  # an internal note posted with `/ticket note`
    DIRECT = "direct"  # a direct message: an answer to a DM, a reassigned ticket's new holder
    REPORT = "report"  # a report's chart and CSV, uploaded to the agent who asked
    DIGEST = "digest"  # the weekly digest, to a desk's lead channel
    # A mass incident's own rows (`Ping.incident_id`): its message in the queue channel, and that
    # message re-rendered in place; its page and deadline series reuse PAGE, WARNING, BREACH, ESCALATION.
    INCIDENT = "incident"
    INCIDENT_UPDATE = "incident_update"
    # A partner channel (Slack Connect): its intro message, and that message pinned.
    INTRO = "intro"
    PIN = "pin"
    OFFER = "offer"  # the filing buttons, in the thread of a partner's message offered as a ticket
    # After the first answer (`Ping.plan` is the next-response window's id): its deadline series.
    NEXT_WARNING = "next_warning"
    NEXT_BREACH = "next_breach"
    NEXT_ESCALATION = "next_escalation"
    # Waiting on the partner: one reminder in their thread, then the resolve as "no answer".
    REMINDER = "reminder"
    AUTO_RESOLVE = "auto_resolve"
    CSAT = "csat"  # "How did we do?" in the partner's thread, after a resolve
    CSAT_ALERT = "csat_alert"  # a low rating, to the desk's lead channel, once


class PingState(StrEnum):
    """Where a delivery row is in its life; docs/architecture.md draws every move between them."""

    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"  # permanent: a channel the bot can't reach; reported to the lead


# Copies of people's messages, in the order they were written within a thread.
COPY_KINDS = (PingKind.TO_CARD, PingKind.TO_PARTNER)


# Pings that exist because the first response is late: dropped once it arrives.
DEADLINE_KINDS = (PingKind.WARNING, PingKind.BREACH, PingKind.ESCALATION)
# ... and because a next response is: dropped once support answers the partner.
NEXT_KINDS = (PingKind.NEXT_WARNING, PingKind.NEXT_BREACH, PingKind.NEXT_ESCALATION)
# The first-response kind each next-response kind is worded and planned like.
NEXT_KIND_OF = dict(zip(DEADLINE_KINDS, NEXT_KINDS, strict=True))
# Waiting on the partner: dropped once the partner writes (or the ticket is resolved).
WAITING_KINDS = (PingKind.REMINDER, PingKind.AUTO_RESOLVE)


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# The critical reasons that many partners report at once when the vendor's cloud or a carrier fails.
INCIDENT_REASONS = ("cloud_unreachable", "call_drops")


class Turn(StrEnum):
    """Whose move it is in the conversation."""

    SUPPORT = "support"  # the partner wrote last (or nobody yet)
    PARTNER = "partner"  # support wrote last


# What a person may type where one of these is asked for.
QUEUE_WORDS = frozenset(queue.value for queue in Queue)
CLASS_WORDS = frozenset(klass.value for klass in TicketClass)


# Why a deadline ping was not posted: a later one of the same plan went out instead (the store counts
# the pings missed meanwhile by it).
SUPERSEDED = "superseded by a later ping of the same ticket"


class ChannelStatus(StrEnum):
    """A partner channel's link to its company."""

    CONNECTED = "connected"
    UNSHARED = "unshared"  # no longer shared with the partner's workspace
    LEFT = "left"  # the bot is no longer in it, or it was archived
    DISCONNECTED = "disconnected"  # an agent took the link away
