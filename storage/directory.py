"""The partner directory: companies, their members, and the support agents."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from storage.models import Agent, Member, Partner, Tier

CSV_HEADER = ("company", "tier", "desk", "assigned_partner", "email", "slack_user_id", "certification")
REFERRED_TIERS = {Tier.BRONZE.value, Tier.RESELLER.value}
REFERRAL_TIERS = {Tier.PLATINUM.value, Tier.GOLD.value}
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


class DirectoryError(ValueError):
    """A file that can't be imported; `problems` are 'line N: …' strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_directory_csv(lines: Iterable[str], desks: Iterable[str]) -> list[DirectoryRow]:
    """Parse and check a directory file on its own (references to the store are checked on import)."""
    desk_names = set(desks)
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != CSV_HEADER:
        raise DirectoryError([f"line 1: the header must be exactly {','.join(CSV_HEADER)}"])
    rows: list[DirectoryRow] = []
    problems: list[str] = []
    seen_emails: dict[str, int] = {}
    for index, record in enumerate(reader, start=2):
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(CSV_HEADER):
            problems.append(f"line {index}: expected {len(CSV_HEADER)} fields, found {len(record)}")
            continue
        company, tier, desk, assigned, email, slack_id, certification = (f.strip() for f in record)
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
        if tier in REFERRED_TIERS and not assigned:
            problems.append(f"line {index}: a {tier} partner needs an assigned_partner")
        if tier not in REFERRED_TIERS and assigned:
            problems.append(f"line {index}: only bronze and reseller partners have an assigned_partner")
        rows.append(
            DirectoryRow(
                index, company, tier, desk, assigned or None, email, slack_id or None, certification or None
            )
        )
    problems.extend(_company_conflicts(rows))
    if problems:
        raise DirectoryError(problems)
    return rows


def _tiers() -> str:
    return ", ".join(t.value for t in Tier)


def _company_conflicts(rows: list[DirectoryRow]) -> list[str]:
    first: dict[str, DirectoryRow] = {}
    problems = []
    for row in rows:
        earlier = first.setdefault(row.company.casefold(), row)
        if (earlier.tier, earlier.desk, earlier.assigned_partner) != (
            row.tier,
            row.desk,
            row.assigned_partner,
        ):
            problems.append(
                f"line {row.line}: {row.company} has a different tier, desk or assigned_partner "
                f"than on line {earlier.line}"
            )
    return problems


def import_directory(
    session: Session, rows: list[DirectoryRow], progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Upsert partners and members; raises DirectoryError (and writes nothing) on a bad reference.

    The caller owns the transaction: on error it rolls back, so the import is all or nothing.
    """
    partners = {p.name.casefold(): p for p in session.exec(select(Partner)).all()}
    file_companies = {row.company.casefold(): row for row in rows}
    problems = []
    for row in rows:
        if not row.assigned_partner:
            continue
        key = row.assigned_partner.casefold()
        target_tier = (
            file_companies[key].tier
            if key in file_companies
            else (partners[key].tier if key in partners else None)
        )
        if target_tier is None:
            problems.append(
                f"line {row.line}: assigned_partner {row.assigned_partner!r} is not a known partner"
            )
        elif target_tier not in REFERRAL_TIERS:
            problems.append(
                f"line {row.line}: assigned_partner {row.assigned_partner!r} is {target_tier}, "
                "expected a platinum or gold partner"
            )
    if problems:
        raise DirectoryError(problems)

    counts = {"partners_added": 0, "partners_changed": 0, "members_added": 0, "members_changed": 0}
    for key, row in file_companies.items():
        partner = partners.get(key)
        if partner is None:
            partner = Partner(name=row.company, tier=row.tier, desk=row.desk)
            session.add(partner)
            partners[key] = partner
            counts["partners_added"] += 1
        elif (partner.tier, partner.desk) != (row.tier, row.desk):
            partner.tier, partner.desk = row.tier, row.desk
            counts["partners_changed"] += 1
    session.flush()
    for key, row in file_companies.items():
        assigned_id = partners[row.assigned_partner.casefold()].id if row.assigned_partner else None
        partner = partners[key]
        if partner.assigned_partner_id != assigned_id:
            partner.assigned_partner_id = assigned_id
            counts["partners_changed"] += 1

    members = {m.email: m for m in session.exec(select(Member)).all()}
    for done, row in enumerate(rows, start=1):
        partner_id = partners[row.company.casefold()].id
        assert partner_id is not None
        wanted = (partner_id, row.slack_user_id, row.certification)
        member = members.get(row.email)
        if member is None:
            member = Member(
                email=row.email,
                partner_id=wanted[0],
                slack_user_id=row.slack_user_id,
                certification=row.certification,
            )
            session.add(member)
            members[row.email] = member
            counts["members_added"] += 1
        elif (member.partner_id, member.slack_user_id, member.certification) != wanted:
            member.partner_id, member.slack_user_id, member.certification = wanted
            counts["members_changed"] += 1
        if progress:
            progress(done)
    session.flush()
    return counts


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
