"""The store's named queries on their own, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import pings as ping_store
from storage import tickets as ticket_store
from storage.db import session_scope
from storage.models import PingKind, PingState, Ticket
from storage.pings import PlannedPing
from tests.helpers import load_ticket, seed

NOW = pendulum.parse("2026-11-30T12:00:00+01:00")
LEASE = timedelta(seconds=60)


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
        assert ticket_store.claim_ticket(session, ticket_id, "UAGENT1") is Done
        assert ticket_store.claim_ticket(session, ticket_id, "UAGENT2") is Conflict
        assert ticket_store.release_ticket(session, ticket_id, "UAGENT2") is Conflict
        assert ticket_store.resolve_ticket(session, ticket_id, "UAGENT1", "ok", NOW) is Done
        assert ticket_store.resolve_ticket(session, ticket_id, "UAGENT1", "ok", NOW) is Conflict
        assert ticket_store.reopen_ticket(session, ticket_id, NOW) is Done
        assert ticket_store.claim_ticket(session, 999, "UAGENT1") is ticket_store.ChangeResult.NOT_FOUND
        ticket = ticket_store.get_ticket(session, ticket_id)
        assert ticket is not None
        assert ticket_store.record_first_response(session, ticket, "UAGENT1", NOW)
        assert not ticket_store.record_first_response(session, ticket, "UAGENT2", NOW.add(minutes=1))
    with session_scope(engine) as session:
        ticket = ticket_store.get_ticket(session, ticket_id)
        assert ticket is not None and ticket.first_response_by == "UAGENT1" and ticket.sla_met is True
        assert [e.event for e in ticket_store.audit_trail(session, ticket_id)] == []


def claim(session: Session, at: pendulum.DateTime, lease: timedelta = LEASE) -> list[ping_store.Claimed]:
    """Claims with the app's and the store's clock agreeing (as in one process)."""
    return ping_store.claim_due(session, at, at, lease, 10)


def test_a_new_window_replaces_the_old_plan_and_keeps_what_was_posted(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    plan = [
        PlannedPing(PingKind.WARNING, 0, NOW),
        PlannedPing(PingKind.BREACH, 0, NOW.add(hours=1)),
        PlannedPing(PingKind.ESCALATION, 1, NOW.add(hours=2)),
    ]
    with session_scope(engine) as session:
        ping_store.plan_new_ticket(session, ticket_id, plan)
    with session_scope(engine) as session:
        [first] = claim(session, NOW)
        assert ping_store.mark_sent(session, first, "CTECH", "1.1", NOW, late=False)
    with session_scope(engine) as session:
        replanned = [
            PlannedPing(PingKind.WARNING, 0, NOW.add(minutes=5)),
            PlannedPing(PingKind.BREACH, 0, NOW.add(minutes=30)),
        ]
        assert ping_store.replan_deadline_pings(session, ticket_id, replanned) == 1
        states = {
            (p.plan, p.kind, p.seq): (p.state, p.planned_at) for p in ping_store.pings_for(session, ticket_id)
        }
    assert states[(0, "warning", 0)] == (PingState.SENT, NOW)  # posted: kept, and not standing in
    assert states[(0, "breach", 0)][0] == PingState.DROPPED
    assert states[(0, "escalation", 1)][0] == PingState.DROPPED
    assert states[(1, "warning", 0)] == (PingState.PLANNED, NOW.add(minutes=5))  # the new window's
    assert states[(1, "breach", 0)] == (PingState.PLANNED, NOW.add(minutes=30))


def test_after_downtime_only_the_most_advanced_ping_goes_out(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    plan = [
        PlannedPing(PingKind.WARNING, 0, NOW),
        PlannedPing(PingKind.WARNING, 1, NOW.add(minutes=10)),
        PlannedPing(PingKind.BREACH, 0, NOW.add(minutes=20)),
        PlannedPing(PingKind.ESCALATION, 1, NOW.add(hours=2)),
    ]
    with session_scope(engine) as session:
        ping_store.plan_new_ticket(session, ticket_id, plan)
    later = NOW.add(minutes=30)
    with session_scope(engine) as session:
        pings = {(p.kind, p.seq): p for p in ping_store.pings_for(session, ticket_id)}
        assert ping_store.earlier_due_deadline_pings(session, pings[("warning", 0)], later) == (True, 0)
        assert ping_store.earlier_due_deadline_pings(session, pings[("breach", 0)], later) == (False, 2)


def test_claims_lease_hold_and_fence(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    with session_scope(engine) as session:
        ping_store.owe(session, ticket_id, PingKind.CARD, NOW, once=True)
        assert ping_store.owe(session, ticket_id, PingKind.CARD, NOW, once=True) is None
    with session_scope(engine) as session:
        [first] = claim(session, NOW)
        assert not first.in_flight
        assert claim(session, NOW.add(seconds=30)) == []  # held
        assert ping_store.hold(session, first, NOW.add(seconds=30), LEASE)  # still ours: lease renewed
        assert claim(session, NOW.add(seconds=61)) == []  # renewed at +30 s: held until +90 s
    with session_scope(engine) as session:
        [second] = claim(session, NOW.add(seconds=91))  # the holder is too slow, or died
        assert second.in_flight and second.attempts == 2
        assert not ping_store.hold(session, first, NOW.add(seconds=92), LEASE)  # never posts it then
        assert not ping_store.mark_sent(session, first, "C", "1.1", NOW, late=False)  # fenced off
        assert ping_store.mark_retry(session, second, NOW.add(minutes=5), "500", unsure=False)
    with session_scope(engine) as session:
        assert claim(session, NOW.add(seconds=92)) == []  # waits for its retry time
        [third] = claim(session, NOW.add(minutes=6))
        assert not third.in_flight
        assert [p.state for p in ping_store.pings_for(session, ticket_id)] == [PingState.SENDING]


def test_a_lease_that_ran_out_cannot_be_renewed(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    with session_scope(engine) as session:
        ping_store.owe(session, ticket_id, PingKind.NOTICE, NOW, text="hi")
    with session_scope(engine) as session:
        [held] = claim(session, NOW)
        assert not ping_store.hold(session, held, NOW.add(seconds=60), LEASE)  # exactly at expiry: lost


def test_a_post_that_may_have_happened_is_looked_for_on_the_next_attempt(engine: Engine) -> None:
    seed(engine)
    ticket_id = new_ticket(engine)
    with session_scope(engine) as session:
        ping_store.owe(session, ticket_id, PingKind.NOTICE, NOW, text="hi")
    with session_scope(engine) as session:
        [held] = claim(session, NOW)
        assert ping_store.mark_retry(session, held, NOW.add(seconds=2), "timed out", unsure=True)
    with session_scope(engine) as session:
        [again] = claim(session, NOW.add(seconds=3))
        assert again.in_flight


def test_leases_follow_the_store_clock_not_the_process_clock(engine: Engine) -> None:
    """A process whose clock runs two minutes ahead does not take over rows another one holds."""
    seed(engine)
    ticket_id = new_ticket(engine)
    with session_scope(engine) as session:
        ping_store.owe(session, ticket_id, PingKind.NOTICE, NOW, text="hi")
    with session_scope(engine) as session:
        store_time = ping_store.store_now(session)
        assert abs((store_time - pendulum.now("UTC")).total_seconds()) < 5
        [held] = ping_store.claim_due(session, NOW, store_time, LEASE, 10)
    with session_scope(engine) as session:
        ahead = NOW.add(minutes=2)  # its due times run ahead; its leases don't
        assert ping_store.claim_due(session, ahead, ping_store.store_now(session), LEASE, 10) == []
        assert ping_store.hold(session, held, ping_store.store_now(session), LEASE)


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


def test_a_thread_finds_its_ticket_through_an_index_on_postgresql(pg_engine: Engine) -> None:
    """Every threaded message in every channel the bot is in asks for its ticket: never a scan."""
    from sqlalchemy import text

    seed(pg_engine)
    with session_scope(pg_engine) as session:
        session.add_all(
            Ticket(
                **load_ticket(
                    n,
                    NOW,
                    NOW.add(hours=6),
                    card_ts=f"1700000000.{n:06d}",
                    filer_channel=f"CP{n % 50}",
                    filer_thread_ts=f"1700000001.{n:06d}",
                )
            )
            for n in range(3000)
        )
    with session_scope(pg_engine) as session:
        session.execute(text("ANALYZE ticket"))
        found = ticket_store.ticket_by_thread(session, "CP7", "1700000001.000007")
        assert found is not None and found.subject == "Load 7"
        assert ticket_store.ticket_by_thread(session, "CTECH", "1700000000.000009") is not None
        plans = {}
        for name, query in (
            ("ix_ticket_card_thread", ticket_store.card_thread_query("CTECH", "1700000000.000009")),
            ("ix_ticket_filer_thread", ticket_store.filer_thread_query("CP7", "1700000001.000007")),
        ):
            compiled = query.compile(pg_engine, compile_kwargs={"literal_binds": True})
            plans[name] = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
        for index, plan in plans.items():
            assert index in plan and "Seq Scan" not in plan, plan


def test_migration_0007_moves_json_payloads_out_of_text(tmp_path: object) -> None:
    """Ping.text held either text or JSON told apart by "{": the JSON moves to its own column."""
    from alembic import command
    from sqlalchemy import text

    from storage.db import alembic_config, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    command.upgrade(alembic_config(engine), "0006")
    with engine.begin() as connection:
        for n, body in enumerate(['{"text": "a copy"}', "plain words"]):
            connection.execute(
                text(
                    "INSERT INTO ping (kind, plan, seq, planned_at, next_attempt_at, state, attempts, "
                    "unsure, late, text) VALUES ('notice', 0, :n, '2026-11-24 09:00:00', "
                    "'2026-11-24 09:00:00', 'planned', 0, 0, 0, :body)"
                ),
                {"n": n, "body": body},
            )
    migrate(engine)
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT text, payload FROM ping ORDER BY seq")).all()
    assert rows == [(None, '{"text": "a copy"}'), ("plain words", None)]
    engine.dispose()
