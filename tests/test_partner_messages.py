"""Partners in their own Slack (issue 19): people of the partner's workspace acting in its Slack Connect
channel, tickets made from their messages (reaction, shortcut, mention), who may act where, and "Who
may file" in a connected channel as for `/ticket`. Over signed HTTP, with payloads shaped as Slack
sends them for external users, against the fake Slack."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from handlers.ui import channels as channel_views
from storage.db import session_scope
from storage.models import MessageOffer, Partner
from tests.helpers import Desk, audit_events, tickets, wait_until
from tests.slack_requests import button_payload, submitted
from tests.test_partner_channels import SHARED, connect

ACME_TEAM = "T0ACME"
TECH = {"subject": "Calls drop after 30 s", "description": "Every outgoing call drops.", "product": "PBX 1"}
CARE = {"topic": "billing", "subject": "Invoice question", "description": "Two cancelled licenses billed."}
PARTNER_TEXT = "Calls to mobiles drop after 30 s\nSince this morning every outgoing call to a mobile drops."


@pytest.fixture
def acme(desk: Desk) -> Desk:
    """Acme Telecom's own workspace (T0ACME) shares #CACME with the vendor; Carol (a listed member,
    known by the e-mail of her profile) and Xavier (unlisted) are people of that workspace."""
    with session_scope(desk.engine) as session:
        partner = session.exec(select(Partner).where(Partner.name == "Acme Telecom")).one()
        partner.slack_team_id = ACME_TEAM
        session.add(partner)
    desk.fake.channels["CACME"] = SHARED
    desk.fake.user_teams.update(UCAROL=ACME_TEAM, UXAVIER=ACME_TEAM, UTHIRD="T0THIRD", UERINX="T0SILVER")
    desk.fake.emails["UCAROL"] = "carol@acme.example"
    connect(desk)
    return desk


def press(
    desk: Desk, action: str, value: str, user: str, team: str, channel: str = "CACME", trigger: str = "t.1"
) -> dict[str, Any] | None:
    """A button pressed by a person of `team`; the form it opened (None when it opened none)."""
    before = len(desk.fake.calls_to("views.open"))
    payload = {**button_payload(action, value, user, channel, team), "trigger_id": trigger}
    payload["response_url"] = desk.slack.response_url
    assert desk.slack.interaction(payload).status_code == 200
    desk.settle()
    opened = desk.fake.calls_to("views.open")
    return opened[-1]["view"] if len(opened) > before else None


def refused_form(desk: Desk) -> str:
    """The text of the refusal that replaced the form just opened."""
    [update] = desk.fake.wait_for("views.update", 1)[-1:]
    desk.fake.calls = [c for c in desk.fake.calls if c.method != "views.update"]
    return " ".join(b["text"]["text"] for b in update["view"]["blocks"])


def submit(desk: Desk, form: dict[str, Any], user: str, team: str, view_id: str, **answers: Any) -> Any:
    response = desk.slack.view_submission(submitted(form, answers), user, view_id=view_id, team=team)
    assert response.status_code == 200
    desk.settle()
    return response.json() if response.content else None


def partner_says(
    desk: Desk, text: str = PARTNER_TEXT, user: str = "UCAROL", ts: str = "1795510001.000100"
) -> dict[str, Any]:
    """A message of the partner's person in the shared channel, as Slack keeps it."""
    message = {"type": "message", "user": user, "text": text, "ts": ts}
    message.update(team=ACME_TEAM, user_team=ACME_TEAM)
    desk.fake.messages["CACME"].append(message)
    return message


def initial_values(form: dict[str, Any]) -> dict[str, Any]:
    return {b["block_id"]: b["element"].get("initial_value") for b in form["blocks"] if b["type"] == "input"}


def thrice(desk: Desk, event: dict[str, Any], event_id: str) -> None:
    for retry in (0, 1, 2):  # Slack delivers it again when an ack was slow
        assert desk.slack.event(event, event_id=event_id, retry=retry, ext_shared=True).status_code == 200
    desk.settle()


