"""The desks' calendars and the SLA policy, as the operations and views use them."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.rules.sla import DeskCalendar, SlaPolicy


@dataclass(frozen=True)
class DeskBook:
    calendars: dict[str, DeskCalendar]
    policy: SlaPolicy
    labels: dict[str, str]

    def calendar(self, desk: str) -> DeskCalendar:
        try:
            return self.calendars[desk]
        except KeyError:
            raise ValueError(
                f"unknown desk {desk!r} (expected one of {', '.join(sorted(self.calendars))})"
            ) from None
