"""One renderer per ping kind, on plain facts: where each message goes and what it says."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pendulum
from slack_sdk.models.blocks import Block

from handlers.config import DeskConfig, DeskContacts
from handlers.delivery.renderers import SUPERSEDED, Message, PingFacts, Skip, render
from handlers.rules import retry
from handlers.ui.tickets import TicketView
from storage.vocabulary import PingKind

FILED = pendulum.parse("2026-11-27T17:00:00+01:00")
CONFIG = DeskConfig(contacts={"cet": DeskContacts(lead_group="S0LEADS", oncall="U0ONCALL")})
VIEW = TicketView(
    ref="T-7", queue="tech", klass="standard", topic=None, subject="Calls <!channel> drop",
    description="d", product="PBX", critical_reason=None, company="Acme <b>", filer="UALICE",
    status="open", desk_label="CET", timezone="Europe/Rome", filed_at=FILED,
    due_at=FILED.add(hours=1), desk="cet",
)  # fmt: skip


def facts(kind: PingKind, **changes: Any) -> PingFacts:
    base = PingFacts(
        kind=kind, seq=0, text=None, planned_at=FILED.add(minutes=30), ticket=VIEW,
        queue_channel="CTECH", card_ts="1.1", filer_user_id="UALICE", filer_channel="CPARTNER",
        filer_thread_ts="2.2", outside_hours=False, leads=("ULEAD",),
    )  # fmt: skip
    return replace(base, **changes)


def message(kind: PingKind, now: pendulum.DateTime | None = None, **changes: Any) -> Message:
    rendered = render(facts(kind, **changes), now or FILED.add(minutes=30), CONFIG)
    assert isinstance(rendered, Message), rendered
    return rendered


def test_card_and_its_update_go_to_the_queue_channel_with_valid_blocks() -> None:
    card = message(PingKind.CARD)
    assert card.channel == "CTECH" and card.update_ts is None and card.blocks
    for block in card.blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    assert "&lt;!channel&gt;" in str(card.blocks) and "<!channel>" not in str(card.blocks)
    assert message(PingKind.CARD_UPDATE).update_ts == "1.1"


def test_a_card_update_waits_for_a_card_in_flight_and_gives_up_on_one_that_failed() -> None:
    waiting = render(facts(PingKind.CARD_UPDATE, card_ts=None, card_pending=True), FILED, CONFIG)
    assert isinstance(waiting, Skip) and waiting.retry_in == retry.PARENT_WAIT_SECONDS
    gone = render(facts(PingKind.CARD_UPDATE, card_ts=None), FILED, CONFIG)
    assert isinstance(gone, Skip) and gone.retry_in is None


def test_warnings_go_in_the_card_thread_and_breaches_in_the_channel_naming_the_leads() -> None:
    warning = message(PingKind.WARNING, seq=1)
    assert warning.thread_ts == "1.1" and "80%" in warning.text and not warning.late
    breach = message(PingKind.BREACH, now=FILED.add(hours=1))
    assert breach.thread_ts is None and "<!subteam^S0LEADS>" in breach.text and "<@ULEAD>" in breach.text
    escalation = message(PingKind.ESCALATION, seq=2, now=FILED.add(hours=2), planned_at=FILED.add(hours=2))
    assert "Escalation 2" in escalation.text and "&lt;!channel&gt;" in escalation.text and not escalation.late


def test_a_late_ping_says_so_and_only_blames_slack_when_slack_refused() -> None:
    late = message(PingKind.BREACH, now=FILED.add(hours=3), missed=2)
    assert late.late and "posted late" in late.text and "2 earlier reminders" in late.text
    assert "Slack" not in late.text and "offline" not in late.text
    refused = message(PingKind.BREACH, now=FILED.add(hours=3), slack_refused=True)
    assert "Slack did not accept it in time" in refused.text


def test_deadline_pings_are_dropped_once_answered_or_overtaken() -> None:
    assert render(facts(PingKind.WARNING, answered=True), FILED, CONFIG) == Skip(
        "answered before the ping was due"
    )
    assert render(facts(PingKind.WARNING, later_due=True), FILED, CONFIG) == Skip(SUPERSEDED)
    assert isinstance(render(facts(PingKind.NOTICE, answered=True, text="hi"), FILED, CONFIG), Message)


def test_pages_go_to_the_on_call_and_notices_wait_for_the_confirmation() -> None:
    assert message(PingKind.PAGE).channel == "U0ONCALL"
    no_oncall = render(facts(PingKind.PAGE), FILED, DeskConfig())
    assert isinstance(no_oncall, Message) and no_oncall.channel == "ULEAD"
    notice = message(PingKind.NOTICE, text="picked up")
    assert (notice.channel, notice.thread_ts, notice.text) == ("CPARTNER", "2.2", "picked up")
    waiting = render(facts(PingKind.NOTICE, filer_thread_ts=None, confirmation_pending=True), FILED, CONFIG)
    assert isinstance(waiting, Skip) and waiting.retry_in


def test_a_lead_alert_needs_a_lead() -> None:
    assert message(PingKind.LEAD_ALERT, text="cannot post").channel == "ULEAD"
    assert isinstance(render(facts(PingKind.LEAD_ALERT, leads=()), FILED, CONFIG), Skip)


def test_one_update_of_a_card_at_a_time() -> None:
    """An update rendered earlier must not land after a later one: it waits, then renders afresh."""
    waiting = render(facts(PingKind.CARD_UPDATE, card_update_in_flight=True), FILED, CONFIG)
    assert isinstance(waiting, Skip) and waiting.retry_in == 0.0
