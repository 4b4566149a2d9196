"""The vendor's rules on their own: who may file, where it goes, English, and safe text."""

from __future__ import annotations

import pytest

from handlers.rules import eligibility as rules
from handlers.rules.eligibility import FilerFacts, FilingRefusal, may_file, route
from storage.vocabulary import Queue, TicketClass

LADDER, MINIMUM = ("W-FE", "W-SE", "W-DE"), "W-FE"


def member(tier: str = "gold", certification: str | None = "W-FE", **more: object) -> FilerFacts:
    return FilerFacts(company="Acme Telecom", tier=tier, certification=certification, **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("certification", "certified"),
    [("W-FE", True), ("w-se ", True), ("W-DE", True), (None, False), ("", False), ("W-XX", False)],
)
def test_certified_at_or_above_the_lowest_qualifying_level(
    certification: str | None, certified: bool
) -> None:
    assert rules.is_certified(certification, LADDER, MINIMUM) is certified
    assert rules.is_certified("W-FE", LADDER, "W-SE") is False


def test_a_stranger_is_sent_to_their_system_integrator() -> None:
    decision = may_file(None, Queue.TECH, LADDER, MINIMUM)
    assert decision.refusal is FilingRefusal.NOT_A_MEMBER and "system integrator" in decision.message


@pytest.mark.parametrize("queue", list(Queue))
@pytest.mark.parametrize("tier", ["bronze", "reseller"])
def test_bronze_and_resellers_are_referred_for_both_queues(queue: Queue, tier: str) -> None:
    facts = member(tier, assigned_partner="Gold & Co", assigned_partner_contacts=("UGOLD",))
    decision = may_file(facts, queue, LADDER, MINIMUM)
    assert decision.refusal is FilingRefusal.REFERRED
    assert "Gold &amp; Co" in decision.message and "<@UGOLD>" in decision.message


def test_uncertified_members_may_file_customer_care_but_not_technical_support() -> None:
    facts = member(certification=None, certified_colleagues=("<@UALICE>",))
    assert may_file(facts, Queue.CARE, LADDER, MINIMUM).allowed
    refused = may_file(facts, Queue.TECH, LADDER, MINIMUM, support_phone="+39 1")
    assert refused.refusal is FilingRefusal.NOT_CERTIFIED
    assert "W-FE" in refused.message and "<@UALICE>" in refused.message and "+39 1" in refused.message
    alone = may_file(member(certification=None), Queue.TECH, LADDER, MINIMUM)
    assert "Nobody at Acme Telecom is certified yet" in alone.message


def test_certified_members_of_filing_tiers_may_file_both() -> None:
    for tier in ("platinum", "gold", "silver"):
        assert may_file(member(tier), Queue.TECH, LADDER, MINIMUM).allowed
        assert may_file(member(tier), Queue.CARE, LADDER, MINIMUM).allowed


def test_routing() -> None:
    assert route(Queue.CARE, None, "classound", True) == rules.Routing(Queue.TECH, TicketClass.CRITICAL, True)
    assert route(Queue.CARE, None, "classound", False) == rules.Routing(Queue.CARE, None)
    assert route(Queue.CARE, None, "billing", True) == rules.Routing(Queue.CARE, None)
    assert route(Queue.TECH, "critical", None, False).klass is TicketClass.CRITICAL
    assert route(Queue.TECH, None, None, False).klass is TicketClass.STANDARD


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("The November invoice lists two licenses we cancelled in October, please check.", True),
        ("Buongiorno, la fattura di novembre riporta due licenze che abbiamo disdetto a ottobre.", False),
        ("Guten Tag, die Rechnung für November enthält zwei Lizenzen, die wir gekündigt haben.", False),
        ("Fattura sbagliata", True),  # too short to judge
        ("Hi, the invoice for October mentions a PBX we returned, grazie", True),  # mixed
    ],
)
def test_english_only_for_customer_care(text: str, english: bool) -> None:
    assert rules.is_plausibly_english(text) is english


def test_typed_text_is_made_safe_to_repost() -> None:
    assert rules.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert rules.clean("  a\x00b\x1f  ") == "ab"
    cut = rules.cut("&amp;" * 10, 12)
    assert cut.endswith("… (cut)") and not cut.startswith("&amp;&")  # never half an entity
    assert rules.safe("<b>" * 2000, 100).count("<") == 0 and len(rules.safe("x" * 500, 100)) == 100
