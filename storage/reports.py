"""Report figures, aggregated in the database over a period of each desk's local dates.

`bounds` maps a desk to the UTC instants [start, end) of its period; every query filters on the
`(desk, filed_at)` index. Percentiles are read with ORDER BY ... OFFSET, which both stores run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, false, func, or_, select
from sqlmodel import Session, col

from storage.models import Partner, ResponseWindow, SatisfactionAnswer, Ticket

Bounds = Mapping[str, tuple[datetime, datetime]]
GroupKey = tuple[str, str, str]  # desk, queue, class ("" for Customer Care)


@dataclass
class Figures:
    desk: str
    queue: str
    klass: str
    filed: int = 0
    met: int = 0
    breached: int = 0
    reopened: int = 0
    first_response_p50: float | None = None  # minutes: business for business-time windows
    first_response_p90: float | None = None
    resolution_p50: float | None = None  # hours, calendar
    breaches_by_partner: list[tuple[str, int]] = field(default_factory=list)
    breaches_by_agent: list[tuple[str, int]] = field(default_factory=list)
    # After the first answer: next-response windows of these tickets, and their satisfaction answers.
    next_met: int = 0
    next_breached: int = 0
    next_p50: float | None = None  # minutes, in each window's own time
    next_p90: float | None = None
    csat_answers: int = 0
    csat_good: int = 0  # rated 4 or 5
    csat_by_agent: list[tuple[str, int, int]] = field(default_factory=list)  # agent, answers, good

    @property
    def met_percent(self) -> float | None:
        counted = self.met + self.breached  # open tickets not yet due are not counted
        return 100.0 * self.met / counted if counted else None

    @property
    def next_met_percent(self) -> float | None:
        counted = self.next_met + self.next_breached
        return 100.0 * self.next_met / counted if counted else None

    @property
    def csat_good_percent(self) -> float | None:
        return 100.0 * self.csat_good / self.csat_answers if self.csat_answers else None


def _within(column: Any, bounds: Bounds) -> ColumnElement[bool]:
    return or_(
        false(),
        *(
            and_(col(Ticket.desk) == desk, column >= start, column < end)
            for desk, (start, end) in bounds.items()
        ),
    )


def _klass() -> Any:
    return func.coalesce(col(Ticket.klass), "")


def _breached(now: datetime) -> ColumnElement[bool]:
    """First response after due, or none and due has passed."""
    late = col(Ticket.sla_met).is_(False)
    unanswered = col(Ticket.first_response_at).is_(None) & (col(Ticket.due_at) < now)
    return or_(late, unanswered)


ALL = "all"  # the overall figures' desk, queue and class


def figures(session: Session, bounds: Bounds, now: datetime, queue: str | None = None) -> list[Figures]:
    """SPEC's report figures, one row per desk, queue and class with tickets filed in the period."""
    return _figures(session, bounds, now, queue, (col(Ticket.desk), col(Ticket.queue), _klass()))


def overall(session: Session, bounds: Bounds, now: datetime, queue: str | None = None) -> Figures | None:
    """The same figures over every ticket of the period at once (percentiles of all, not of groups)."""
    rows = _figures(session, bounds, now, queue, ())
    return rows[0] if rows else None


def _figures(
    session: Session, bounds: Bounds, now: datetime, queue: str | None, keys: tuple[Any, ...]
) -> list[Figures]:
    where = [_within(col(Ticket.filed_at), bounds)] + ([col(Ticket.queue) == queue] if queue else [])
    rows = _counts_and_breaches(session, keys, where, now)
    reopened_where = [_within(col(Ticket.reopened_at), bounds)] + (
        [col(Ticket.queue) == queue] if queue else []
    )
    reopened = select(*keys, func.count()).where(*reopened_where)
    for *group, n in session.execute(reopened.group_by(*keys) if keys else reopened):
        if n:
            _row(rows, tuple(group)).reopened = int(n)
    for key, p50, p90 in _percentiles(session, col(Ticket.first_response_seconds), where, (0.5, 0.9), keys):
        rows[key].first_response_p50, rows[key].first_response_p90 = p50 / 60, p90 / 60
    resolved = [*where, col(Ticket.status) == "resolved"]
    for key, p50 in _percentiles(session, col(Ticket.resolution_seconds), resolved, (0.5,), keys):
        rows[key].resolution_p50 = p50 / 3600
    _next_responses(session, rows, keys, where, now)
    _satisfaction(session, rows, keys, where)
    return [rows[key] for key in sorted(rows)]


def window_breached(now: datetime) -> ColumnElement[bool]:
    """A next-response window answered late, or still open past its due time."""
    late = col(ResponseWindow.met).is_(False)
    return or_(late, col(ResponseWindow.closed_at).is_(None) & (col(ResponseWindow.due_at) < now))


