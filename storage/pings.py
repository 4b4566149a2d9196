"""The delivery table: every message the bot owes Slack, and the exactly-once state machine.

planned --(due; claimed under a row lock, with a lease)--> sending --> sent
   |                                                          |
   +--(first response, or replanned)--> dropped               +--(Slack error)--> planned, later
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import OWED_KEY
from storage.models import DEADLINE_KINDS, Ping, PingKind, PingState
from storage.vocabulary import NEXT_KINDS, SUPERSEDED, WAITING_KINDS


@dataclass(frozen=True)
class PlannedPing:
    kind: PingKind
    seq: int
    at: datetime
    text: str | None = None
    payload: dict[str, Any] | None = None

    def row(self, ticket_id: int, plan: int = 0) -> Ping:
        return _new_row(
            self.kind,
            self.at,
            ticket_id=ticket_id,
            plan=plan,
            seq=self.seq,
            text=self.text,
            payload=self.payload,
        )


def _json(payload: dict[str, Any] | None) -> str | None:
    return json.dumps(payload) if payload is not None else None


def payload_of(ping: Ping) -> dict[str, Any]:
    """What a row carries (a copy's text, a DM's addressee, a report's period): {} when nothing."""
    return dict(json.loads(ping.payload)) if ping.payload else {}


def _owed(session: Session, rows: Iterable[Ping | SimpleNamespace]) -> None:
    """Rows this transaction owes Slack: the request that owed them delivers them (storage.db)."""
    session.info.setdefault(OWED_KEY, []).extend(rows)


def plan_new_ticket(session: Session, ticket_id: int, plan: Iterable[PlannedPing]) -> None:
    """Everything a ticket owes from its filing, in one flush: the ticket is new, nothing can clash."""
    rows = [item.row(ticket_id) for item in plan]
    session.add_all(rows)
    session.flush()
    _owed(session, rows)


def _deadline_rows(
    session: Session,
    ticket_id: int | None,
    incident_id: int | None = None,
    kinds: Sequence[PingKind] = DEADLINE_KINDS,
) -> list[Ping]:
    """A ticket's deadline pings, or (`incident_id`) an incident's; `kinds`: the next-response ones."""
    owner = Ping.incident_id == incident_id if incident_id is not None else Ping.ticket_id == ticket_id
    query = select(Ping).where(owner, col(Ping.kind).in_([k.value for k in kinds]))
    return list(session.exec(query))


# A next-response window's series is plan `window id * WINDOW_PLANS + n`: n counts its replans (a
# class change), so each window's rows stay apart from every other's, and a replan from the last.
WINDOW_PLANS = 1000


def window_of_plan(plan: int) -> int:
    return plan // WINDOW_PLANS


def plan_window_pings(session: Session, ticket_id: int, window_id: int, plan: Iterable[PlannedPing]) -> None:
    """A next-response window's deadline series, or (again) its replan after a class change: the
    unsent rows of the window's last plan are dropped, the new ones planned under the next number."""
    rows = [
        p for p in _deadline_rows(session, ticket_id, kinds=NEXT_KINDS) if window_of_plan(p.plan) == window_id
    ]
    _drop_unsent_plan(session, rows)
    number = max((p.plan + 1 for p in rows), default=window_id * WINDOW_PLANS)
    new = [item.row(ticket_id, number) for item in plan]
    session.add_all(new)
    session.flush()
    _owed(session, new)


def drop_window_pings(session: Session, ticket_id: int, reason: str = "answered") -> int:
    """Support answered the partner (or the ticket was resolved): the window's unsent pings."""
    return _drop_planned(session, col(Ping.ticket_id) == ticket_id, NEXT_KINDS, reason)


def drop_waiting_pings(session: Session, ticket_id: int | Sequence[int], reason: str) -> int:
    """The partner wrote (or the ticket was resolved): no reminder, no resolve for want of an answer."""
    if isinstance(ticket_id, int):  # "=", not "IN (one)": SQLite then reads the ticket's index, not
        return _drop_planned(session, col(Ping.ticket_id) == ticket_id, WAITING_KINDS, reason)  # state's
    ids = list(ticket_id)
    return _drop_planned(session, col(Ping.ticket_id).in_(ids), WAITING_KINDS, reason) if ids else 0


def replan_deadline_pings(session: Session, ticket_id: int, plan: Iterable[PlannedPing]) -> int:
    """A new SLA window (class change): the old window's unsent pings are dropped, and the new
    window's pings are planned afresh under a new plan number; returns that number."""
    rows = _drop_unsent_plan(session, _deadline_rows(session, ticket_id))
    number = max((p.plan for p in rows), default=0) + 1
    new = [item.row(ticket_id, number) for item in plan]
    session.add_all(new)
    session.flush()
    _owed(session, new)
    return number


def _drop_unsent_plan(session: Session, rows: list[Ping]) -> list[Ping]:
    """A plan replaced: its pings not yet posted are dropped (what was posted stays posted)."""
    for ping in rows:
        if ping.state == PingState.PLANNED:
            ping.state, ping.last_error = PingState.DROPPED.value, "replanned"
            session.add(ping)
    return rows


def restore_deadline_pings(session: Session, ticket_id: int, plan: Iterable[PlannedPing]) -> int:
    """The same window again (a reopened ticket still unanswered): unsent pings of the current plan
    come back; what was posted stays posted. Returns how many were planned again."""
    rows = _deadline_rows(session, ticket_id)
    number = max((p.plan for p in rows), default=0)
    existing = {(p.kind, p.seq): p for p in rows if p.plan == number}
    restored = 0
    for item in plan:
        ping = existing.get((item.kind.value, item.seq))
        if ping is None:
            session.add(item.row(ticket_id, number))
            restored += 1
        elif ping.state == PingState.DROPPED:
            ping.state, ping.planned_at, ping.next_attempt_at = PingState.PLANNED.value, item.at, item.at
            ping.last_error = None
            session.add(ping)
            restored += 1
    session.flush()
    return restored


def earlier_due_deadline_pings(session: Session, ping: Ping, due_now: datetime) -> tuple[bool, int]:
    """For a deadline ping about to go out: (a later ping of its plan is due too, how many earlier
    ones of the plan were never posted). After downtime only the most advanced ping is posted."""
    kinds = NEXT_KINDS if ping.kind in NEXT_KINDS else DEADLINE_KINDS
    rows = [
        p
        for p in _deadline_rows(session, ping.ticket_id, ping.incident_id, kinds)
        if p.plan == ping.plan and p.id != ping.id and p.planned_at <= due_now
    ]
    unposted = (PingState.PLANNED, PingState.SENDING)
    later = any(p.planned_at > ping.planned_at and p.state in unposted for p in rows)
    missed = sum(
        1
        for p in rows
        if p.planned_at < ping.planned_at
        and (p.state in unposted or (p.state == PingState.DROPPED and p.last_error == SUPERSEDED))
    )
    return later, missed


def owe(
    session: Session,
    ticket_id: int,
    kind: PingKind,
    at: datetime,
    text: str | None = None,
    once: bool = False,
    payload: dict[str, Any] | None = None,
) -> Ping | None:
    """Record a message the bot owes now (card, confirmation, notice, …).

    `once` kinds exist at most once per ticket (seq 0); others take the next seq. A card update that is
    still waiting covers a newer one, since the card is rendered from the ticket when it is sent.
    """
    if once or kind is PingKind.CARD_UPDATE:
        waiting = session.exec(
            select(Ping).where(
                Ping.ticket_id == ticket_id,
                Ping.kind == kind.value,
                col(Ping.state).in_([PingState.PLANNED.value] if not once else [s.value for s in PingState]),
            )
        ).first()
        if waiting is not None:
            return None
    for _ in range(5):
        seq = 0 if once else _next_seq(session, ticket_id, kind)
        ping = _new_row(kind, at, ticket_id=ticket_id, seq=seq, text=text, payload=payload)
        if _added(session, ping):  # another process may take the same seq at the same moment
            return ping
        if once:
            return None
    raise RuntimeError(f"could not number a {kind} for ticket {ticket_id}")


def _next_seq(session: Session, ticket_id: int, kind: PingKind) -> int:
    query = select(func.coalesce(func.max(Ping.seq) + 1, 0)).where(
        Ping.ticket_id == ticket_id, Ping.kind == kind.value
    )
    return int(session.exec(query).one())


def _drop_planned(session: Session, owner: Any, kinds: Sequence[PingKind], reason: str) -> int:
    """The planned (unsent) rows of these kinds whose owner matches: dropped, with why."""
    result = session.execute(
        update(Ping)
        .execution_options(synchronize_session=False)
        .where(
            owner, col(Ping.state) == PingState.PLANNED.value, col(Ping.kind).in_([k.value for k in kinds])
        )
        .values(state=PingState.DROPPED.value, last_error=reason[:500] if reason else None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def drop_deadline_pings(session: Session, ticket_id: int) -> int:
    """A ticket answered: its unsent deadline pings."""
    return _drop_planned(session, col(Ping.ticket_id) == ticket_id, DEADLINE_KINDS, "answered")


def drop_deadline_pings_of(session: Session, ticket_ids: Sequence[int], reason: str = "answered") -> int:
    """Many tickets answered at once (an incident's claim or resolve): their unsent deadline pings."""
    if not ticket_ids:
        return 0
    return _drop_planned(session, col(Ping.ticket_id).in_(ticket_ids), DEADLINE_KINDS, reason)


def drop_incident_deadlines(session: Session, incident_id: int) -> int:
    return _drop_planned(session, col(Ping.incident_id) == incident_id, DEADLINE_KINDS, "answered")


def fold_ticket_pings(session: Session, ticket_ids: Sequence[int], reason: str) -> int:
    """A ticket joins an incident: its own unsent deadline pings and page give way to the incident's."""
    if not ticket_ids:
        return 0
    kinds = (*DEADLINE_KINDS, *NEXT_KINDS, PingKind.PAGE)
    return _drop_planned(session, col(Ping.ticket_id).in_(ticket_ids), kinds, reason)


def store_now(session: Session) -> datetime:
    """The store's clock: PostgreSQL's when several processes share it, so that a process whose own
    clock is off still agrees with the others on leases. SQLite lives on one machine: its clock."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.exec(select(func.clock_timestamp())).one()
        return value.astimezone(UTC)
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claimed:
    """A ping this process now holds; `in_flight` when an earlier attempt may have posted it."""

    id: int
    attempts: int
    in_flight: bool


def claim_due(
    session: Session,
    due_now: datetime,
    store_time: datetime,
    lease: timedelta,
    limit: int,
    ping_ids: Sequence[int] | None = None,
) -> list[Claimed]:
    """Take due pings for this process (of `ping_ids` only, when given): planned ones whose time has
    come, and expired leases.

    `due_now` is compared with planned times, `store_time` (the store's clock) with leases and retry
    waits. PostgreSQL: row locks that skip rows another process holds. SQLite: one writer at a time.
    Either way each row then moves to `sending` with a compare-and-set on its state and attempts.
    """
    planned_due = (
        (col(Ping.state) == PingState.PLANNED.value)
        & (col(Ping.next_attempt_at) <= due_now)
        & or_(col(Ping.retry_at).is_(None), col(Ping.retry_at) <= store_time)
    )
    lease_over = (col(Ping.state) == PingState.SENDING.value) & (col(Ping.lease_until) <= store_time)
    query = select(Ping.id, Ping.state, Ping.attempts, Ping.unsure).where(or_(planned_due, lease_over))
    if ping_ids is not None:
        query = query.where(col(Ping.id).in_(ping_ids))
    # Copies of one thread share a channel: their source ("CHANNEL:TS") orders them as written.
    query = query.order_by(col(Ping.next_attempt_at), col(Ping.source), col(Ping.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for ping_id, state, attempts, unsure in session.exec(query).all():
        assert ping_id is not None
        result = session.execute(
            update(Ping)
            .where(
                col(Ping.id) == ping_id,
                col(Ping.state) == state,
                col(Ping.attempts) == attempts,
                or_(planned_due, lease_over),
            )
            .values(state=PingState.SENDING.value, lease_until=store_time + lease, attempts=attempts + 1)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            in_flight = state == PingState.SENDING.value or bool(unsure)
            claimed.append(Claimed(ping_id, attempts + 1, in_flight=in_flight))
    return claimed


def renew(session: Session, claims: Sequence[Claimed], store_time: datetime, lease: timedelta) -> int:
    """A batch still being worked through: the leases of its rows not reached yet start again (only
    those this process still holds, by their attempt), so a long batch loses none to a lease."""
    if not claims:
        return 0
    held = or_(*[(col(Ping.id) == c.id) & (col(Ping.attempts) == c.attempts) for c in claims])
    result = session.execute(
        update(Ping)
        .execution_options(synchronize_session=False)
        .where(held, col(Ping.state) == PingState.SENDING.value, col(Ping.lease_until) > store_time)
        .values(lease_until=store_time + lease)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _held(claim: Claimed) -> list[object]:
    """This process still holds the ping: its attempt is the fence."""
    return [
        col(Ping.id) == claim.id,
        col(Ping.state) == PingState.SENDING.value,
        col(Ping.attempts) == claim.attempts,
    ]


def hold(session: Session, claim: Claimed, store_time: datetime, lease: timedelta) -> bool:
    """Right before a post: True when this process still holds the ping and its lease did not run
    out; the lease then starts again, so the post (shorter than a lease) ends while it is held."""
    result = session.execute(
        update(Ping)
        .where(*_held(claim), col(Ping.lease_until) > store_time)  # type: ignore[arg-type]
        .values(lease_until=store_time + lease)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _finish(session: Session, claim: Claimed, **values: object) -> bool:
    """Record an outcome only while this process still holds the ping."""
    result = session.execute(
        update(Ping).where(*_held(claim)).values(lease_until=None, **values)  # type: ignore[arg-type]
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(
    session: Session, claim: Claimed, channel: str | None, ts: str | None, at: datetime, late: bool
) -> bool:
    return _finish(
        session,
        claim,
        state=PingState.SENT.value,
        channel=channel,
        message_ts=ts,
        posted_at=at,
        late=late,
        last_error=None,
        retry_at=None,
        unsure=False,
    )


def mark_retry(session: Session, claim: Claimed, retry_at: datetime, error: str, unsure: bool) -> bool:
    """Planned again, due as before, but not before `retry_at` on the store's clock (so a retry
    happens also while the app's clock stands still, as with FROZEN_TIME)."""
    return _finish(
        session,
        claim,
        state=PingState.PLANNED.value,
        retry_at=retry_at,
        unsure=unsure,
        last_error=error[:500],
    )


def mark_dropped(session: Session, claim: Claimed, reason: str) -> bool:
    return _finish(session, claim, state=PingState.DROPPED.value, last_error=reason[:500])


def mark_failed(session: Session, claim: Claimed, error: str) -> bool:
    return _finish(session, claim, state=PingState.FAILED.value, last_error=error[:500])


def set_channel(session: Session, claim: Claimed, channel: str) -> bool:
    """Where the row's message goes (a person's DM, once opened): a retry looks for it there."""
    result = session.execute(update(Ping).where(*_held(claim)).values(channel=channel))  # type: ignore[arg-type]
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_ping(session: Session, ping_id: int) -> Ping | None:
    return session.get(Ping, ping_id)


def pings_for(session: Session, ticket_id: int) -> list[Ping]:
    query = select(Ping).where(Ping.ticket_id == ticket_id).order_by(col(Ping.planned_at), col(Ping.id))
    return list(session.exec(query))


# --- the conversation: rows keyed by the Slack message they carry over -------------------------------------


def owe_once(
    session: Session,
    kind: PingKind,
    source: str,
    at: datetime,
    ticket_id: int | None = None,
    text: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Ping | None:
    """Owe what one Slack message asks for, once: a second delivery of the same event owes nothing."""

    for _ in range(5):
        if _owed_by_source(session, kind, source):
            return None
        seq = _next_seq(session, ticket_id, kind) if ticket_id is not None else 0
        ping = _new_row(kind, at, ticket_id=ticket_id, source=source, seq=seq, text=text, payload=payload)
        # The same event may be handled by two threads or processes: the same message owed meanwhile
        # (then it is owed already, seen on the next round), or the same seq taken.
        if _added(session, ping):
            return ping
    raise RuntimeError(f"could not owe a {kind} for {source}")


def owe_lead_alert(
    session: Session, ticket_id: int, channel: str, problem: str, text: str, at: datetime
) -> bool:
    """Tell the desk lead that a channel can't be posted to: once a channel, problem and day, however
    many tickets and processes fail there at the same moment (the key is unique in the store)."""
    key = f"lead-alert:{channel}:{problem}:{at.astimezone(UTC).date().isoformat()}"  # text, no payload
    return owe_once(session, PingKind.LEAD_ALERT, key, at, ticket_id, text) is not None


def by_source(session: Session, kinds: Iterable[PingKind], source: str) -> Ping | None:
    query = select(Ping).where(col(Ping.kind).in_([k.value for k in kinds]), Ping.source == source)
    return session.exec(query).first()


def earlier_copy_unposted(session: Session, ping: Ping) -> bool:
    """A copy waits for the copies of earlier messages of its thread: order is kept."""
    if ping.ticket_id is None or not ping.source:
        return False
    mine = source_ts(ping.source)
    query = select(Ping.source).where(
        Ping.ticket_id == ping.ticket_id,
        Ping.kind == ping.kind,
        col(Ping.state).in_([PingState.PLANNED.value, PingState.SENDING.value]),
        Ping.id != ping.id,
    )
    return any(source_ts(other or "") < mine for other in session.exec(query))


def source_ts(source: str) -> float:
    """'C123:1700000000.000100' -> 1700000000.0001 (0 when it has no ts)."""
    try:
        return float(source.split(":")[1])
    except (IndexError, ValueError):
        return 0.0


def drop_unsent(session: Session, ping: Ping, reason: str) -> bool:
    """Drop a row that has not gone out yet (a message deleted before its copy was posted)."""
    result = session.execute(
        update(Ping)
        .where(col(Ping.id) == ping.id, col(Ping.state) == PingState.PLANNED.value)
        .values(state=PingState.DROPPED.value, last_error=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- a mass incident's rows, and its tickets' own pings while linked ---------------------------------------


def owe_for_incident(
    session: Session,
    incident_id: int,
    kind: PingKind,
    at: datetime,
    key: str,
    text: str | None = None,
    plan: int = 0,
    seq: int = 0,
) -> Ping | None:
    """Owe an incident's row once: `key` names it within the incident (a second call owes nothing)."""
    source = f"I-{incident_id}:{key}"
    if _owed_by_source(session, kind, source):
        return None
    ping = _new_row(kind, at, incident_id=incident_id, source=source, plan=plan, seq=seq, text=text)
    return ping if _added(session, ping) else None  # or owed meanwhile by another transaction


def _new_row(kind: PingKind, at: datetime, payload: dict[str, Any] | None = None, **columns: Any) -> Ping:
    """A row owed at `at` (due then, first tried then)."""
    return Ping(kind=kind.value, planned_at=at, next_attempt_at=at, payload=_json(payload), **columns)


def _owed_by_source(session: Session, kind: PingKind, source: str) -> bool:
    query = select(Ping.id).where(Ping.kind == kind.value, Ping.source == source)
    return session.exec(query).first() is not None


def _added(session: Session, ping: Ping) -> bool:
    """Inserted, unless a row with the same key got there first (another transaction's)."""
    try:
        with session.begin_nested():
            session.add(ping)
    except IntegrityError:
        return False
    _owed(session, [ping])
    return True


def owe_incident_update(session: Session, incident_id: int, at: datetime) -> Ping | None:
    """Re-render the incident message: one waiting update carries every change made before it is
    sent (it is rendered from the incident as it is then), so a storm of links costs a few updates."""
    waiting = session.exec(
        select(Ping.id).where(
            Ping.incident_id == incident_id,
            Ping.kind == PingKind.INCIDENT_UPDATE.value,
            Ping.state == PingState.PLANNED.value,
        )
    ).first()
    if waiting is not None:
        return None
    # A key of its own: two transactions owing an update at once both get one (never a silent give-up);
    # the later one is then covered by the earlier, which renders the incident as it is when sent.
    return owe_for_incident(session, incident_id, PingKind.INCIDENT_UPDATE, at, f"update:{uuid.uuid4().hex}")


def plan_incident_deadlines(session: Session, incident_id: int, plan: Iterable[PlannedPing]) -> int:
    """The incident's warning, breach and escalation series; a new plan replaces the unsent old one
    (the earliest due ticket left). Returns the plan's number."""
    rows = _drop_unsent_plan(session, _deadline_rows(session, None, incident_id))
    number = max((p.plan for p in rows), default=-1) + 1
    for item in plan:
        key = f"{item.kind.value}:{number}:{item.seq}"
        owe_for_incident(session, incident_id, item.kind, item.at, key, plan=number, seq=item.seq)
    session.flush()
    return number


def owe_each(
    session: Session,
    texts: dict[int, str | None],
    kind: PingKind,
    at: datetime,
    payloads: dict[int, dict[str, Any]] | None = None,
) -> None:
    """One row of `kind` for each ticket (with its text and payload), numbered after the ticket's own,
    in one insert; should another transaction number one of them at the same moment, one at a time."""
    payloads = payloads or {}
    if not texts:
        return
    taken = select(Ping.ticket_id, func.max(Ping.seq)).where(
        col(Ping.ticket_id).in_(list(texts)), Ping.kind == kind.value
    )
    last = dict(session.exec(taken.group_by(col(Ping.ticket_id))).all())
    # Plain rows in one multi-row INSERT … RETURNING (no ORM objects to build): an incident resolves
    # hundreds of tickets while holding the write lock.
    fresh = {"plan": 0, "state": PingState.PLANNED.value, "attempts": 0, "unsure": False, "late": False}
    rows = [
        {
            **fresh, "kind": kind.value, "ticket_id": i, "seq": last[i] + 1 if i in last else 0,
            "planned_at": at, "next_attempt_at": at, "text": t, "payload": _json(payloads.get(i)),
        }
        for i, t in texts.items()
    ]  # fmt: skip
    statement = insert(Ping).returning(col(Ping.id), sort_by_parameter_order=True)
    try:
        with session.begin_nested():
            ids = list(session.execute(statement, rows).scalars().all())
    except IntegrityError:
        for ticket_id, text in texts.items():
            owe(session, ticket_id, kind, at, text=text, payload=payloads.get(ticket_id))
        return
    _owed(session, [SimpleNamespace(id=ping_id) for ping_id in ids])


def card_updates_owed(session: Session, ticket_ids: Sequence[int], at: datetime) -> None:
    """The cards of those of these tickets that have one, re-rendered (unless an update waits)."""
    if not ticket_ids:
        return
    waiting = select(Ping.ticket_id).where(
        col(Ping.ticket_id).in_(ticket_ids),
        Ping.kind == PingKind.CARD_UPDATE.value,
        Ping.state == PingState.PLANNED.value,
    )
    due = with_cards(session, ticket_ids) - {i for i in session.exec(waiting) if i is not None}
    owe_each(session, {i: None for i in sorted(due)}, PingKind.CARD_UPDATE, at)


def with_cards(session: Session, ticket_ids: Sequence[int]) -> set[int]:
    """Those of these tickets that have a card: its row is owed or posted (a ticket that joined an
    incident has none; the incident message stands in for it)."""
    query = select(Ping.ticket_id).where(
        col(Ping.ticket_id).in_(ticket_ids), Ping.kind == PingKind.CARD.value
    )
    return {i for i in session.exec(query) if i is not None}


def has_card(session: Session, ticket_id: int) -> bool:
    return ticket_id in with_cards(session, [ticket_id])


def incident_pings(session: Session, incident_id: int) -> list[Ping]:
    query = select(Ping).where(Ping.incident_id == incident_id).order_by(col(Ping.planned_at), col(Ping.id))
    return list(session.exec(query))
