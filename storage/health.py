"""The write /health makes: one row, updated in place."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import Heartbeat


def write_heartbeat(session: Session, at: datetime) -> None:
    beat = session.get(Heartbeat, 1)
    if beat is None:
        session.add(Heartbeat(id=1, at=at))
    else:
        beat.at = at
        session.add(beat)
    session.flush()
