"""Block Kit builders on their own, validated against Slack's limits with slack_sdk.models."""

from __future__ import annotations

import pendulum
import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from handlers.rules import eligibility as rules
from handlers.ui import forms
from handlers.ui import incidents as incident_views
from handlers.ui import tickets as views

NOW = pendulum.parse("2026-11-24T10:00:00+01:00")


def ticket(number: int = 42, **changes: object) -> views.TicketView:
    values: dict[str, object] = dict(
        ref=f"T-{number}",
        queue="tech",
        klass="critical",
        topic=None,
        subject="<!channel> calls drop " * 6,
        description="& <@U123> " * 800,
        product="PBX 0A1B",
        critical_reason="call_drops",
        company="Acme <Telecom>",
        filer="UALICE",
        status="open",
        desk_label="CET",
        timezone="Europe/Rome",
        filed_at=NOW,
        due_at=NOW.add(minutes=30),
    )
    values.update(changes)
    return views.TicketView(**values)  # type: ignore[arg-type]


def validate_view(view: dict) -> None:
    View(**view).validate_json()


def validate_blocks(blocks: list[dict]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


@pytest.mark.parametrize("critical", [False, True])
def test_forms_are_valid_views(critical: bool) -> None:
    metadata = forms.form_metadata("C123")
    validate_view(forms.chooser_modal(metadata))
    validate_view(forms.tech_form(metadata, "https://docs.example", critical=critical))
    validate_view(forms.care_form(metadata, "https://docs.example", "https://faq.example"))
    assert forms.read_form_origin(metadata).channel == "C123"
    assert forms.read_form_origin("not json").channel is None


def test_forms_name_their_fields_as_people_do() -> None:
    tech = forms.tech_form("", "https://docs.example")
    labels = [b["label"]["text"] for b in tech["blocks"] if b["type"] == "input"]
    assert labels == ["Subject", "Description", "Product / PBX", "Class", "Critical reason"]
    care = forms.care_form("", "https://docs.example", "https://faq.example")
    labels = [b["label"]["text"] for b in care["blocks"] if b["type"] == "input"]
    assert labels == ["Topic", "Subject", "Description", "Are incoming or outgoing calls failing?"]
    assert "https://faq.example" in str(care) and "English only" in str(care)


@pytest.mark.parametrize("status", ["open", "claimed", "resolved"])
def test_card_is_valid_and_escaped(status: str) -> None:
    text, blocks = views.ticket_card(
        ticket(status=status, claimant="UAGENT1", resolution_note="<!here> done")
    )
    validate_blocks(blocks)
    assert (
        "<!channel>" not in text + str(blocks)
        and "<@U123>" not in str(blocks)
        and "<!here>" not in str(blocks)
    )
    has_buttons = any(b["type"] == "actions" for b in blocks)
    assert has_buttons == (status != "resolved")
    _, status_blocks = views.ticket_status_blocks(ticket(status=status, claimant="UAGENT1"), NOW)
    validate_blocks(status_blocks)
    assert not any(b["type"] == "actions" for b in status_blocks)


def test_lists_stay_within_limits_for_a_500_ticket_queue() -> None:
    many = [ticket(n) for n in range(500)]
    blocks = views.ticket_list_blocks("Queue", many, 500, NOW, "empty")
    validate_blocks(blocks)
    assert "480 more" in str(blocks[-1])
    home = views.home_view("SLA Desk", [blocks, blocks, blocks])
    validate_view(home)


def test_time_words() -> None:
    due = pendulum.parse("2026-11-24T18:00:00+01:00")
    assert views.due_in_words(due, NOW, "Europe/Rome", "CET") == "by 18:00 CET today"
    assert views.due_in_words(due.add(days=1), NOW, "Europe/Rome", "CET") == "by 18:00 CET tomorrow"
    assert views.due_in_words(due.add(days=6), NOW, "Europe/Rome", "CET") == "by 18:00 CET Monday 30 November"
    assert views.time_left(NOW.add(minutes=25), NOW) == "due in 25 min"
    assert views.time_left(NOW.subtract(hours=2), NOW) == "breached 2 h ago"
    assert views.time_left(NOW.add(hours=3, minutes=10), NOW) == "due in 3 h 10 min"


def test_escape_and_cut() -> None:
    assert rules.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    cut = rules.cut(rules.escape("&" * 100), 20)
    assert cut.endswith("… (cut)") and "&amp" not in cut.replace("&amp;", "")
    assert rules.clean("a\x00b\x1bc ") == "abc"


def incident(lines: int, **changes: object) -> incident_views.IncidentView:
    values: dict[str, object] = dict(
        ref="I-3",
        desk="cet",
        desk_label="CET",
        timezone="Europe/Rome",
        reason="cloud_unreachable",
        status="open",
        opened_at=NOW,
        due_at=NOW.add(minutes=30),
        latest_update="<!channel> " + "restoring " * 400,
        link="https://slack.example/archives/CTECH/p1",
        tickets=tuple(
            incident_views.IncidentLine(
                f"T-{n}", f"Partner <{n}> & co " * 3, "<!here> cloud gone " * 10, NOW, "open"
            )
            for n in range(lines)
        ),
    )
    values.update(changes)
    return incident_views.IncidentView(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("lines", [1, 20, 500])
@pytest.mark.parametrize("status", ["open", "claimed", "resolved"])
def test_the_incident_message_is_valid_escaped_and_within_limits(lines: int, status: str) -> None:
    changes: dict[str, object] = {}
    if status == "claimed":
        changes = {"claimant": "UAGENT1"}
    if status == "resolved":
        changes = {"status": "resolved", "resolved_by": "UAGENT1", "resolution_note": "fixed " * 600}
    text, blocks = incident_views.incident_message(incident(lines, **changes))
    validate_blocks(blocks)
    shown = str(blocks)
    assert "<!here>" not in shown and "<!channel>" not in shown and "Partner &lt;0&gt;" in shown
    assert f"{lines} ticket" in text
    if lines == 500:
        assert "…and 400 more" in shown
    buttons = [b for b in blocks if b["type"] == "actions"]
    assert (buttons == []) == (status == "resolved")
    validate_view(incident_views.update_modal("I-3", "CTECH"))
    validate_view(incident_views.resolve_modal("I-3", "CTECH"))
    validate_blocks(incident_views.incidents_blocks([incident(lines)] * 30, NOW))
