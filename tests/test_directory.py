"""The partner directory import and the agents list, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from handlers.listeners.common import FORM_LOCK_WAIT_MS
from storage.db import session_scope
from storage.directory import (
    DirectoryError,
    add_agent,
    desk_leads,
    import_directory,
    list_agents,
    member_by_email,
    member_by_slack_id,
    parse_directory_csv,
    remove_agent,
)
from storage.models import Member, Partner
from tests.helpers import DIRECTORY_CSV

HEADER = "company,tier,desk,assigned_partner,email,slack_user_id,certification\n"


def load(engine: Engine, text: str) -> dict[str, int]:
    rows = parse_directory_csv(io.StringIO(text), ["cet", "est"])
    return import_directory(engine, rows)


def counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        return (
            session.exec(select(func.count()).select_from(Partner)).one(),
            session.exec(select(func.count()).select_from(Member)).one(),
        )


def test_import_is_idempotent(engine: Engine) -> None:
    first = load(engine, DIRECTORY_CSV)
    assert first["partners_added"] == 3 and first["members_added"] == 6
    second = load(engine, DIRECTORY_CSV)
    assert second == {"partners_added": 0, "partners_changed": 0, "members_added": 0, "members_changed": 0}
    assert counts(engine) == (3, 6)
    with session_scope(engine) as session:
        dave = member_by_slack_id(session, "UDAVE")
        assert dave is not None
        bronzy = session.get(Partner, dave.partner_id)
        assert bronzy is not None and bronzy.assigned_partner_id is not None
        assert member_by_email(session, "CAROL@acme.example") is not None


def test_import_updates_changed_rows(engine: Engine) -> None:
    load(engine, DIRECTORY_CSV)
    changed = DIRECTORY_CSV.replace("bob@acme.example,UBOB,", "bob@acme.example,UBOB,W-FE")
    result = load(engine, changed)
    assert result["members_changed"] == 1
    with session_scope(engine) as session:
        bob = member_by_slack_id(session, "UBOB")
        assert bob is not None and bob.certification == "W-FE"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("Acme,diamond,cet,,a@acme.example,,", "line 2: unknown tier 'diamond'"),
        ("Acme,gold,tokyo,,a@acme.example,,", "line 2: unknown desk 'tokyo'"),
        ("Acme,gold,cet,,not-an-email,,", "line 2: malformed e-mail"),
        ("Tiny,bronze,cet,,a@tiny.example,,", "line 2: a bronze partner needs an assigned_partner"),
        ("Acme,gold,cet,,a@acme.example,lowercase,", "line 2: slack_user_id"),
    ],
)
def test_bad_rows_are_reported_by_line(row: str, problem: str) -> None:
    with pytest.raises(DirectoryError) as error:
        parse_directory_csv(io.StringIO(HEADER + row + "\n"), ["cet", "est"])
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_bad_file_is_refused_whole(engine: Engine) -> None:
    bad = DIRECTORY_CSV + "Tiny,reseller,cet,Nobody Inc,t@tiny.example,,\n"
    with pytest.raises(DirectoryError) as error:
        load(engine, bad)
    assert error.value.problems == ["line 8: assigned_partner 'Nobody Inc' is not a known partner"]
    assert counts(engine) == (0, 0)


def test_assigned_partner_may_come_from_the_store(engine: Engine) -> None:
    load(engine, DIRECTORY_CSV)
    load(engine, HEADER + "Tiny,reseller,est,acme telecom,t@tiny.example,,\n")
    assert counts(engine) == (4, 7)
    with pytest.raises(DirectoryError, match="expected a platinum or gold partner"):
        load(engine, HEADER + "Tiny2,reseller,est,Silverline,t2@tiny.example,,\n")


def test_header_and_conflicts() -> None:
    with pytest.raises(DirectoryError, match="header"):
        parse_directory_csv(io.StringIO("name,email\n"), ["cet"])
    conflicting = HEADER + "Acme,gold,cet,,a@acme.example,,\nAcme,silver,cet,,b@acme.example,,\n"
    with pytest.raises(DirectoryError, match="line 3: Acme has a different tier"):
        parse_directory_csv(io.StringIO(conflicting), ["cet"])


def test_agents(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_agent(session, "UAGENT1", "cet", True)
        add_agent(session, "UAGENT2", "cet", False)
        add_agent(session, "UAGENT2", "est", True)  # changes, does not duplicate
    with session_scope(engine) as session:
        assert [(a.slack_user_id, a.desk, a.is_lead) for a in list_agents(session)] == [
            ("UAGENT1", "cet", True),
            ("UAGENT2", "est", True),
        ]
        assert desk_leads(session, "est") == ["UAGENT2"]
        assert remove_agent(session, "UAGENT2") and not remove_agent(session, "UNOBODY")


def test_first_import_counts_honestly(engine: Engine) -> None:
    """Setting a new partner's assigned partner is part of adding it, not a change."""
    assert load(engine, DIRECTORY_CSV) == {
        "partners_added": 3,
        "partners_changed": 0,
        "members_added": 6,
        "members_changed": 0,
    }


def test_a_slack_user_under_two_companies_is_refused_with_both_lines() -> None:
    text = HEADER + "Acme,gold,cet,,a@acme.example,UTWICE,W-FE\nBeta,gold,cet,,b@beta.example,UTWICE,W-FE\n"
    with pytest.raises(DirectoryError) as error:
        parse_directory_csv(io.StringIO(text), ["cet"])
    assert error.value.problems == [
        "line 3: slack_user_id UTWICE is already on line 2 (a@acme.example, Acme): "
        "one Slack user is one member of one company"
    ]


