"""Partner channels: which channel serves which company, and whether it is still shared."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import MessageOffer, Partner, PartnerChannel
from storage.vocabulary import ChannelStatus


def get_channel(session: Session, channel_id: str) -> PartnerChannel | None:
    return session.get(PartnerChannel, channel_id)


def connect_channel(
    session: Session,
    channel_id: str,
    partner_id: int,
    is_shared: bool,
    team_ids: Iterable[str],
    by: str,
    at: datetime,
) -> PartnerChannel:
    """Link the channel to the company (again): a channel serves one company; the caller checked it."""
    row = session.get(PartnerChannel, channel_id, with_for_update=True)
    teams = ",".join(sorted(set(team_ids)))
    if row is None:
        row = PartnerChannel(
            channel_id=channel_id, partner_id=partner_id, is_shared=is_shared, team_ids=teams,
            connected_by=by, connected_at=at, changed_at=at,
        )  # fmt: skip
    else:
        row.partner_id, row.is_shared, row.team_ids, row.changed_at = partner_id, is_shared, teams, at
        row.status = ChannelStatus.CONNECTED.value
    session.add(row)
    session.flush()
    return row


def set_status(session: Session, channel_id: str, status: ChannelStatus, at: datetime) -> bool:
    """True when the status changed (so that what follows a change happens once)."""
    row = session.get(PartnerChannel, channel_id, with_for_update=True)
    if row is None or row.status == status.value:
        return False
    row.status, row.changed_at = status.value, at
    session.add(row)
    return True


def set_teams(session: Session, channel_id: str, teams: Iterable[str], is_shared: bool, at: datetime) -> None:
    row = session.get(PartnerChannel, channel_id, with_for_update=True)
    if row is not None:
        row.team_ids, row.is_shared, row.changed_at = ",".join(sorted(set(teams))), is_shared, at
        session.add(row)


def set_intro(session: Session, channel_id: str, ts: str) -> None:
    row = session.get(PartnerChannel, channel_id)
    if row is not None:
        row.intro_ts = ts
        session.add(row)


def channels_with_companies(session: Session) -> list[tuple[PartnerChannel, str]]:
    query = (
        select(PartnerChannel, Partner.name)
        .join(Partner, col(Partner.id) == col(PartnerChannel.partner_id))
        .order_by(col(Partner.name), col(PartnerChannel.channel_id))
    )
    return [(channel, str(name)) for channel, name in session.exec(query).all()]


def serves_partner(session: Session, channel_id: str) -> bool:
    """A connected partner channel (a Slack Connect one, usually)."""
    row = session.get(PartnerChannel, channel_id)
    return row is not None and row.status == ChannelStatus.CONNECTED.value


def teams_of_connected_channels(session: Session) -> set[str]:
    """Every partner team some connected channel connects."""
    query = select(PartnerChannel.team_ids).where(PartnerChannel.status == ChannelStatus.CONNECTED.value)
    return {team for teams in session.exec(query).all() for team in teams.split(",") if team}


def team_connected_to_company(session: Session, team: str, partner_id: int) -> bool:
    """Is `team` connected to the company by one of its channels that is still connected?"""
    query = select(PartnerChannel).where(
        PartnerChannel.partner_id == partner_id, PartnerChannel.status == ChannelStatus.CONNECTED.value
    )
    return any(team in channel.teams for channel in session.exec(query).all())


def record_offer(
    session: Session,
    channel_id: str,
    message_ts: str,
    thread_ts: str,
    author: str | None,
    text: str,
    by: str,
    at: datetime,
) -> tuple[MessageOffer, bool]:
    """The message offered as a ticket, once however often Slack tells of it: (offer, new)."""
    found = session.get(MessageOffer, (channel_id, message_ts))
    if found is not None:
        return found, False
    offer = MessageOffer(
        channel_id=channel_id, message_ts=message_ts, thread_ts=thread_ts, author_user_id=author,
        text=text, offered_by=by, offered_at=at,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(offer)
    except IntegrityError:  # another process recorded it first
        found = session.get(MessageOffer, (channel_id, message_ts))
        assert found is not None
        return found, False
    return offer, True


def get_offer(session: Session, channel_id: str, message_ts: str) -> MessageOffer | None:
    return session.get(MessageOffer, (channel_id, message_ts))