def offers_in(desk: Desk, thread_ts: str) -> list[dict[str, Any]]:
    return [
        m for m in desk.fake.delivered("CACME")
        if m.get("thread_ts") == thread_ts and "Shall SLA Desk open a ticket" in str(m.get("text"))
    ]  # fmt: skip


def test_a_partner_member_files_from_the_intro_confirmation_in_the_channel_card_in_the_queue(
    acme: Desk,
) -> None:
    form = press(acme, channel_views.INTRO_TECH_ACTION, "tech", "UCAROL", ACME_TEAM)
    assert form is not None and form["callback_id"] == "ticket_form_tech"
    assert not acme.fake.calls_to("views.update")  # Carol is a member (by her profile's e-mail), certified
    assert submit(acme, form, "UCAROL", ACME_TEAM, "VEXT1", **TECH) is None
    [ticket] = tickets(acme)
    assert (ticket.filer_user_id, ticket.filer_channel) == ("UCAROL", "CACME")
    wait_until(lambda: acme.fake.delivered("CTECH"))
    [card] = acme.fake.delivered("CTECH")
    assert "Acme Telecom" in str(card["blocks"])
    [confirmation] = [m for m in acme.fake.delivered("CACME") if "T-1" in str(m.get("text"))]
    # The partner sees the receipt only: never the card, its buttons or internal notes.
    assert "claim" not in str(confirmation).lower() and confirmation.get("blocks") in (None, [])


def test_a_ticket_emoji_reaction_offers_the_message_once_and_files_it_prefilled_in_its_thread(
    acme: Desk,
) -> None:
    message = partner_says(acme)
    reaction = {
        "type": "reaction_added", "user": "UCAROL", "user_team": ACME_TEAM, "reaction": "ticket",
        "item": {"type": "message", "channel": "CACME", "ts": message["ts"]}, "item_user": "UCAROL",
        "event_ts": "1795510002.000100",
    }  # fmt: skip
    thrice(acme, reaction, "EvREACT1")
    [offer] = wait_until(lambda: offers_in(acme, message["ts"]))
    acme.settle()
    assert len(offers_in(acme, message["ts"])) == 1
    form = press(acme, channel_views.OFFER_TECH_ACTION, message["ts"], "UCAROL", ACME_TEAM)
    assert form is not None and form["callback_id"] == "ticket_form_tech"
    initial = initial_values(form)
    assert initial["subject"] == "Calls to mobiles drop after 30 s"
    assert initial["description"] == PARTNER_TEXT
    submit(acme, form, "UCAROL", ACME_TEAM, "VEXT2", product="PBX 1")
    [ticket] = tickets(acme)
    assert (ticket.filer_channel, ticket.filer_thread_ts) == ("CACME", message["ts"])
    assert ticket.subject == "Calls to mobiles drop after 30 s"
    replies = [m for m in acme.fake.delivered("CACME") if m.get("thread_ts") == message["ts"]]
    assert any("T-1" in str(m.get("text")) for m in replies)  # the confirmation, in the message's thread
    # The same message again: one message, one ticket.
    again = press(acme, channel_views.OFFER_CARE_ACTION, message["ts"], "UCAROL", ACME_TEAM, trigger="t.2")
    assert again is None and len(tickets(acme)) == 1


def test_a_reaction_elsewhere_or_with_another_emoji_offers_nothing(acme: Desk) -> None:
    message = partner_says(acme)
    other = {
        "type": "reaction_added", "user": "UCAROL", "user_team": ACME_TEAM, "reaction": "tada",
        "item": {"type": "message", "channel": "CACME", "ts": message["ts"]}, "event_ts": "1.1",
    }  # fmt: skip
    thrice(acme, other, "EvREACT2")
    elsewhere = {**other, "reaction": "ticket", "user": "UALICE", "user_team": "T0TEAM"}
    elsewhere["item"] = {"type": "message", "channel": "CTECH", "ts": "1795510001.000100"}
    thrice(acme, elsewhere, "EvREACT3")
    assert not offers_in(acme, message["ts"]) and not acme.fake.calls_to("conversations.history")


