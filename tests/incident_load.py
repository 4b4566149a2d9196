"""A mass incident with hundreds of linked tickets, made straight in the store, and how long its claim
and its resolve hold the write lock (the test asserts it, `bench/storm.py` prints it)."""

from __future__ import annotations

import time

import pendulum
from sqlalchemy.engine import Engine

from handlers.operations import incidents as incidents
from handlers.operations import tickets as ops
from storage.db import session_scope
from storage.models import Incident, Ping, Ticket
from tests.helpers import add_companies, desk_policy, load_ticket, seed

NOW = pendulum.parse("2026-11-24T10:00:00+01:00")


def linked_incident(engine: Engine, count: int) -> int:
    """An open incident linking `count` Critical tickets of as many companies, each with its card and
    deadline pings planned, as a storm leaves them."""
    seed(engine)
    add_companies(engine, count)
    with session_scope(engine) as session:
        incident = Incident(
            desk="cet", queue="tech", reason="cloud_unreachable", opened_at=NOW, due_at=NOW.add(minutes=30),
            queue_channel="CTECH", open_key="cet:cloud_unreachable", message_ts="1700000009.000001",
        )  # fmt: skip
        session.add(incident)
        session.flush()
        tickets = [
            Ticket(
                **load_ticket(n, NOW, NOW.add(minutes=30), klass="critical",
                              critical_reason="cloud_unreachable", business_time=False, partner_id=n + 4,
                              incident_id=incident.id, card_ts=f"1700000000.{n:06d}" if n < 3 else None)
            )
            for n in range(count)
        ]  # fmt: skip
        session.add_all(tickets)
        session.flush()
        session.add_all(
            Ping(ticket_id=t.id, kind=kind, seq=seq, planned_at=NOW.add(minutes=minutes),
                 next_attempt_at=NOW.add(minutes=minutes), state="sent" if kind == "card" else "planned")
            for t in tickets
            for kind, seq, minutes in (("card", 0, 0), ("warning", 0, 15), ("breach", 0, 30))
            if kind != "card" or (t.card_ts is not None)
        )  # fmt: skip
        assert incident.id is not None
        return incident.id


def claim_and_resolve_seconds(engine: Engine, incident_id: int) -> tuple[float, float]:
    """Each operation's whole transaction: as long as it holds the store's write lock."""
    desk = desk_policy()
    agent = ops.Actor("UAGENT1", True)
    timings = []
    for operation in ("claim", "resolve"):
        started = time.perf_counter()
        with session_scope(engine) as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None
            if operation == "claim":
                result = incidents.claim(session, desk, incident, agent, NOW.add(minutes=5))
            else:
                result = incidents.resolve(session, desk, incident, agent, "Fixed", NOW.add(minutes=40))
            assert isinstance(result, incidents.IncidentDone), result
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def print_lock_holds(server_url: str | None, count: int = 500) -> list[str]:
    """`bench/storm.py`'s figures for an incident's claim and resolve, on SQLite and PostgreSQL."""
    import tempfile

    from storage.db import make_engine, migrate
    from tests.helpers import _fresh_postgres

    lines = []
    with tempfile.TemporaryDirectory() as folder:
        urls = [("sqlite", f"sqlite:///{folder}/lock.db")] + (
            [("postgresql", server_url)] if server_url else []
        )
        for name, url in urls:
            if name == "postgresql":
                _fresh_postgres(url)
            engine = make_engine(url)
            migrate(engine)
            claim, resolve = claim_and_resolve_seconds(engine, linked_incident(engine, count))
            engine.dispose()
            held = f"claim holds the write lock {claim:.3f} s, resolve {resolve:.3f} s"
            lines.append(f"{name:<10} {count} linked: {held}")
    return lines
