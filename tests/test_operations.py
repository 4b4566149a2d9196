"""The desk's operations on a temporary SQLite store: no Slack, no listener, plain values in and out."""

from __future__ import annotations

from collections.abc import Iterator

import pendulum
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from handlers.operations import tickets as ops
from storage.db import make_engine, migrate, session_scope
from storage.directory import member_by_slack_id
from storage.models import Partner, Ping, Ticket
from storage.vocabulary import PingKind, Queue, TicketClass, TicketStatus
from tests.helpers import desk_policy, seed

FILED = pendulum.parse("2026-11-24T10:00:00+01:00")
AGENT, OTHER_AGENT = ops.Actor("UAGENT1", True), ops.Actor("UAGENT2", True)
ALICE, ERIN = ops.Actor("UALICE", False), ops.Actor("UERIN", False)
DESK = desk_policy()


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    migrate(engine)
    seed(engine)
    yield engine
    engine.dispose()


def new_ticket(
    engine: Engine, klass: TicketClass = TicketClass.STANDARD, key: str = "V1"
) -> tuple[int, bool]:
    with session_scope(engine) as session:
        alice = member_by_slack_id(session, "UALICE")
        assert alice is not None
        partner = session.get(Partner, alice.partner_id)
        assert partner is not None
        new = ops.NewTicket(Queue.TECH, klass, "Calls drop", "d", "PBX", None, None)
        ticket, created = ops.file_ticket(session, DESK, "UALICE", partner, new, FILED, submission_key=key)
        return ticket.id or 0, created


def act(engine: Engine, operation: str, ticket_id: int, *args: object) -> ops.Result:
    with session_scope(engine) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return getattr(ops, operation)(
            session, *((ticket,) if operation not in ("reopen", "reclassify") else (DESK, ticket)), *args
        )  # type: ignore[no-any-return]


def test_filing_stores_the_due_time_and_plans_what_the_ticket_owes(store: Engine) -> None:
    ticket_id, created = new_ticket(store)
    assert created and new_ticket(store) == (ticket_id, False)  # the same form files once
    with session_scope(store) as session:
        ticket = session.get(Ticket, ticket_id)
        kinds = sorted((p.kind, p.seq) for p in session.exec(select(Ping)))
    assert ticket is not None and ticket.due_at == pendulum.parse("2026-11-24T18:00:00+01:00")
    assert kinds == sorted(
        [("card", 0), ("confirmation", 0), ("warning", 0), ("warning", 1), ("breach", 0)]
        + [("escalation", n) for n in (1, 2, 3)]
    )


def test_claim_is_the_first_response_and_the_database_decides_races(store: Engine) -> None:
    ticket_id, _ = new_ticket(store)
    refused = act(store, "claim", ticket_id, ALICE, FILED.add(minutes=5))
    assert isinstance(refused, ops.Refused) and refused.reason is ops.Refusal.AGENTS_ONLY
    done = act(store, "claim", ticket_id, AGENT, FILED.add(minutes=5))
    assert isinstance(done, ops.Done) and done.first_response is ops.Verdict.MET
    again = act(store, "claim", ticket_id, OTHER_AGENT, FILED.add(minutes=6))
    assert isinstance(again, ops.Refused) and (again.reason, again.holder) == (ops.Refusal.CLAIMED, "UAGENT1")
    with session_scope(store) as session:
        deadline = session.exec(select(Ping).where(Ping.kind == PingKind.WARNING)).all()
    assert {p.state for p in deadline} == {"dropped"}


def test_only_the_holder_releases_or_resolves_and_the_filer_may_reopen(store: Engine) -> None:
    ticket_id, _ = new_ticket(store)
    act(store, "claim", ticket_id, AGENT, FILED.add(minutes=5))
    refused = act(store, "release", ticket_id, OTHER_AGENT, FILED)
    assert isinstance(refused, ops.Refused) and refused.reason is ops.Refusal.HELD_BY_OTHER
    assert isinstance(act(store, "resolve", ticket_id, AGENT, "fixed <it>", FILED.add(hours=1)), ops.Done)
    assert isinstance(act(store, "reopen", ticket_id, ERIN, FILED), ops.Refused)
    reopened = act(store, "reopen", ticket_id, ALICE, FILED.add(hours=2))
    assert isinstance(reopened, ops.Done)
    assert reopened.ticket.status == TicketStatus.OPEN and reopened.ticket.resolution_note is None
    assert reopened.ticket.reopened_at is not None and reopened.ticket.sla_met is True  # the verdict stands


def test_reclassify_refuses_what_makes_no_sense(store: Engine) -> None:
    ticket_id, _ = new_ticket(store)
    now = FILED.add(minutes=10)
    for klass, reason, expected in [
        ("urgent", None, ops.Refusal.BAD_CLASS),
        ("critical", None, ops.Refusal.BAD_CLASS),
        ("standard", None, ops.Refusal.SAME_CLASS),
    ]:
        result = act(store, "reclassify", ticket_id, AGENT, klass, reason, now)
        assert isinstance(result, ops.Refused) and result.reason is expected
    done = act(store, "reclassify", ticket_id, AGENT, "critical", "call_drops", now)
    assert isinstance(done, ops.Done) and done.due_at == FILED.add(minutes=30)


def test_a_first_response_is_never_before_the_filing(store: Engine) -> None:
    ticket_id, _ = new_ticket(store)
    done = act(store, "claim", ticket_id, AGENT, FILED.subtract(minutes=10))
    assert isinstance(done, ops.Done) and done.ticket.id == ticket_id
    with session_scope(store) as session:
        ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.first_response_at == FILED