def _next_responses(
    session: Session, rows: dict[Any, Figures], keys: tuple[Any, ...], where: list[Any], now: datetime
) -> None:
    """Met and breached next-response windows of the group's tickets, and how long answers took."""
    joined = [*where, col(ResponseWindow.ticket_id) == col(Ticket.id)]
    met = func.sum(case((col(ResponseWindow.met).is_(True), 1), else_=0))
    late = func.sum(case((window_breached(now), 1), else_=0))
    query = (
        select(*keys, met, late)
        .select_from(Ticket)
        .join(ResponseWindow, col(ResponseWindow.ticket_id) == col(Ticket.id))
        .where(*where)
    )
    for *group, n_met, n_late in session.execute(query.group_by(*keys) if keys else query):
        if n_met or n_late:
            row = _row(rows, tuple(group))
            row.next_met, row.next_breached = int(n_met or 0), int(n_late or 0)
    elapsed = col(ResponseWindow.elapsed_seconds)
    for key, p50, p90 in _percentiles(session, elapsed, joined, (0.5, 0.9), keys):
        rows[key].next_p50, rows[key].next_p90 = p50 / 60, p90 / 60


def _satisfaction(
    session: Session, rows: dict[Any, Figures], keys: tuple[Any, ...], where: list[Any]
) -> None:
    """The group's satisfaction answers (the last answer to each question), and per agent who held it."""
    good = case((col(SatisfactionAnswer.rating) >= 4, 1), else_=0)
    agent = func.coalesce(col(Ticket.claimant_user_id), "nobody")
    query = (
        select(*keys, agent, func.count(), func.sum(good))
        .select_from(Ticket)
        .join(SatisfactionAnswer, col(SatisfactionAnswer.ticket_id) == col(Ticket.id))
        .where(*where, col(SatisfactionAnswer.rating).is_not(None))
        .group_by(*keys, agent)
    )
    by_agent: dict[Any, list[tuple[str, int, int]]] = {}
    for *group, who, n, n_good in session.execute(query):
        key = tuple(group)
        row = _row(rows, key)
        row.csat_answers += int(n)
        row.csat_good += int(n_good or 0)
        by_agent.setdefault(key, []).append((str(who), int(n), int(n_good or 0)))
    for key, agents in by_agent.items():
        rows[key].csat_by_agent = sorted(agents, key=lambda item: (-item[1], item[0]))[:10]


def _row(rows: dict[Any, Figures], key: tuple[Any, ...]) -> Figures:
    if key not in rows:
        rows[key] = Figures(*key) if key else Figures(ALL, ALL, ALL)
    return rows[key]


def _counts_and_breaches(
    session: Session, keys: Any, where: list[Any], now: datetime
) -> dict[GroupKey, Figures]:
    """Filed, met and breached, and the breaches by partner and by agent, from one grouped query: its
    rows are (group, company, responder, met, breached) counts, a few hundred at most."""
    met = case((col(Ticket.sla_met).is_(True), 1), else_=0)
    late = case((_breached(now), 1), else_=0)
    agent = func.coalesce(col(Ticket.first_response_by), "nobody")
    query = (
        select(*keys, col(Partner.name), agent, met, late, func.count())
        .select_from(Ticket)
        .join(Partner, col(Partner.id) == col(Ticket.partner_id))
        .where(*where)
        .group_by(*keys, col(Partner.name), agent, met, late)
    )
    rows: dict[Any, Figures] = {}
    by_partner: dict[Any, dict[str, int]] = {}
    by_agent: dict[Any, dict[str, int]] = {}
    for *group, company, who, was_met, was_late, n in session.execute(query):
        key = tuple(group)
        row = _row(rows, key)
        row.filed += n
        row.met += n if was_met else 0
        if was_late:
            row.breached += n
            partners, agents = by_partner.setdefault(key, {}), by_agent.setdefault(key, {})
            partners[company] = partners.get(company, 0) + n
            agents[who] = agents.get(who, 0) + n
    for key, row in rows.items():
        row.breaches_by_partner = _top(by_partner.get(key, {}))
        row.breaches_by_agent = _top(by_agent.get(key, {}))
    return rows


