"""Table models. Schema changes go through alembic migrations in storage/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from storage.vocabulary import (  # noqa: F401 (the store's callers name them from here too)
    DEADLINE_KINDS,
    ChannelStatus,
    IncidentStatus,
    PingKind,
    PingState,
    TicketStatus,
    Tier,
    Turn,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, hands back aware UTC date-times on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive date-time given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Partner(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    tier: str  # a Tier value
    desk: str
    assigned_partner_id: int | None = Field(default=None, foreign_key="partner.id")
    # The partner's own Slack workspace (T…) or organization (E…), when it has one: its people who are
    # not in the directory may act in its partner channels as unlisted members.
    slack_team_id: str | None = Field(default=None, index=True)


class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    email: str = Field(index=True, unique=True)
    slack_user_id: str | None = Field(default=None, index=True)
    certification: str | None = None


class Agent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slack_user_id: str = Field(index=True, unique=True)
    desk: str
    is_lead: bool = False


class Ticket(SQLModel, table=True):
    __table_args__ = (
        Index("ix_ticket_open_due", "status", "due_at"),
        Index("ix_ticket_desk_filed", "desk", "filed_at"),  # reports: a desk's period
        Index("ix_ticket_desk_reopened", "desk", "reopened_at"),
        # Every message in every channel the bot is in asks "is this a ticket's thread?"
        Index("ix_ticket_card_thread", "queue_channel", "card_ts"),
        Index("ix_ticket_filer_thread", "filer_channel", "filer_thread_ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Slack may deliver one view_submission twice: the view id files one ticket.
    submission_key: str | None = Field(default=None, unique=True)
    queue: str
    queue_channel: str
    topic: str | None = None
    klass: str | None = None
    critical_reason: str | None = None
    subject: str
    description: str = Field(sa_column=Column(Text, nullable=False))
    product: str | None = None
    filer_user_id: str = Field(index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    desk: str
    status: str = TicketStatus.OPEN.value
    filed_at: datetime = _when(nullable=False)
    due_at: datetime = _when(nullable=False)
    business_time: bool = True
    outside_hours: bool = False
    first_response_at: datetime | None = _when()
    first_response_by: str | None = None
    sla_met: bool | None = None
    # Kept when the first response is recorded, so reports never recompute history: business seconds
    # for business-time windows, calendar seconds for Critical.
    first_response_seconds: float | None = None
    claimant_user_id: str | None = None
    resolved_at: datetime | None = _when()
    resolution_note: str | None = None
    resolution_seconds: float | None = None  # filing to the last resolve, calendar time
    reopened_at: datetime | None = _when()
    turn: str = Turn.SUPPORT.value
    turn_since: datetime | None = _when()  # when the turn last changed hands
    # Resolved by the desk itself after the partner left it unanswered (SPEC "waiting on the partner").
    auto_resolved: bool = False
    # Where it is in Slack: its card in the queue channel, and the partner's thread (the confirmation's,
    # or the partner's message it was filed from).
    card_ts: str | None = None
    card_permalink: str | None = None
    filer_channel: str | None = None
    filer_thread_ts: str | None = None
    filer_permalink: str | None = None
    slack_error: str | None = None  # the last refusal of a message Slack could never take
    # The mass incident this ticket is part of: its pings fold into the incident's while linked.
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)

    @property
    def ref(self) -> str:
        return f"T-{self.id}"


class Incident(SQLModel, table=True):
    """Many partners' Critical tickets about one failure (the cloud, a carrier), handled as one."""

    __table_args__ = (Index("ix_incident_desk_opened", "desk", "opened_at"),)

    id: int | None = Field(default=None, primary_key=True)
    desk: str
    queue: str
    reason: str  # the critical reason its tickets share
    status: str = IncidentStatus.OPEN.value
    # "desk:reason" while open, NULL once resolved: the store itself refuses a second open incident.
    open_key: str | None = Field(default=None, unique=True)
    opened_at: datetime = _when(nullable=False)
    due_at: datetime = _when(nullable=False)  # the earliest first-response due of its open tickets
    queue_channel: str
    message_ts: str | None = None
    message_permalink: str | None = None
    claimant_user_id: str | None = None
    claimed_at: datetime | None = _when()
    latest_update: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime | None = _when()
    resolved_at: datetime | None = _when()
    resolved_by: str | None = None
    resolution_note: str | None = Field(default=None, sa_column=Column(Text))

    @property
    def ref(self) -> str:
        return f"I-{self.id}"


class IncidentWatch(SQLModel, table=True):
    """One row per desk and critical reason, locked by each filing that may open an incident, so
    that two processes filing the N-th matching ticket at the same moment decide one after the other."""

    key: str = Field(primary_key=True)
    checked_at: datetime = _when(nullable=False)


class ChannelPace(SQLModel, table=True):
    """When the next message may go to a channel: Slack takes about one a second per channel, and
    every bot process sharing the store takes its turn from this row (under its row lock)."""

    channel: str = Field(primary_key=True)
    next_at: datetime = _when(nullable=False)


