"""The partner directory: companies, their members, and the support agents."""

from __future__ import annotations

import csv
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from sqlalchemy import delete, insert, or_
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import reading, session_scope
from storage.models import Agent, DirectoryStage, Member, Partner
from storage.vocabulary import REFERRAL_TIERS, REFERRED_TIERS, Tier

CSV_HEADER = ("company", "tier", "desk", "assigned_partner", "email", "slack_user_id", "certification")
# An optional last column: the partner's own Slack workspace (T…) or organization (E…).
TEAM_COLUMN = "slack_team_id"
SLACK_TEAM = re.compile(r"^[TE][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}$")
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class DirectoryRow:
    line: int
    company: str
    tier: str
    desk: str
    assigned_partner: str | None
    email: str
    slack_user_id: str | None
    certification: str | None
    slack_team_id: str | None = None  # the company's, carried on its rows


class DirectoryError(ValueError):
    """A file that can't be imported; `problems` are 'line N: …' strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_directory_csv(lines: Iterable[str], desks: Iterable[str]) -> list[DirectoryRow]:
    """Parse and check a directory file on its own (references to the store are checked on import)."""
    desk_names = set(desks)
    reader = csv.reader(lines)
    columns = _columns(next(reader, None))
    rows: list[DirectoryRow] = []
    problems: list[str] = []
    seen_emails: dict[str, int] = {}
    seen_slack_ids: dict[str, DirectoryRow] = {}
    for index, record in enumerate(reader, start=2):
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(columns):
            problems.append(f"line {index}: expected {len(columns)} fields, found {len(record)}")
            continue
        company, tier, desk, assigned, email, slack_id, certification, *rest = (f.strip() for f in record)
        team = rest[0] if rest else ""
        if team and not SLACK_TEAM.match(team):
            problems.append(f"line {index}: slack_team_id {team!r} is not a Slack team or org id (T… or E…)")
        tier, desk, email = tier.lower(), desk.lower(), email.lower()
        if not company:
            problems.append(f"line {index}: company is empty")
        if tier not in {t.value for t in Tier}:
            problems.append(f"line {index}: unknown tier {tier!r} (expected one of {_tiers()})")
        if desk not in desk_names:
            problems.append(
                f"line {index}: unknown desk {desk!r} (expected one of {', '.join(sorted(desk_names))})"
            )
        if not EMAIL.match(email):
            problems.append(f"line {index}: malformed e-mail {email!r}")
        elif email in seen_emails:
            problems.append(f"line {index}: e-mail {email} already on line {seen_emails[email]}")
        else:
            seen_emails[email] = index
        if slack_id and not SLACK_USER.match(slack_id):
            problems.append(f"line {index}: slack_user_id {slack_id!r} is not a Slack user id (U…)")
        elif slack_id and slack_id in seen_slack_ids:
            earlier = seen_slack_ids[slack_id]
            problems.append(
                f"line {index}: slack_user_id {slack_id} is already on line {earlier.line} "
                f"({earlier.email}, {earlier.company}): one Slack user is one member of one company"
            )
        if tier in REFERRED_TIERS and not assigned:
            problems.append(f"line {index}: a {tier} partner needs an assigned_partner")
        if tier not in REFERRED_TIERS and assigned:
            problems.append(f"line {index}: only bronze and reseller partners have an assigned_partner")
        row = DirectoryRow(
            index, company, tier, desk, assigned or None, email, slack_id or None, certification or None,
            team or None,
        )  # fmt: skip
        rows.append(row)
        if slack_id:
            seen_slack_ids.setdefault(slack_id, row)
    problems.extend(_company_conflicts(rows))
    rows, team_problems = _company_teams(rows)
    problems.extend(team_problems)
    if problems:
        raise DirectoryError(problems)
    return rows


def _columns(header: list[str] | None) -> tuple[str, ...]:
    """The header: SPEC's columns, then, optionally, the partner's Slack team."""
    columns = tuple(h.strip().lower() for h in header or ())
    if columns not in (CSV_HEADER, (*CSV_HEADER, TEAM_COLUMN)):
        raise DirectoryError(
            [f"line 1: the header must be exactly {','.join(CSV_HEADER)} (then, optionally, ,{TEAM_COLUMN})"]
        )
    return columns


def _company_teams(rows: list[DirectoryRow]) -> tuple[list[DirectoryRow], list[str]]:
    """A company has one Slack team: given on any of its lines, carried on all of them."""
    teams: dict[str, DirectoryRow] = {}
    problems = []
    for row in rows:
        if not row.slack_team_id:
            continue
        first = teams.setdefault(company_key(row.company), row)
        if first.slack_team_id != row.slack_team_id:
            problems.append(
                f"line {row.line}: slack_team_id {row.slack_team_id} differs from {first.slack_team_id} "
                f"on line {first.line} for the same company"
            )
    carried = [
        replace(row, slack_team_id=teams[key].slack_team_id)
        if (key := company_key(row.company)) in teams
        else row
        for row in rows
    ]
    return carried, problems


def _tiers() -> str:
    return ", ".join(t.value for t in Tier)


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\ufeff"))


def company_key(name: str) -> str:
    """How company names are compared: NFKC-normalised, case-folded, without invisible characters."""
    return " ".join(unicodedata.normalize("NFKC", name).translate(_INVISIBLE).casefold().split())


def looks_alike(name: str, other: str) -> bool:
    """Two names that compare equal but are not the same text beyond letter case."""
    return company_key(name) == company_key(other) and name.casefold() != other.casefold()


def _company_conflicts(rows: list[DirectoryRow]) -> list[str]:
    first: dict[str, DirectoryRow] = {}
    problems = []
    for row in rows:
        earlier = first.setdefault(company_key(row.company), row)
        if looks_alike(row.company, earlier.company):
            problems.append(
                f"line {row.line}: company {row.company!r} looks like {earlier.company!r} on line "
                f"{earlier.line} but is written with other (invisible or look-alike) characters"
            )
        elif (earlier.tier, earlier.desk, earlier.assigned_partner) != (
            row.tier,
            row.desk,
            row.assigned_partner,
        ):
            problems.append(
                f"line {row.line}: {row.company} has a different tier, desk or assigned_partner "
                f"than on line {earlier.line}"
            )
    return problems


STAGE_CHUNK = 2_000  # rows staged per transaction: a few milliseconds of SQLite's write lock each


@dataclass
class ImportPlan:
    """What an import changes, worked out from a read of the store (no lock held)."""

    import_id: str
    partners: dict[str, DirectoryRow]  # company key -> its first row
    stored: dict[str, Partner]  # company key -> the stored partner
    counts: dict[str, int]


def import_directory(
    engine: Engine,
    rows: list[DirectoryRow],
    progress: Callable[[int], None] | None = None,
    write_seconds: list[float] | None = None,
) -> dict[str, int]:
    """Upsert partners and members; raises DirectoryError (and writes nothing) on a bad file.

    All or nothing for users, without holding the write lock for long: rows are staged in short
    transactions where nobody looks, then one short set-based transaction makes them the directory.
    `write_seconds` collects how long each write transaction took (each holds SQLite's write lock).
    """
    timings = write_seconds if write_seconds is not None else []
    with session_scope(reading(engine)) as session:
        plan = _plan_import(session, rows)
    try:
        for start in range(0, len(rows), STAGE_CHUNK):
            chunk = [_staged(plan, row) for row in rows[start : start + STAGE_CHUNK]]
            began = time.monotonic()
            with engine.begin() as connection:  # Core, not the ORM: the lock is held for the insert alone
                connection.execute(insert(DirectoryStage.__table__), chunk)  # type: ignore[attr-defined]
            timings.append(time.monotonic() - began)
            if progress:
                progress(start + len(chunk))
        began = time.monotonic()
        with session_scope(engine) as session:
            _apply(session, plan)
        timings.append(time.monotonic() - began)
    finally:
        began = time.monotonic()
        _unstage(engine, plan.import_id)
        timings.append(time.monotonic() - began)
    return plan.counts


def _staged(plan: ImportPlan, row: DirectoryRow) -> dict[str, object]:
    key = company_key(row.company)
    stored = plan.stored.get(key)
    return {
        "import_id": plan.import_id,
        "company": stored.name if stored else plan.partners[key].company,
        "email": row.email,
        "slack_user_id": row.slack_user_id,
        "certification": row.certification,
    }


def _plan_import(session: Session, rows: list[DirectoryRow]) -> ImportPlan:
    stored = {company_key(p.name): p for p in session.exec(select(Partner)).all()}
    by_id = {p.id: p for p in stored.values()}
    partners: dict[str, DirectoryRow] = {}
    for row in rows:
        partners.setdefault(company_key(row.company), row)
    problems = _reference_problems(rows, partners, stored)
    problems += _store_conflicts(session, rows, by_id)
    if problems:
        raise DirectoryError(problems)
    counts = {"partners_added": 0, "partners_changed": 0, "members_added": 0, "members_changed": 0}
    for key, row in partners.items():
        partner = stored.get(key)
        if partner is None:
            counts["partners_added"] += 1
            continue
        assigned = by_id.get(partner.assigned_partner_id)
        was = (partner.tier, partner.desk, company_key(assigned.name) if assigned else None)
        team = row.slack_team_id or partner.slack_team_id
        now = (row.tier, row.desk, company_key(row.assigned_partner) if row.assigned_partner else None)
        if was != now or team != partner.slack_team_id:
            counts["partners_changed"] += 1
    members = {m.email: m for m in session.exec(select(Member)).all()}
    for row in rows:
        member = members.get(row.email)
        partner = stored.get(company_key(row.company))
        if member is None:
            counts["members_added"] += 1
        elif (member.partner_id, member.slack_user_id, member.certification) != (
            partner.id if partner else None,
            row.slack_user_id,
            row.certification,
        ):
            counts["members_changed"] += 1
    return ImportPlan(uuid.uuid4().hex, partners, stored, counts)


def _reference_problems(
    rows: list[DirectoryRow], partners: dict[str, DirectoryRow], stored: dict[str, Partner]
) -> list[str]:
    problems = []
    for key, row in partners.items():
        if key in stored and looks_alike(row.company, stored[key].name):
            problems.append(
                f"line {row.line}: company {row.company!r} looks like {stored[key].name!r} in the "
                "directory but is written with other (invisible or look-alike) characters"
            )
    for row in rows:
        if not row.assigned_partner:
            continue
        key = company_key(row.assigned_partner)
        target_tier = partners[key].tier if key in partners else (stored[key].tier if key in stored else None)
        if target_tier is None:
            problems.append(
                f"line {row.line}: assigned_partner {row.assigned_partner!r} is not a known partner"
            )
        elif target_tier not in REFERRAL_TIERS:
            problems.append(
                f"line {row.line}: assigned_partner {row.assigned_partner!r} is {target_tier}, "
                "expected a platinum or gold partner"
            )
    return problems


def _store_conflicts(
    session: Session,
    rows: list[DirectoryRow],
    by_id: dict[int | None, Partner],
) -> list[str]:
    """A Slack user id the file gives one company while the store has it on another company's
    member, whom the file does not move."""
    in_file = {row.email for row in rows}
    wanted = {row.slack_user_id: row for row in rows if row.slack_user_id}
    problems = []
    holders = select(Member).where(col(Member.slack_user_id).in_(list(wanted)))
    for member in session.exec(holders) if wanted else []:
        row = wanted[member.slack_user_id or ""]
        if member.email in in_file or member.email == row.email:
            continue
        holder = by_id.get(member.partner_id)
        if holder is not None and company_key(holder.name) != company_key(row.company):
            problems.append(
                f"line {row.line}: slack_user_id {row.slack_user_id} belongs to {member.email} "
                f"of {holder.name} in the directory"
            )
    return problems


def _apply(session: Session, plan: ImportPlan) -> None:
    partners = dict(plan.stored)
    for key, row in plan.partners.items():
        partner = partners.get(key)
        if partner is None:
            partner = Partner(name=row.company, tier=row.tier, desk=row.desk)
            partners[key] = partner
        partner.tier, partner.desk = row.tier, row.desk
        if row.slack_team_id:  # a file without the column leaves the team as it was
            partner.slack_team_id = row.slack_team_id
        session.add(partner)
    session.flush()
    for key, row in plan.partners.items():
        target = partners[company_key(row.assigned_partner)] if row.assigned_partner else None
        partners[key].assigned_partner_id = target.id if target else None
        session.add(partners[key])
    session.flush()
    staged = (
        select(
            DirectoryStage.email,
            Partner.id,
            DirectoryStage.slack_user_id,
            DirectoryStage.certification,
        )
        .join(Partner, col(Partner.name) == col(DirectoryStage.company))
        .where(DirectoryStage.import_id == plan.import_id)
    )
    upsert = (postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(Member)
    statement = upsert.from_select(["email", "partner_id", "slack_user_id", "certification"], staged)
    changed = {
        "partner_id": statement.excluded.partner_id,
        "slack_user_id": statement.excluded.slack_user_id,
        "certification": statement.excluded.certification,
    }
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["email"],
            set_=changed,
            where=or_(*(getattr(Member, name).is_distinct_from(value) for name, value in changed.items())),
        )
    )


def _unstage(engine: Engine, import_id: str) -> None:
    with session_scope(engine) as session:
        session.execute(delete(DirectoryStage).where(col(DirectoryStage.import_id) == import_id))


# --- lookups ---------------------------------------------------------------------------------------------


def member_by_slack_id(session: Session, slack_user_id: str) -> Member | None:
    return session.exec(select(Member).where(Member.slack_user_id == slack_user_id)).first()


def member_by_email(session: Session, email: str) -> Member | None:
    return session.exec(select(Member).where(Member.email == email.strip().lower())).first()


def remember_slack_id(session: Session, member: Member, slack_user_id: str) -> None:
    """After an e-mail match, keep the Slack id so the next lookup needs no users.info."""
    if member.slack_user_id != slack_user_id:
        member.slack_user_id = slack_user_id
        session.add(member)


def partner_by_name(session: Session, name: str) -> Partner | None:
    """A company as people write it: compared as the import compares names (case, look-alikes)."""
    wanted = company_key(name)
    return next((p for p in session.exec(select(Partner)).all() if company_key(p.name) == wanted), None)


def partner_by_team(session: Session, team_id: str) -> Partner | None:
    """The company whose own Slack workspace (or organization) this is, as the directory gives it."""
    return session.exec(select(Partner).where(Partner.slack_team_id == team_id)).first()


def get_partner(session: Session, partner_id: int) -> Partner | None:
    return session.get(Partner, partner_id)


def colleagues(session: Session, partner_id: int) -> list[Member]:
    return list(
        session.exec(select(Member).where(Member.partner_id == partner_id).order_by(col(Member.email)))
    )


# --- agents ----------------------------------------------------------------------------------------------


def add_agent(session: Session, slack_user_id: str, desk: str, is_lead: bool) -> Agent:
    agent = session.exec(select(Agent).where(Agent.slack_user_id == slack_user_id)).first()
    if agent is None:
        agent = Agent(slack_user_id=slack_user_id, desk=desk, is_lead=is_lead)
    else:
        agent.desk, agent.is_lead = desk, is_lead
    session.add(agent)
    session.flush()
    return agent


def remove_agent(session: Session, slack_user_id: str) -> bool:
    agent = session.exec(select(Agent).where(Agent.slack_user_id == slack_user_id)).first()
    if agent is None:
        return False
    session.delete(agent)
    return True


def list_agents(session: Session) -> list[Agent]:
    return list(session.exec(select(Agent).order_by(col(Agent.desk), col(Agent.slack_user_id))))


def get_agent(session: Session, slack_user_id: str) -> Agent | None:
    return session.exec(select(Agent).where(Agent.slack_user_id == slack_user_id)).first()


def desk_leads(session: Session, desk: str) -> list[str]:
    query = select(Agent.slack_user_id).where(Agent.desk == desk, col(Agent.is_lead).is_(True))
    return list(session.exec(query.order_by(col(Agent.slack_user_id))))