def test_the_shortcut_opens_the_form_prefilled_and_files_once(acme: Desk) -> None:
    message = partner_says(acme)
    for trigger in ("t.sc1", "t.sc2", "t.sc3"):  # three openings of the shortcut on one message
        assert acme.slack.shortcut(message, "UCAROL", "CACME", ACME_TEAM, trigger=trigger).status_code == 200
    acme.settle()
    choosers = acme.fake.calls_to("views.open")
    assert len(choosers) == 3 and choosers[0]["view"]["callback_id"] == "ticket_form_choose"
    with session_scope(acme.engine) as session:
        assert len(session.exec(select(MessageOffer)).all()) == 1
    assert not offers_in(acme, message["ts"])  # the shortcut opened the form: no buttons posted
    views = []
    for n, chooser in enumerate(choosers[:2]):
        body = submit(acme, chooser["view"], "UCAROL", ACME_TEAM, f"VCH{n}", queue="care")
        assert body["response_action"] == "update"
        views.append(body["view"])
    initial = initial_values(views[0])
    assert initial["subject"] == "Calls to mobiles drop after 30 s"
    assert submit(acme, views[0], "UCAROL", ACME_TEAM, "VSC1", topic="billing") is None
    second = submit(acme, views[1], "UCAROL", ACME_TEAM, "VSC2", topic="billing")
    assert "already T-1" in str(second["errors"])
    [ticket] = tickets(acme)
    assert ticket.queue == "care" and ticket.filer_thread_ts == message["ts"]


def test_a_mention_offers_the_message_once(acme: Desk) -> None:
    mention = {
        "type": "app_mention", "user": "UCAROL", "user_team": ACME_TEAM, "team": ACME_TEAM,
        "text": "<@UBOTSLADESK> Our invoice lists two cancelled licenses", "ts": "1795510003.000100",
        "channel": "CACME", "event_ts": "1795510003.000100",
    }  # fmt: skip
    thrice(acme, mention, "EvMENTION1")
    [offer] = wait_until(lambda: offers_in(acme, mention["ts"]))
    form = press(acme, channel_views.OFFER_CARE_ACTION, mention["ts"], "UCAROL", ACME_TEAM)
    assert form is not None
    initial = initial_values(form)
    assert initial["subject"] == "Our invoice lists two cancelled licenses"  # the mention taken out
    submit(acme, form, "UCAROL", ACME_TEAM, "VMEN1", topic="billing")
    assert [t.filer_thread_ts for t in tickets(acme)] == [mention["ts"]]


def test_an_unlisted_member_of_the_partners_team_is_refused_tech_and_may_file_care(acme: Desk) -> None:
    form = press(acme, channel_views.INTRO_TECH_ACTION, "tech", "UXAVIER", ACME_TEAM)
    assert form is not None
    text = refused_form(acme)
    assert "W-FE" in text and "<@UALICE>" in text and "carol@acme.example" in text  # certified colleagues
    assert "not listed" in text and "partner manager" in text  # how to get listed
    form = press(acme, channel_views.INTRO_CARE_ACTION, "care", "UXAVIER", ACME_TEAM, trigger="t.2")
    assert form is not None and not acme.fake.calls_to("views.update")
    submit(acme, form, "UXAVIER", ACME_TEAM, "VUNL1", **CARE)
    [ticket] = tickets(acme)
    assert ticket.filer_user_id == "UXAVIER" and ticket.queue == "care"
    with session_scope(acme.engine) as session:
        assert session.get(Partner, ticket.partner_id).name == "Acme Telecom"  # type: ignore[union-attr]


def test_a_person_of_a_third_team_is_refused_and_nothing_is_stored(acme: Desk) -> None:
    before = len(audit_events(acme, "filing_refused"))
    assert press(acme, channel_views.INTRO_TECH_ACTION, "tech", "UTHIRD", "T0THIRD") is None
    [told] = wait_until(lambda: acme.fake.calls_to("chat.postEphemeral"))
    assert told["user"] == "UTHIRD" and "not connected to this channel" in told["text"]
    form = press(acme, channel_views.INTRO_TECH_ACTION, "tech", "UCAROL", ACME_TEAM, trigger="t.2")
    assert form is not None
    body = submit(acme, form, "UTHIRD", "T0THIRD", "VTHIRD", **TECH)  # a form passed on, submitted by them
    assert body["response_action"] == "errors" and "not connected" in str(body["errors"])
    message = partner_says(acme, user="UTHIRD")
    reaction = {
        "type": "reaction_added", "user": "UTHIRD", "user_team": "T0THIRD", "reaction": "ticket",
        "item": {"type": "message", "channel": "CACME", "ts": message["ts"]}, "event_ts": "2.1",
    }  # fmt: skip
    thrice(acme, reaction, "EvTHIRD")
    assert tickets(acme) == [] and not offers_in(acme, message["ts"])
    with session_scope(acme.engine) as session:
        assert session.exec(select(MessageOffer)).all() == []
    assert len(audit_events(acme, "filing_refused")) == before


