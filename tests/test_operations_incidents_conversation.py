"""Incident and conversation operations on their own, on a store (both stores): no Slack, no listener."""

from __future__ import annotations

import pendulum
from sqlalchemy.engine import Engine
from sqlmodel import select

from handlers.operations import conversation
from handlers.operations import incidents as incident_ops
from handlers.operations import tickets as ops
from handlers.operations.conversation import Author, Carried, SlackMessage
from storage.db import session_scope
from storage.models import Incident, Ping, Ticket
from storage.vocabulary import PingKind, Turn
from tests.helpers import load_ticket, seed
from tests.incident_load import NOW, linked_incident
from tests.test_operations import DESK

AGENT, NOBODY = ops.Actor("UAGENT1", True), ops.Actor("UALICE", False)
LEA = Author("UAGENT1", "lea", True)
ALICE = Author("UALICE", "alice", False, "Acme Telecom")


def kinds(engine: Engine, kind: PingKind) -> list[Ping]:
    with session_scope(engine) as session:
        return list(session.exec(select(Ping).where(Ping.kind == kind.value)))


def test_an_incident_is_claimed_updated_and_resolved_once(engine: Engine) -> None:
    incident_id = linked_incident(engine, 5)
    later = NOW.add(minutes=5)

    def run(operation: str, *args: object) -> incident_ops.IncidentResult:
        with session_scope(engine) as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None
            return getattr(incident_ops, operation)(session, *[a if a != "I" else incident for a in args])

    assert run("claim", DESK, "I", NOBODY, later) == incident_ops.IncidentRefused(
        incident_ops.IncidentRefusal.AGENTS_ONLY, run_incident(engine, incident_id)
    )
    claimed = run("claim", DESK, "I", AGENT, later)
    assert isinstance(claimed, incident_ops.IncidentDone)
    assert (claimed.tally.changed, claimed.tally.met) == (5, 5)
    again = run("claim", DESK, "I", AGENT, later)
    assert isinstance(again, incident_ops.IncidentRefused) and again.holder == "UAGENT1"
    empty = run("update", "I", AGENT, "   ", "key-1", later)
    assert isinstance(empty, incident_ops.IncidentRefused)
    assert empty.reason is incident_ops.IncidentRefusal.EMPTY
    for _ in range(2):  # the same request twice: each partner told once
        run("update", "I", AGENT, "The cloud is back", "key-1", later)
    updates = [p for p in kinds(engine, PingKind.NOTICE) if (p.text or "").find("cloud is back") >= 0]
    assert len(updates) == 5
    resolved = run("resolve", DESK, "I", AGENT, "Fixed", later.add(minutes=30))
    assert isinstance(resolved, incident_ops.IncidentDone) and resolved.tally.changed == 5
    assert isinstance(run("resolve", DESK, "I", AGENT, "Fixed", later), incident_ops.IncidentRefused)
    with session_scope(engine) as session:
        statuses = {t.status for t in session.exec(select(Ticket).where(Ticket.incident_id == incident_id))}
    assert statuses == {"resolved"}


def run_incident(engine: Engine, incident_id: int) -> Incident:
    with session_scope(engine) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return incident


def conversation_ticket(engine: Engine) -> int:
    seed(engine)
    with session_scope(engine) as session:
        ticket = Ticket(
            **load_ticket(
                1, NOW, NOW.add(hours=8), card_ts="1700000000.000001", filer_channel="CPARTNER",
                filer_thread_ts="1700000001.000001",
            )
        )  # fmt: skip
        session.add(ticket)
        session.flush()
        assert ticket.id is not None
        return ticket.id


def carry(engine: Engine, message: SlackMessage, author: Author, at: pendulum.DateTime) -> tuple:  # type: ignore[type-arg]
    with session_scope(engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        return conversation.carry_message(session, ticket, message, author, at, DESK)


def test_the_conversation_copies_each_way_once_and_keeps_notes_internal(engine: Engine) -> None:
    conversation_ticket(engine)
    partner = SlackMessage("CPARTNER", "1795510001.000100", "1700000001.000001", "Still dropping <!here>")
    assert carry(engine, partner, ALICE, NOW.add(minutes=1)) == (Carried.TO_CARD, None)
    assert carry(engine, partner, ALICE, NOW.add(minutes=1)) == (Carried.ALREADY, None)  # delivered twice
    note = SlackMessage("CTECH", "1795510002.000100", "1700000000.000001", "note: trunk looks odd")
    assert carry(engine, note, LEA, NOW.add(minutes=2)) == (Carried.INTERNAL, None)
    answer = SlackMessage("CTECH", "1795510003.000100", "1700000000.000001", "Restarting the trunk")
    assert carry(engine, answer, LEA, NOW.add(minutes=3)) == (Carried.TO_PARTNER, ops.Verdict.MET)
    [to_card] = kinds(engine, PingKind.TO_CARD)
    assert "&lt;!here&gt;" in (to_card.payload or "") and "(Acme Telecom)" in (to_card.payload or "")
    assert len(kinds(engine, PingKind.TO_PARTNER)) == 1
    assert {p.payload and '"lock"' in p.payload for p in kinds(engine, PingKind.REACTION)} == {True, False}
    with session_scope(engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None and ticket.turn == Turn.PARTNER and ticket.first_response_by == "UAGENT1"


def test_an_edit_follows_its_copy_and_a_deletion_before_the_copy_drops_it(engine: Engine) -> None:
    conversation_ticket(engine)
    first = SlackMessage("CPARTNER", "1795510001.000100", "1700000001.000001", "Frist")
    carry(engine, first, ALICE, NOW)
    edited = SlackMessage("CPARTNER", "1795510001.000100", "1700000001.000001", "First")
    with session_scope(engine) as session:
        ticket = session.get(Ticket, 1)
        assert ticket is not None
        assert conversation.carry_edit(session, ticket, edited, ALICE, "1795510009.000100", NOW)
        assert conversation.carry_deletion(session, ticket, "CPARTNER", "1795510001.000100", NOW)
    [copy] = kinds(engine, PingKind.TO_CARD)
    assert "First" in (copy.payload or "")  # the unsent copy was edited
    assert copy.state == "dropped"  # and deleted before it went out
