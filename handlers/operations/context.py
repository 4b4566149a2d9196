"""What every desk operation is handed besides the session: the operator's settings and the desks'
calendars (`DeskPolicy`), and who acts (`Actor`)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.config import DeskConfig
from handlers.desks import DeskBook


@dataclass(frozen=True)
class DeskPolicy:
    """The plain values the operations need: the operator's settings and the desks' calendars."""

    config: DeskConfig
    desks: DeskBook


@dataclass(frozen=True)
class Actor:
    user_id: str
    is_agent: bool