def test_a_partner_in_another_partners_channel_is_refused(acme: Desk) -> None:
    with session_scope(acme.engine) as session:
        silverline = session.exec(select(Partner).where(Partner.name == "Silverline")).one()
        silverline.slack_team_id = "T0SILVER"
        session.add(silverline)
    acme.fake.channels["CSILVER"] = {**SHARED, "shared_team_ids": ["T0TEAM", "T0SILVER"]}
    connect(acme, company="Silverline", channel="CSILVER")
    listed = press(acme, channel_views.INTRO_LIST_ACTION, "list", "UCAROL", ACME_TEAM, channel="CSILVER")
    assert listed is None
    [told] = wait_until(lambda: acme.fake.calls_to("chat.postEphemeral"))
    assert told["user"] == "UCAROL" and "serves another partner company" in told["text"]
    assert not acme.fake.calls_to("hook")  # no ticket list of Silverline's was answered


@pytest.mark.heavy
def test_a_reply_in_the_shared_thread_reaches_the_card_thread_and_back(acme: Desk) -> None:
    form = press(acme, channel_views.INTRO_TECH_ACTION, "tech", "UCAROL", ACME_TEAM)
    assert form is not None
    submit(acme, form, "UCAROL", ACME_TEAM, "VEXT9", **TECH)
    ticket = wait_until(lambda: [t for t in tickets(acme) if t.card_ts and t.filer_thread_ts])[0]
    acme.settle()
    said = {
        "type": "message", "channel": "CACME", "user": "UCAROL", "user_team": ACME_TEAM, "team": ACME_TEAM,
        "source_team": ACME_TEAM, "text": "Still dropping after the reboot", "ts": "1795510010.000100",
        "thread_ts": ticket.filer_thread_ts,
    }  # fmt: skip
    thrice(acme, said, "EvSAY1")
    acme.tick()
    copied = [m for m in acme.fake.delivered("CTECH") if "Still dropping" in str(m.get("text"))]
    assert len(copied) == 1 and copied[0]["thread_ts"] == ticket.card_ts
    agent = {
        "type": "message", "channel": "CTECH", "user": "UAGENT2", "text": "Checking the trunk now",
        "ts": "1795510020.000100", "thread_ts": ticket.card_ts,
    }  # fmt: skip
    assert acme.slack.event(agent).status_code == 200
    acme.settle()
    acme.tick()
    back = [m for m in acme.fake.delivered("CACME") if "Checking the trunk" in str(m.get("text"))]
    assert len(back) == 1 and back[0]["thread_ts"] == ticket.filer_thread_ts


# --- "Who may file", the same in a connected channel as for /ticket -------------------------------------


def open_by(desk: Desk, entry: str, user: str, queue: str) -> dict[str, Any]:
    """Open `queue`'s form as `user` by one entry point: the command, the intro, a reaction's offer."""
    if entry == "command":
        from tests.helpers import open_form

        return open_form(desk, f"new {queue}", user)
    if entry == "intro":
        action = channel_views.INTRO_TECH_ACTION if queue == "tech" else channel_views.INTRO_CARE_ACTION
        form = press(desk, action, queue, user, "T0TEAM")
    else:
        message = partner_says(desk, user=user, ts=f"17955100{len(desk.fake.calls):02d}.000100")
        reaction = {
            "type": "reaction_added", "user": user, "reaction": "ticket", "event_ts": "3.1",
            "item": {"type": "message", "channel": "CACME", "ts": message["ts"]},
        }  # fmt: skip
        thrice(desk, reaction, f"Ev{message['ts']}")
        wait_until(lambda: offers_in(desk, message["ts"]))
        action = channel_views.OFFER_TECH_ACTION if queue == "tech" else channel_views.OFFER_CARE_ACTION
        form = press(desk, action, message["ts"], user, "T0TEAM")
    assert form is not None
    return form