def test_a_slack_user_of_another_company_in_the_store_is_refused(engine: Engine) -> None:
    load(engine, DIRECTORY_CSV)
    text = HEADER + "Beta,gold,cet,,new@beta.example,UALICE,W-FE\n"
    with pytest.raises(DirectoryError, match="line 2: slack_user_id UALICE belongs to alice@acme.example"):
        load(engine, text)
    assert counts(engine) == (3, 6)  # nothing written


@pytest.mark.parametrize(
    "lookalike",
    ["Acme\u200b Telecom", "Ａｃｍｅ Telecom", "Acme\u00adTelecom".replace("\u00adT", " \u00adT")],
)
def test_company_names_that_only_look_alike_are_refused(lookalike: str) -> None:
    text = HEADER + f"Acme Telecom,gold,cet,,a@acme.example,,\n{lookalike},gold,cet,,b@acme.example,,\n"
    with pytest.raises(DirectoryError) as error:
        parse_directory_csv(io.StringIO(text), ["cet"])
    [problem] = error.value.problems
    assert problem.startswith("line 3: company") and "look-alike" in problem and "line 2" in problem


def test_a_lookalike_of_a_stored_company_is_refused(engine: Engine) -> None:
    load(engine, DIRECTORY_CSV)
    with pytest.raises(DirectoryError, match="looks like 'Acme Telecom' in the directory"):
        load(engine, HEADER + "Acme Tele\u200bcom,gold,cet,,zed@acme.example,,\n")
    # a difference of letter case alone is the same company, as before
    assert load(engine, HEADER + "ACME TELECOM,gold,cet,,zed@acme.example,,\n")["partners_added"] == 0


@pytest.mark.heavy
def test_a_big_import_holds_the_write_lock_only_briefly(sqlite_url: str) -> None:
    """100,000 members: no write transaction of the import lasts long, and a writer that tries all along
    is never kept waiting as long as a form may wait for a lock (1.5 s), so no filing is answered busy.
    Alone both stay far under these bounds, which leave room for a CI machine whose two cores are busy
    with the other tests (the writer's wait includes sharing the CPU with the import)."""
    import threading
    import time

    from storage.db import make_engine, migrate

    engine = make_engine(sqlite_url)
    migrate(engine)
    text = HEADER + "".join(f"Big Co,gold,cet,,u{n}@big.example,U{n:08d},W-FE\n" for n in range(100_000))
    rows = parse_directory_csv(io.StringIO(text), ["cet"])
    waits: list[float] = []
    done = threading.Event()

    def writer() -> None:
        while not done.is_set():
            started = time.monotonic()
            with session_scope(engine) as session:
                add_agent(session, "UPROBE", "cet", False)
            waits.append(time.monotonic() - started)
            time.sleep(0.005)

    probe = threading.Thread(target=writer)
    probe.start()
    try:
        writes: list[float] = []
        result = import_directory(engine, rows, write_seconds=writes)
    finally:
        done.set()
        probe.join()
    assert result["members_added"] == 100_000 and counts(engine) == (1, 100_000)
    assert len(writes) > 50 and max(writes) < 1.0, f"longest write transaction {max(writes):.3f} s"
    assert len(waits) > 10 and max(waits) < FORM_LOCK_WAIT_MS / 1000, f"longest wait {max(waits):.3f} s"
    engine.dispose()


WITH_TEAMS = """company,tier,desk,assigned_partner,email,slack_user_id,certification,slack_team_id
Acme Telecom,gold,cet,,alice@acme.example,UALICE,W-FE,T0ACME
Acme Telecom,gold,cet,,bob@acme.example,UBOB,,
Silverline,silver,est,,erin@silverline.example,UERIN,W-DE,E0SILVER
"""


def test_an_optional_slack_team_id_column_gives_each_company_its_team(engine: Engine) -> None:
    load(engine, DIRECTORY_CSV)  # a file without the column imports as before
    assert load(engine, WITH_TEAMS)["partners_changed"] == 2
    with session_scope(engine) as session:
        teams = {p.name: p.slack_team_id for p in session.exec(select(Partner))}
    assert teams["Acme Telecom"] == "T0ACME" and teams["Silverline"] == "E0SILVER"
    assert teams["Bronzy Phones"] is None
    load(engine, DIRECTORY_CSV)  # nor does a file without it take the teams away
    with session_scope(engine) as session:
        assert (
            session.exec(select(Partner.slack_team_id).where(Partner.name == "Acme Telecom")).one()
            == "T0ACME"
        )
    assert load(engine, WITH_TEAMS)["partners_changed"] == 0  # idempotent


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Acme Telecom,gold,cet,,carol@acme.example,,W-SE,acme", "is not a Slack team or org id"),
        ("Acme Telecom,gold,cet,,carol@acme.example,,W-SE,T0OTHER", "differs from T0ACME on line 2"),
    ],
)
def test_bad_team_ids_are_refused_by_line(line: str, problem: str) -> None:
    with pytest.raises(DirectoryError) as refused:
        parse_directory_csv(io.StringIO(WITH_TEAMS + line + "\n"), ["cet", "est"])
    assert any(problem in p for p in refused.value.problems), refused.value.problems
