"""The vendor's rules: who may file, where, and how user text is made safe to repost.

Pure: plain values in, plain values out; no Slack and no database here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from storage.vocabulary import REFERRED_TIERS, Queue, TicketClass

CRITICAL_REASONS = {
    "call_drops": "Call drops not caused by the operator",
    "cloud_unreachable": "Cloud system unreachable",
    "business_down": "Business operations severely impacted, no workaround",
}

CARE_TOPICS = {
    "billing": "Billing",
    "classound": "CLASSOUND (numbers, cancellations, caller name)",
    "hwaas": "HWaaS (PBX change, spare parts)",
    "pbx_licenses": "PBX / Licenses",
    "orders": "Orders",
    "portal_errors": "Portal errors",
    "promo": "Promo",
    "company_info": "Company information changes",
    "general": "General questions",
    "feature_request": "Feature request",
}

# Slack's own limits for the places user text goes.
SUBJECT_MAX = 150
DESCRIPTION_MAX = 3000
PRODUCT_MAX = 150
NOTE_MAX = 2000


class FilingRefusal(StrEnum):
    NOT_A_MEMBER = "not_a_member"
    REFERRED = "referred"
    NOT_CERTIFIED = "not_certified"
    NOT_ENGLISH = "not_english"


@dataclass(frozen=True)
class FilerFacts:
    """What the directory knows of the person filing."""

    company: str
    tier: str
    certification: str | None
    assigned_partner: str | None = None
    assigned_partner_contacts: Sequence[str] = ()  # Slack user ids
    certified_colleagues: Sequence[str] = ()  # Slack mentions or escaped e-mails, ready to show
    # A person of the company's own Slack team whom the directory does not list yet.
    unlisted: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    refusal: FilingRefusal | None = None
    message: str = ""


ALLOWED = Decision(True)


def is_certified(certification: str | None, ladder: Sequence[str], minimum: str) -> bool:
    """At or above the lowest qualifying level of the ordered training ladder."""
    if not certification:
        return False
    levels = [level.casefold() for level in ladder]
    try:
        return levels.index(certification.strip().casefold()) >= levels.index(minimum.casefold())
    except ValueError:
        return False


def may_file(
    filer: FilerFacts | None,
    queue: Queue,
    ladder: Sequence[str],
    minimum: str,
    support_phone: str | None = None,
) -> Decision:
    """SPEC's "Who may file" table. `support_phone` is named when calls are failing right now."""
    if filer is None:
        return Decision(
            False,
            FilingRefusal.NOT_A_MEMBER,
            "You are not registered as a member of a partner company, so SLA Desk can't open a "
            "ticket for you. Please contact your system integrator (the partner who installed your "
            "system): they open tickets on your behalf.",
        )
    # Names come from the directory file: escaped like anything typed, so they can't notify anyone.
    company = escape(filer.company)
    if filer.tier in REFERRED_TIERS:
        partner = escape(filer.assigned_partner or "your assigned Platinum or Gold partner")
        contacts = ", ".join(f"<@{user}>" for user in filer.assigned_partner_contacts)
        return Decision(
            False,
            FilingRefusal.REFERRED,
            f"{company} is a {filer.tier.title()} partner: support comes through its assigned "
            f"partner, {partner}. Please contact them" + (f" ({contacts})." if contacts else "."),
        )
    if queue is Queue.TECH and not is_certified(filer.certification, ladder, minimum):
        colleagues = ", ".join(filer.certified_colleagues)
        who = (
            f"Certified colleagues at {company} who can file it: {colleagues}."
            if colleagues
            else f"Nobody at {company} is certified yet."
        )
        phone = (
            f" For calls failing right now you can also phone support: {support_phone}."
            if support_phone
            else ""
        )
        listed = (
            f" You are not listed in the vendor's partner directory yet: ask your partner manager to "
            f"add you to {company}'s members, with the e-mail of your Slack profile and your "
            "trainings. Until then you may open Customer Care tickets."
            if filer.unlisted
            else ""
        )
        return Decision(
            False,
            FilingRefusal.NOT_CERTIFIED,
            f"Only members who passed at least the {minimum} training may open Technical Support "
            f"tickets. {who}{phone}{listed}",
        )
    return ALLOWED


@dataclass(frozen=True)
class Routing:
    """Where a form's answers go: queue and class (a CLASSOUND outage becomes a critical tech ticket)."""

    queue: Queue
    klass: TicketClass | None
    redirected: bool = False


def route(queue: Queue, klass: str | None, topic: str | None, calls_failing: bool) -> Routing:
    if queue is Queue.CARE and topic == "classound" and calls_failing:
        return Routing(Queue.TECH, TicketClass.CRITICAL, redirected=True)
    if queue is Queue.TECH:
        return Routing(Queue.TECH, TicketClass(klass or TicketClass.STANDARD))
    return Routing(Queue.CARE, None)


# --- English only for Customer Care ----------------------------------------------------------------------

