"""What the desk's operations, listeners and delivery need to know of the operator's settings.

Plain values, built once by the composition root (`bot/`) from its settings; nothing here reads the
environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeskContacts:
    lead_group: str | None = None  # Slack user group id (S…) mentioned on breaches
    oncall: str | None = None  # Slack user or channel id paged for after-hours criticals
    report_channel: str | None = None  # the weekly digest's channel


@dataclass(frozen=True)
class DeskConfig:
    tech_channel: str = "CTECH"
    care_channel: str = "CCARE"
    default_desk: str = "cet"
    support_phone: str = "+39 0461 1715010"
    ticket_emoji: str = "ticket"
    # Waiting on the partner (SPEC): a reminder after this many business days, the resolve as "no
    # answer from the partner" this many more after it; 0 turns either off, the switch both.
    waiting_on_partner: bool = True
    partner_reminder_days: int = 3
    partner_auto_resolve_days: int = 5
    reopen_days: int = 14  # a partner writing within this many days of the resolve reopens it
    csat_enabled: bool = True
    csat_answer_days: int = 7  # the last answer within this many days of the question counts
    docs_url: str = "https://manuals.wildix.com/"
    care_faq_url: str = "https://confluence.wildix.com/display/DOC/Customer+Care+FAQ"
    certification_ladder: tuple[str, ...] = ("W-FE", "W-SE", "W-DE")
    certification_minimum: str = "W-FE"
    warning_shares: tuple[float, ...] = (0.5, 0.8)
    escalation_interval_seconds: float = 3600
    escalation_max: int = 3
    agents: frozenset[str] = frozenset()  # agents named in settings, besides the agents table
    contacts: Mapping[str, DeskContacts] = field(default_factory=dict)
    team_id: str = ""  # this workspace, when the operator names it
    worker_interval_seconds: float = 5
    worker_lease_seconds: float = 60
    worker_batch: int = 25
    slack_timeout_seconds: float = 10
    frozen_clock: bool = False  # the clock is set by hand (FROZEN_TIME, `scheduler --now`)
    after_ack_threads: int = 16
    # Mass incidents: this many matching Criticals from different companies within this many minutes.
    incident_min_tickets: int = 3
    incident_window_minutes: float = 15
    # The gap between two messages to one channel (Slack takes about one a second); 0: not paced.
    channel_pace_seconds: float = 1.1

    def queue_channel(self, queue: str) -> str:
        return self.tech_channel if queue == "tech" else self.care_channel