def _top(counts: dict[str, int], limit: int = 10) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _percentiles(
    session: Session, column: Any, where: list[Any], shares: tuple[float, ...], keys: tuple[Any, ...]
) -> Iterator[tuple[Any, ...]]:
    """Nearest-rank percentiles for every group at once, to the minute: the store counts the values
    per (group, minute) and each percentile is read off the cumulative counts (a few thousand rows)."""
    minute = func.cast(column / 60, Integer)
    query = (
        select(*keys, minute, func.min(column), func.count())
        .where(*where, column.is_not(None))
        .group_by(*keys, minute)
    )
    histograms: dict[Any, list[tuple[int, float, int]]] = {}
    for *group, bucket, lowest, n in session.execute(query):
        histograms.setdefault(tuple(group), []).append((int(bucket), float(lowest), int(n)))
    for key, buckets in histograms.items():
        buckets.sort()
        size = sum(n for _, _, n in buckets)
        values = []
        for share in shares:
            rank, seen = -(-int(share * 100) * size // 100), 0  # ceil(share * size)
            for _, lowest, n in buckets:
                seen += n
                if seen >= rank:
                    values.append(lowest)
                    break
        yield (key, *values)


def _group(key: GroupKey) -> list[ColumnElement[bool]]:
    desk, queue, klass = key
    return [col(Ticket.desk) == desk, col(Ticket.queue) == queue, _klass() == klass]


def weekly_met(
    session: Session, weeks: list[Bounds], now: datetime, queue: str | None = None
) -> list[dict[str, tuple[int, int]]]:
    """For each week: queue -> (met, breached) among the tickets filed that week."""
    series = []
    for bounds in weeks:
        where = [_within(col(Ticket.filed_at), bounds)] + ([col(Ticket.queue) == queue] if queue else [])
        query = select(
            col(Ticket.queue),
            func.sum(case((col(Ticket.sla_met).is_(True), 1), else_=0)),
            func.sum(case((_breached(now), 1), else_=0)),
        ).where(*where)
        rows = session.execute(query.group_by(col(Ticket.queue)))
        series.append({str(q): (int(met or 0), int(late or 0)) for q, met, late in rows})
    return series


def report_rows(
    session: Session, bounds: Bounds, queue: str | None = None, now: datetime | None = None
) -> Iterator[Any]:
    """The period's tickets with their company, oldest first, streamed a few thousand at a time; last
    come their next-response windows, those breached (as of `now`), and their latest rating."""
    where = [_within(col(Ticket.filed_at), bounds)] + ([col(Ticket.queue) == queue] if queue else [])
    of_ticket = col(ResponseWindow.ticket_id) == col(Ticket.id)
    windows = select(func.count()).where(of_ticket).scalar_subquery()
    breached = select(func.count()).where(of_ticket, window_breached(now or datetime.max.replace(tzinfo=UTC)))
    rating = (
        select(col(SatisfactionAnswer.rating))
        .where(
            col(SatisfactionAnswer.ticket_id) == col(Ticket.id), col(SatisfactionAnswer.rating).is_not(None)
        )
        .order_by(col(SatisfactionAnswer.answered_at).desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            col(Ticket.id),
            col(Ticket.desk),
            col(Ticket.queue),
            col(Ticket.klass),
            col(Partner.name),
            col(Partner.tier),
            col(Ticket.filed_at),
            col(Ticket.due_at),
            col(Ticket.first_response_at),
            col(Ticket.first_response_by),
            col(Ticket.sla_met),
            col(Ticket.resolved_at),
            col(Ticket.reopened_at),
            col(Ticket.status),
            windows,
            breached.scalar_subquery(),
            rating,
        )
        .join(Partner, col(Partner.id) == col(Ticket.partner_id))
        .where(*where)
        .order_by(col(Ticket.filed_at), col(Ticket.id))
        .execution_options(yield_per=2000)
    )
    yield from session.execute(query)


# --- mass incidents -----------------------------------------------------------------------------------------


@dataclass
class IncidentFigures:
    desk: str
    opened: int = 0  # incidents opened in the period
    linked: int = 0  # tickets linked to them (as they stand now)
    claimed: int = 0
    time_to_claim_p50: float | None = None  # minutes from opening to the claim, calendar time
    time_to_claim_max: float | None = None


def incident_figures(session: Session, bounds: Bounds, queue: str | None = None) -> list[IncidentFigures]:
    """Per desk: incidents opened in its period, their tickets, and how long until someone claimed them."""
    from storage.incidents import linked_counts, opened_between

    found = []
    for desk, (start, end) in sorted(bounds.items()):
        incidents = [i for i in opened_between(session, start, end, desk) if queue in (None, i.queue)]
        if not incidents:
            continue
        counts = linked_counts(session, [i.id or 0 for i in incidents])
        waits = sorted(
            (i.claimed_at - i.opened_at).total_seconds() / 60 for i in incidents if i.claimed_at is not None
        )
        found.append(
            IncidentFigures(
                desk=desk,
                opened=len(incidents),
                linked=sum(counts.values()),
                claimed=len(waits),
                time_to_claim_p50=waits[(len(waits) - 1) // 2] if waits else None,
                time_to_claim_max=waits[-1] if waits else None,
            )
        )
    return found
