"""Desk calendars and the SLA policy, built once from settings."""

from __future__ import annotations

from bot.settings import Settings
from handlers.desks import DeskBook
from handlers.rules.sla import SlaPolicy, build_calendar


def build_desks(settings: Settings) -> DeskBook:
    calendars = {}
    for name, desk in settings.desks.items():
        try:
            calendars[name] = build_calendar(name, desk.timezone, desk.hours, desk.country, desk.closed_days)
        except Exception as error:  # pendulum and holidays raise their own types
            raise ValueError(f"Setting DESKS is invalid for desk {name!r}: {error}") from None
    policy = SlaPolicy(
        care_business_seconds=settings.care_business_hours * 3600,
        critical_seconds=settings.critical_minutes * 60,
    )
    labels = {name: desk.label or name.upper() for name, desk in settings.desks.items()}
    return DeskBook(calendars, policy, labels)
