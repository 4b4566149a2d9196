"""How one attempt at a delivery row ended: what the loop records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto


class State(Enum):
    """How one attempt at a ping ended."""

    SENT = auto()
    RETRY = auto()
    DROPPED = auto()
    FAILED = auto()
    LOST = auto()  # another process holds the ping now: record nothing


@dataclass
class Outcome:
    state: State
    channel: str | None = None
    ts: str | None = None
    retry_in: float = 0.0
    unsure: bool = False
    reason: str = ""
    late: bool = False
    kind: str = ""
    ticket_id: int = 0
    incident_id: int = 0
    permalink: str | None = None