# Texts shorter than this (letters) can't be judged reliably: they pass.
ENGLISH_MIN_LETTERS = 25
ENGLISH_MIN_CONFIDENCE = 0.25
ENGLISH_MIN_WORD_SHARE = 0.25
ENGLISH_MIN_SEGMENT_SHARE = 0.3
_WORD = re.compile(r"[^\W\d_]+")
# Frequent English words that are not also frequent Italian, French, Spanish or German words.
_ENGLISH_TEXT = """
the and is are was were be been have has had will would can could should please thanks thank you
your we our us they their it its this that these those there here what which who when where why how
not don't can't doesn't with from for of to on at by about after before because but or if then than
also just only still some any all each every more most other new need needs want help check issue
problem error call calls number numbers invoice order orders license licenses account request change
update cancel price payment customer working work works doesn received send sent my me hi hello
regards dear kind best since today yesterday again yet already
"""
_ENGLISH_WORDS = frozenset(_ENGLISH_TEXT.split())

_detector_lock = threading.Lock()
_detector = None


def _language_detector():  # type: ignore[no-untyped-def]
    """Built on first use: the models take memory and a moment to load."""
    global _detector
    with _detector_lock:
        if _detector is None:
            from lingua import Language, LanguageDetectorBuilder

            languages = [
                Language.ENGLISH,
                Language.ITALIAN,
                Language.GERMAN,
                Language.FRENCH,
                Language.SPANISH,
                Language.PORTUGUESE,
                Language.DUTCH,
                Language.POLISH,
                Language.ROMANIAN,
                Language.CROATIAN,
                Language.SLOVENE,
                Language.CZECH,
                Language.RUSSIAN,
                Language.UKRAINIAN,
                Language.TURKISH,
                Language.SWEDISH,
                Language.DANISH,
                Language.BOKMAL,
                Language.FINNISH,
                Language.HUNGARIAN,
                Language.GREEK,
                Language.ARABIC,
                Language.CHINESE,
                Language.JAPANESE,
            ]
            _detector = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
        return _detector


def warm_up_language_detector() -> None:
    is_plausibly_english("warming up the language models before the first request")


_URLS_AND_CODES = re.compile(r"https?://\S+|\S+@\S+|[`<][^`>]*[`>]|\b[\w-]*\d[\w-]*\b")


def is_plausibly_english(text: str) -> bool:
    """False only when the text is long enough to judge and clearly in another language."""
    prose = _URLS_AND_CODES.sub(" ", text)
    if sum(ch.isalpha() for ch in prose) < ENGLISH_MIN_LETTERS:
        return True
    words = _WORD.findall(prose.lower())
    if words and sum(word in _ENGLISH_WORDS for word in words) / len(words) >= ENGLISH_MIN_WORD_SHARE:
        return True  # mixed text with plenty of English in it
    from lingua import Language

    detector = _language_detector()
    confidences = {c.language: c.value for c in detector.compute_language_confidence_values(prose)}
    if not confidences:
        return True
    top = max(confidences, key=lambda language: confidences[language])
    if top is Language.ENGLISH or confidences.get(Language.ENGLISH, 0.0) >= ENGLISH_MIN_CONFIDENCE:
        return True
    english_letters = sum(
        r.end_index - r.start_index
        for r in detector.detect_multiple_languages_of(prose)
        if r.language is Language.ENGLISH
    )
    return english_letters >= ENGLISH_MIN_SEGMENT_SHARE * len(prose)


# --- user text -------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str | None) -> str:
    """Strip control characters and surrounding blanks from typed text (kept otherwise as typed)."""
    return _CONTROL.sub("", text or "").strip()


def escape(text: str) -> str:
    """Slack's control characters, so `<!channel>` or `<@U123>` typed by a user never notifies anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")


def agent_text(text: str | None) -> str:
    """What an agent wrote, as written (links and mentions kept), but never a broadcast that would
    notify a partner's whole channel: `<!channel>` becomes a plain "@channel"."""
    return _BROADCAST.sub(lambda match: "@" + match.group(1), clean(text))


def cut(text: str, limit: int, mark: str = "… (cut)") -> str:
    """Cut to `limit` characters with a visible mark; never splits an escape entity."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - len(mark), 0)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + mark


def safe(text: str | None, limit: int) -> str:
    """Cleaned, escaped and cut: ready to go inside our own mrkdwn."""
    return cut(escape(clean(text)), limit)


# --- form values -----------------------------------------------------------------------------------------


@dataclass
class FormErrors:
    by_block: dict[str, str] = field(default_factory=dict)

    def add(self, block: str, message: str) -> None:
        self.by_block.setdefault(block, message)

    def __bool__(self) -> bool:
        return bool(self.by_block)


def check_text_fields(subject: str, description: str, product: str | None, errors: FormErrors) -> None:
    if not subject:
        errors.add("subject", "Please give the ticket a subject.")
    elif len(subject) > SUBJECT_MAX:
        errors.add("subject", f"Please keep the subject under {SUBJECT_MAX} characters.")
    if not description:
        errors.add("description", "Please describe the problem.")
    if product is not None and len(product) > PRODUCT_MAX:
        errors.add("product", f"Please keep this under {PRODUCT_MAX} characters.")
