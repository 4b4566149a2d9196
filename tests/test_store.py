"""The store's named queries on their own, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from sqlalchemy.engine import Engine

from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.models import PingKind, PingState, Ticket
from storage.pings import PlannedPing
from tests.conftest import load_ticket, seed

NOW = pendulum.parse("2026-11-30T12:00:00+01:00")


def new_ticket(engine: Engine, key: str | None = "V1") -> int:
    with session_scope(engine) as session:
        ticket, created = ticket_store.create_ticket(
            session, Ticket(submission_key=key, **load_ticket(1, NOW, NOW.add(hours=6)))
        )
        assert ticket.id is not None
        return ticket.id


def test_a_submission_key_files_one_ticket(engine: Engine) -> None:
    seed(engine)
    first = new_ticket(engine)
    assert new_ticket(engine) == first
    assert new_ticket(engine, key=None) != first


def test_conditional_changes_decide_in_the_database(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    with session_scope(engine) as session:
        Done, Conflict = ticket_store.ChangeResult.DONE, ticket_store.ChangeResult.CONFLICT
        assert ticket_store.claim_ticket(session, ticket_id, "UAGENT1", NOW) is Done
        assert ticket_store.claim_ticket(session, ticket_id, "UAGENT2", NOW) is Conflict
        assert ticket_store.release_ticket(session, ticket_id, "UAGENT2") is Conflict
        assert ticket_store.resolve_ticket(session, ticket_id, "UAGENT1", "ok", NOW) is Done
        assert ticket_store.resolve_ticket(session, ticket_id, "UAGENT1", "ok", NOW) is Conflict
        assert ticket_store.reopen_ticket(session, ticket_id) is Done
        assert ticket_store.claim_ticket(session, 999, "UAGENT1", NOW) is ticket_store.ChangeResult.NOT_FOUND
        ticket = ticket_store.get_ticket(session, ticket_id)
        assert ticket is not None
        assert ticket_store.record_first_response(session, ticket, "UAGENT1", NOW)
        assert not ticket_store.record_first_response(session, ticket, "UAGENT2", NOW.add(minutes=1))
    with session_scope(engine) as session:
        ticket = ticket_store.get_ticket(session, ticket_id)
        assert ticket is not None and ticket.first_response_by == "UAGENT1" and ticket.sla_met is True
        assert [e.event for e in ticket_store.audit_trail(session, ticket_id)] == []


def test_replanning_keeps_what_was_posted(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    plan = [
        PlannedPing(PingKind.WARNING, 0, NOW),
        PlannedPing(PingKind.BREACH, 0, NOW.add(hours=1)),
        PlannedPing(PingKind.ESCALATION, 1, NOW.add(hours=2)),
    ]
    with session_scope(engine) as session:
        assert ping_store.plan_deadline_pings(session, ticket_id, plan) == 3
    with session_scope(engine) as session:
        [claim] = ping_store.claim_due(session, NOW, timedelta(seconds=60), 10)
        assert ping_store.mark_sent(session, claim, "CTECH", "1.1", NOW, late=False)
    with session_scope(engine) as session:
        replanned = [
            PlannedPing(PingKind.WARNING, 0, NOW.add(minutes=5)),
            PlannedPing(PingKind.BREACH, 0, NOW.add(minutes=30)),
        ]
        assert ping_store.plan_deadline_pings(session, ticket_id, replanned) == 0
        states = {(p.kind, p.seq): (p.state, p.planned_at) for p in ping_store.pings_for(session, ticket_id)}
    assert states[("warning", 0)] == (PingState.SENT, NOW)
    assert states[("breach", 0)] == (PingState.PLANNED, NOW.add(minutes=30))
    assert states[("escalation", 1)][0] == PingState.DROPPED


def test_claims_lease_and_fence(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    lease = timedelta(seconds=60)
    with session_scope(engine) as session:
        ping_store.owe(session, ticket_id, PingKind.CARD, NOW, once=True)
        assert ping_store.owe(session, ticket_id, PingKind.CARD, NOW, once=True) is None
    with session_scope(engine) as session:
        [first] = ping_store.claim_due(session, NOW, lease, 10)
        assert not first.in_flight
        assert ping_store.claim_due(session, NOW.add(seconds=30), lease, 10) == []  # held
    with session_scope(engine) as session:
        [second] = ping_store.claim_due(session, NOW.add(seconds=61), lease, 10)  # the holder died
        assert second.in_flight and second.attempts == 2
        assert not ping_store.mark_sent(session, first, "C", "1.1", NOW, late=False)  # fenced off
        assert ping_store.mark_retry(session, second, NOW.add(minutes=5), "500")
    with session_scope(engine) as session:
        assert ping_store.claim_due(session, NOW.add(seconds=62), lease, 10) == []
        [third] = ping_store.claim_due(session, NOW.add(minutes=6), lease, 10)
        assert not third.in_flight
        assert [p.state for p in ping_store.pings_for(session, ticket_id)] == [PingState.SENDING]


def test_notices_owed_at_the_same_moment_both_stand(engine: Engine) -> None:
    import threading

    seed(engine)
    ticket_id = new_ticket(engine)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def owe_notice(n: int) -> None:
        try:
            with session_scope(engine) as session:
                ping_store.pings_for(session, ticket_id)
                if engine.dialect.name == "postgresql":  # all read before any writes (SQLite: one writer)
                    barrier.wait(timeout=10)
                ping_store.owe(session, ticket_id, PingKind.NOTICE, NOW, text=f"notice {n}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=owe_notice, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(engine) as session:
        notices = [p for p in ping_store.pings_for(session, ticket_id) if p.kind == PingKind.NOTICE]
    assert sorted(p.seq for p in notices) == [0, 1, 2, 3]