ENTRIES = ["command", "intro", "offer"]


@pytest.mark.parametrize("entry", ENTRIES)
def test_who_may_file_holds_for_every_entry_point(acme: Desk, entry: str) -> None:
    # An end user, a Bronze partner's member, an uncertified member: refused, each with its reason.
    for user, queue, reason in [
        ("UNOBODY", "care", "system integrator"),
        ("UDAVE", "care", "Bronze"),
        ("UBOB", "tech", "<@UALICE>"),
    ]:
        open_by(acme, entry, user, queue)
        assert reason in refused_form(acme)
    # The uncertified member may file Customer Care; the certified one Technical Support.
    for user, queue, answers in [("UBOB", "care", CARE), ("UALICE", "tech", TECH)]:
        form = open_by(acme, entry, user, queue)
        submit(acme, form, user, "T0TEAM", f"V{entry}{user}", **answers)
    filed = tickets(acme)
    assert [(t.filer_user_id, t.queue) for t in filed] == [("UBOB", "care"), ("UALICE", "tech")]
    if entry != "command":
        assert {t.filer_channel for t in filed} == {"CACME"}


@pytest.mark.heavy
def test_every_partner_channel_request_is_acked_in_time_with_slack_at_half_a_second_a_call(
    acme: Desk,
) -> None:
    """Slack answers every Web API call after 0.5 s: the acks still come at once, the forms open."""
    import time

    message = partner_says(acme)
    acme.fake.delay = 0.5
    reaction = {
        "type": "reaction_added", "user": "UXAVIER", "user_team": ACME_TEAM, "reaction": "ticket",
        "item": {"type": "message", "channel": "CACME", "ts": message["ts"]}, "event_ts": "4.1",
    }  # fmt: skip
    mention = {
        "type": "app_mention", "user": "UXAVIER", "user_team": ACME_TEAM, "channel": "CACME",
        "text": "<@UBOTSLADESK> please look", "ts": "1795510030.000100", "event_ts": "4.2",
    }  # fmt: skip
    intro = {**button_payload(channel_views.INTRO_CARE_ACTION, "care", "UXAVIER", "CACME", ACME_TEAM)}
    requests = [
        lambda: acme.slack.interaction(
            {**intro, "trigger_id": "t.slow1", "response_url": acme.slack.response_url}
        ),
        lambda: acme.slack.shortcut(message, "UXAVIER", "CACME", ACME_TEAM, trigger="t.slow2"),
        lambda: acme.slack.event(reaction, event_id="EvSLOW1", ext_shared=True),
        lambda: acme.slack.event(mention, event_id="EvSLOW2", ext_shared=True),
    ]
    for send in requests:
        started = time.monotonic()
        assert send().status_code == 200
        assert time.monotonic() - started < 1.0, "acknowledged too late"
    wait_until(lambda: len(acme.fake.calls_to("views.open")) == 2, timeout=15)
    wait_until(lambda: offers_in(acme, message["ts"]) and offers_in(acme, mention["ts"]), timeout=15)


def test_notices_in_a_partner_channel_name_no_slash_command_the_partner_cannot_use(acme: Desk) -> None:
    from tests.helpers import reply

    form = press(acme, channel_views.INTRO_TECH_ACTION, "tech", "UCAROL", ACME_TEAM)
    assert form is not None
    submit(acme, form, "UCAROL", ACME_TEAM, "VEXTR", **TECH)
    reply(acme, "claim T-1", "UAGENT2")
    reply(acme, "resolve T-1 fixed", "UAGENT2")
    acme.settle()
    acme.tick()
    [resolved] = [m for m in acme.fake.delivered("CACME") if "resolved T-1" in str(m.get("text"))]
    assert "reply in this thread" in resolved["text"] and "/ticket" not in resolved["text"]
