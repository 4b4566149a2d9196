"""Operator settings, read from the environment and an optional `.env` file.

Everything SPEC marks *default* lives here so an operator can change it without code.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

SLACK_API_DEFAULT = "https://slack.com/api/"
ENV_EXAMPLE = ".env.example"


class DeskSettings(BaseModel):
    """One support team and its business calendar."""

    timezone: str
    country: str | None = None
    label: str = ""
    # Weekly support intervals: weekday (mon..sun) -> list of "HH:MM-HH:MM".
    hours: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    closed_days: list[date] = Field(default_factory=list)
    lead_group: str | None = None  # Slack user group id (S…) mentioned on breaches
    oncall: str | None = None  # Slack user or channel id paged for after-hours criticals
    report_channel: str | None = None  # the lead channel the weekly digest goes to (C…)


def _default_desks() -> dict[str, DeskSettings]:
    return {
        "cet": DeskSettings(timezone="Europe/Rome", country="IT", label="CET"),
        "est": DeskSettings(timezone="America/New_York", country="US", label="EST"),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    # GET /metrics asks for `Authorization: Bearer METRICS_TOKEN` when set (open when empty).
    metrics_token: str = ""
    log_format: str = Field(default="text", pattern="^(text|json)$")  # json: one object a line
    retention_days: int = Field(default=90, ge=1, le=3650)  # posted or dropped delivery rows kept
    slack_app_token: str | None = None
    slack_api_url: str = SLACK_API_DEFAULT

    database_url: str = "sqlite:///sla_desk.db"

    tech_channel: str = ""
    care_channel: str = ""

    desks: dict[str, DeskSettings] = Field(default_factory=_default_desks)
    default_desk: str = "cet"

    support_phone: str = "+39 0461 1715010"
    # A reaction with this emoji on a partner's message in a partner channel offers it as a ticket.
    ticket_emoji: str = "ticket"
    # After the first answer: waiting on the partner, and satisfaction (SPEC).
    waiting_on_partner: bool = True
    partner_reminder_days: int = Field(default=3, ge=0, le=60)
    partner_auto_resolve_days: int = Field(default=5, ge=0, le=60)
    reopen_days: int = Field(default=14, ge=0, le=365)
    csat_enabled: bool = True
    csat_answer_days: int = Field(default=7, ge=1, le=90)
    docs_url: str = "https://manuals.wildix.com/"
    care_faq_url: str = "https://confluence.wildix.com/display/DOC/Customer+Care+FAQ"

    certification_ladder: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["W-FE", "W-SE", "W-DE"]
    )
    certification_minimum: str = "W-FE"

    warning_shares: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [0.5, 0.8])
    escalation_interval_minutes: int = Field(default=60, gt=0)
    escalation_max: int = Field(default=3, ge=0)
    care_business_hours: float = Field(default=9.0, gt=0)
    critical_minutes: int = Field(default=30, gt=0)

    # Comma-separated Slack user ids treated as agents in addition to the agents table.
    agents: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # The worker: how often it looks for due pings, and how long a claimed ping is held.
    worker_enabled: bool = True
    worker_interval_seconds: float = Field(default=5.0, gt=0)
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    worker_batch: int = Field(default=25, gt=0)
    # The longest a Slack Web API call may take; shorter than half a lease, so a post that takes
    # this long still ends while its row is held.
    slack_timeout_seconds: float = Field(default=10.0, gt=0)
    # Mass incidents (SPEC "Mass incidents"): at least N Critical tickets of one desk with the same
    # reason from different companies within M minutes open an incident.
    incident_min_tickets: int = Field(default=3, ge=2)
    incident_window_minutes: float = Field(default=15, gt=0)
    # Slack takes about one message a second per channel: the gap kept between two posts to one
    # channel by all processes together (a little over a second, for network jitter); 0 turns it off.
    channel_pace_seconds: float = Field(default=1.1, ge=0, le=60)
    # This workspace's team id (T…); learned from auth.test at start when empty. Requests from any
    # other workspace are refused.
    slack_team_id: str = ""

    # A fixed instant (ISO-8601) instead of the system clock: for demos and tests only.
    frozen_time: str | None = None

    host: str = "0.0.0.0"
    port: int = Field(default=3000, gt=0, lt=65536)
    server_threads: int = Field(default=16, gt=0)
    log_level: str = "INFO"

    @field_validator("certification_ladder", "agents", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("ticket_emoji")
    @classmethod
    def _emoji_name(cls, value: str) -> str:
        name = value.strip().strip(":")
        if not name or any(c.isspace() or c == ":" for c in name):
            raise ValueError("an emoji's name as Slack spells it, e.g. ticket or :ticket:")
        return name

    @field_validator("warning_shares", mode="before")
    @classmethod
    def _split_shares(cls, value: object) -> object:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("warning_shares")
    @classmethod
    def _shares_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0 < share < 1 for share in value):
            raise ValueError("each share must be between 0 and 1, e.g. 0.5,0.8")
        return sorted(value)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("desks")
    @classmethod
    def _desks_not_empty(cls, value: dict[str, DeskSettings]) -> dict[str, DeskSettings]:
        if not value:
            raise ValueError("at least one desk is needed")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("expected sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        home = project_home()
        path = value.removeprefix("sqlite:///")
        if home and value.startswith("sqlite:///") and path and not path.startswith((":", "/")):
            # One store whichever folder a command is run from: relative to the project.
            value = f"sqlite:///{home / path}"
        return value

    @model_validator(mode="after")
    def _timeout_within_lease(self) -> Settings:
        if self.slack_timeout_seconds * 2 > self.worker_lease_seconds:
            raise ValueError(
                f"SLACK_TIMEOUT_SECONDS ({self.slack_timeout_seconds:g}) must be at most half of "
                f"WORKER_LEASE_SECONDS ({self.worker_lease_seconds:g})"
            )
        return self


class SettingsError(SystemExit):
    """Raised with one human line; SystemExit so the CLI never shows a traceback."""


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]).upper() or "settings"
    return f"Setting {name} is invalid: {first['msg']}"


def project_home() -> Path | None:
    """Where the project lives, when run through its scripts (they set SLA_DESK_HOME)."""
    home = os.environ.get("SLA_DESK_HOME")
    return Path(home) if home else None


def env_files() -> tuple[Path, ...]:
    """The project's .env, then one in the folder the command is run from (which wins)."""
    home = project_home()
    files = [home / ".env"] if home else []
    if not home or Path.cwd().resolve() != home.resolve():
        files.append(Path(".env"))
    return tuple(files)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings(_env_file=env_files())  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
    except PydanticSettingsError as error:
        # e.g. 'error parsing value for field "desks" from source "EnvSettingsSource"'
        field = str(error).split('"')[1].upper() if '"' in str(error) else "settings"
        raise SettingsError(f"Setting {field} is invalid: expected JSON for this setting") from None


def require(settings: Settings, *names: str) -> None:
    """Stop naming every required setting that is empty (all at once, not one per run)."""
    missing = [name for name in names if not getattr(settings, name)]
    for name in missing:
        print(
            f"Setting {name.upper()} is missing: {_HINTS.get(name, 'set it in the environment or .env')}",
            file=sys.stderr,
        )
    if missing:
        print(f"See {ENV_EXAMPLE} for every setting, with examples.", file=sys.stderr)
        raise SystemExit(2)


_HINTS = {
    "slack_bot_token": "expected the bot token (xoxb-…) from the Slack app's OAuth page",
    "slack_signing_secret": "expected the signing secret from the Slack app's Basic Information page",
    "slack_app_token": "expected an app-level token (xapp-…) with connections:write for Socket Mode",
    "tech_channel": "expected the Slack channel id (C…) of the Technical Support queue",
    "care_channel": "expected the Slack channel id (C…) of the Customer Care queue",
}