class PartnerChannel(SQLModel, table=True):
    """A channel that serves one partner company: usually a Slack Connect channel shared with the
    partner's own workspace, whose team ids it records (kept current from Slack's events)."""

    channel_id: str = Field(primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    status: str = ChannelStatus.CONNECTED.value
    is_shared: bool = False
    team_ids: str = ""  # the external teams (T…) and orgs (E…) it connects, comma-separated
    connected_by: str
    connected_at: datetime = _when(nullable=False)
    changed_at: datetime = _when(nullable=False)
    intro_ts: str | None = None

    @property
    def teams(self) -> set[str]:
        return {team for team in self.team_ids.split(",") if team}


class MessageOffer(SQLModel, table=True):
    """A message of a partner channel offered as a ticket (a reaction, a mention, the shortcut): the
    forms are prefilled from its text, and its thread becomes the ticket's partner thread."""

    channel_id: str = Field(primary_key=True)
    message_ts: str = Field(primary_key=True)
    thread_ts: str  # the thread the message is in (its own ts for a message of the channel)
    author_user_id: str | None = None
    text: str = ""
    offered_by: str
    offered_at: datetime = _when(nullable=False)


class Ping(SQLModel, table=True):
    """Everything the bot owes Slack, one row a message (docs/architecture.md: the delivery state machine)."""

    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "plan", "seq", name="uq_ping_ticket_kind_plan_seq"),
        # A Slack message (or its edit, deletion, mark) is carried over once, however often it arrives.
        UniqueConstraint("kind", "source", name="uq_ping_kind_source"),
        Index("ix_ping_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)  # None: not a ticket's
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)  # an incident's
    kind: str  # a PingKind value
    source: str | None = None  # "CHANNEL:TS" of the Slack message this row carries over
    # Deadline pings belong to one SLA window: a class change starts a new plan, and the old one's
    # pings (sent or not) never stand in for the new window's.
    plan: int = 0
    seq: int = 0
    planned_at: datetime = _when(nullable=False)
    next_attempt_at: datetime = _when(nullable=False)
    state: str = PingState.PLANNED.value
    attempts: int = 0
    # Leases and retry waits are instants on the store's clock (PostgreSQL's when processes share it),
    # never a process's own: two processes whose clocks differ still agree on who holds a row.
    lease_until: datetime | None = _when()
    retry_at: datetime | None = _when()
    # The last attempt may have reached Slack (a timeout after sending): look before posting again.
    unsure: bool = False
    posted_at: datetime | None = _when()
    late: bool = False
    channel: str | None = None
    message_ts: str | None = None
    last_error: str | None = None
    text: str | None = Field(default=None, sa_column=Column(Text))  # what to say, as written
    payload: str | None = Field(default=None, sa_column=Column(Text))  # JSON: what the row carries


class DirectoryStage(SQLModel, table=True):
    """Rows of a directory import on their way in: written in short transactions where nobody looks,
    then made the directory in one short transaction."""

    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(index=True)
    company: str
    email: str
    slack_user_id: str | None = None
    certification: str | None = None


class Heartbeat(SQLModel, table=True):
    """One row `/health` writes to, so a store that reads but can't write is seen as unhealthy."""

    id: int = Field(default=1, primary_key=True)
    at: datetime = _when(nullable=False)


class ResponseWindow(SQLModel, table=True):
    """A next-response window (SPEC "Next response"): opened by the partner message that leaves the
    ticket waiting for support, closed by support's next message to the partner. A ticket has many;
    one open at a time (the partial unique index)."""

    __table_args__ = (
        Index(
            "uq_window_open_per_ticket",
            "ticket_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_window_ticket", "ticket_id", "opened_at"),
        Index("ix_window_opened", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    opened_at: datetime = _when(nullable=False)  # the oldest unanswered partner message
    opened_channel: str
    opened_ts: str  # that message
    due_at: datetime = _when(nullable=False)
    business_time: bool = True
    closed_at: datetime | None = _when()
    closed_by: str | None = None
    met: bool | None = None
    # Kept at the answer, in the window's own time (business seconds, or calendar for Critical).
    elapsed_seconds: float | None = None


class SatisfactionAnswer(SQLModel, table=True):
    """A partner's rating of a resolved ticket (SPEC "Satisfaction"): one row per ticket and resolve;
    the last answer within the answer window replaces the one before."""

    __table_args__ = (UniqueConstraint("ticket_id", "asked_at", name="uq_csat_ticket_asked"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    asked_at: datetime = _when(nullable=False)  # the resolve that asked
    rating: int | None = None  # 1..5; None until answered
    comment: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = _when()
    alerted: bool = False  # a low rating told to the lead channel (once)


class AuditEvent(SQLModel, table=True):
    """Append-only: who did what to which ticket, and refusals (ticket_id empty)."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, index=True)
    at: datetime = _when(nullable=False)
    actor: str
    event: str
    detail: str | None = Field(default=None, sa_column=Column(Text))
