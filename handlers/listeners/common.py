"""What every listener group shares: the runtime, who is asking, ticket ids, a friendly failure."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from handlers.rules.eligibility import FilerFacts, escape, is_certified
from storage import channels as channel_store
from storage import directory
from storage import tickets as ticket_store
from storage.db import describe_store_error, is_lock_timeout, reading, session_scope
from storage.models import Member, Partner, Ticket

if TYPE_CHECKING:
    from handlers.runtime import Runtime

log = logging.getLogger(__name__)

DATABASE_DOWN = (
    ":hourglass: SLA Desk can't reach its database right now. "
    "Nothing was changed: please try again in a minute."
)
SOMETHING_WRONG = ":warning: SLA Desk could not handle that request. Nothing was changed."
BUSY = ":hourglass: SLA Desk is busy, submit again in a moment. Nothing was changed."
SLACK_SLOW = (
    ":hourglass: Slack did not tell SLA Desk who you are in time. Nothing was changed: "
    "please try again in a minute."
)
STILL_CHECKING = (
    ":hourglass: SLA Desk is still asking Slack who you are. Nothing was filed: please submit again "
    "in a few seconds."
)


class SlackLookupFailed(Exception):
    """Slack did not answer users.info in time: who is asking is unknown, not a stranger."""


# A form is answered on the form: its store work before the ack waits this long for a lock at most.
FORM_LOCK_WAIT_MS = 1500

TICKET_ID = re.compile(r"^(?:t-?)?(\d{1,9})$", re.IGNORECASE)

F = TypeVar("F", bound=Callable[..., Any])


def runtime_of(context: BoltContext) -> Runtime:
    return context["runtime"]  # type: ignore[no-any-return]


def parse_ticket_id(text: str | None) -> int | None:
    """'T-42', 't-42', 'T42' or '42' -> 42; anything else -> None."""
    match = TICKET_ID.match((text or "").strip())
    return int(match.group(1)) if match else None


def guarded(listener: F) -> F:
    """A database outage or a malformed request becomes a friendly line, never a failed request."""

    @functools.wraps(listener)
    def wrapper(**kwargs: Any) -> Any:
        ack = kwargs.get("ack")
        acked = {"done": False}
        if ack is not None:
            original = ack

            def tracking_ack(*args: Any, **kw: Any) -> Any:
                acked["done"] = True
                return original(*args, **kw)

            kwargs["ack"] = tracking_ack
        try:
            return listener(**kwargs)
        except (OperationalError, DBAPIError) as error:
            log.warning("store unavailable in %s: %s", listener.__name__, describe_store_error(error))
            message = BUSY if is_lock_timeout(error) else DATABASE_DOWN
        except Exception:
            # Malformed payloads and bugs: the session rolled back; say so instead of failing the request.
            log.exception("listener %s failed", listener.__name__)
            message = SOMETHING_WRONG
        body = kwargs.get("body") or {}
        if acked["done"]:
            _tell_afterwards(kwargs.get("client"), body, message)
        elif ack is not None:
            if body.get("type") == "view_submission":
                ack(response_action="errors", errors={_first_block(body): message})
            elif body.get("type") == "block_actions":
                ack()
            else:
                ack(response_type="ephemeral", text=message)
        return None

    return wrapper  # type: ignore[return-value]


def _tell_afterwards(client: WebClient | None, body: dict[str, Any], message: str) -> None:
    """After an ack, a button press can still be answered with an ephemeral message."""
    channel = (body.get("channel") or {}).get("id") if isinstance(body.get("channel"), dict) else None
    user = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else None
    if client is None or not channel or not user:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=message)
    except Exception:
        log.warning("could not tell %s that the request failed", user)


def _first_block(body: dict[str, Any]) -> str:
    return first_input(body.get("view") or {})


def first_input(view: dict[str, Any]) -> str:
    """The block id of a form's first field: where a message about the whole form is shown."""
    for block in view.get("blocks") or []:
        if block.get("type") == "input":
            return str(block.get("block_id"))
    return "subject"


def failure_message(error: Exception) -> str:
    """What to tell the person whose request failed after its ack (and what to log)."""
    if isinstance(error, (OperationalError, DBAPIError)):
        log.warning("store unavailable after an ack: %s", describe_store_error(error))
        return BUSY if is_lock_timeout(error) else DATABASE_DOWN
    if isinstance(error, SlackLookupFailed):
        return SLACK_SLOW
    log.exception("a request failed after its ack")
    return SOMETHING_WRONG


def answer_later(
    runtime: Runtime,
    respond: Callable[..., Any],
    compute: Callable[[], tuple[str, list[Any] | None]],
    then: Callable[[], Any] | None = None,
) -> None:
    """After the ack: work out the reply and send it on the response URL (then deliver what is owed).

    Runs on the after-ack pool, so neither the store nor Slack can hold up another request's ack.
    """

    def job() -> None:
        try:
            text, blocks = compute()
        except Exception as error:
            text, blocks = failure_message(error), None
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        if then is not None:
            then()

    runtime.after_ack(job)


FormFor = Callable[[str, str | None], dict[str, Any]]  # (the button's value, its channel) -> a form
Claim = Callable[[str, str], str]  # (the presser, the button's value) -> the reply
ClaimFor = Callable[[Any, str, str, dict[str, Any]], str]  # (runtime, presser, value, body) -> the reply


def button_listener(forms: Mapping[str, FormFor], claim: ClaimFor) -> Callable[..., None]:
    """The listener of a message's buttons (a card's, an incident message's): ack, then a form for
    those that ask for text, else the claim (`press_button`)."""

    @guarded
    def pressed(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        runtime = runtime_of(context)
        press_button(
            runtime, client, body, action, forms, lambda user, value: claim(runtime, user, value, body)
        )

    return pressed


def press_button(
    runtime: Runtime,
    client: WebClient,
    body: dict[str, Any],
    action: dict[str, Any],
    forms: Mapping[str, FormFor],
    claim: Claim,
) -> None:
    """A card's or an incident message's button, after its ack: those that ask for text open their
    form on the trigger pool (a trigger lasts 3 s); Claim runs on the after-ack pool and is answered
    ephemerally where it was pressed."""
    value, channel = str(action.get("value") or ""), pressed_in(body)
    form_for = forms.get(str(action.get("action_id") or ""))
    if form_for is not None:
        runtime.open_form(open_view, client, body.get("trigger_id", ""), form_for(value, channel))
        return
    runtime.after_ack(_claimed, client, body["user"]["id"], value, channel, claim)


def _claimed(client: WebClient, user_id: str, value: str, channel: str | None, claim: Claim) -> None:
    try:
        reply = claim(user_id, value)
    except Exception as error:
        reply = failure_message(error)
    if channel:
        client.chat_postEphemeral(channel=channel, user=user_id, text=reply)


def tell_privately(client: WebClient, channel: str, user: str, text: str) -> None:
    """An ephemeral line to one person in a channel, after an ack; a failure is only logged."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except Exception as error:
        log.warning("could not tell %s: %r", user, error)


def pressed_in(body: dict[str, Any]) -> str | None:
    """The channel a button was pressed in (its message's), if any."""
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def open_view(client: WebClient, trigger_id: str, form: dict[str, Any]) -> None:
    """Open a form on a trigger (it lasts 3 seconds: run on the runtime's trigger pool)."""
    client.views_open(trigger_id=trigger_id, view=form)


def is_agent(session: Session, runtime: Runtime, user_id: str) -> bool:
    """An agent is in the agents table or in the AGENTS setting."""
    return user_id in runtime.config.agents or directory.get_agent(session, user_id) is not None


@dataclass(frozen=True)
class Who:
    """The person behind a request, as the directory knows them."""

    user_id: str
    member: Member | None
    partner: Partner | None
    is_agent: bool
    agent_desk: str | None
    # A person of the company's own Slack team whom the directory does not list (SPEC "Partner
    # channels"): `partner` is set, `member` is not.
    unlisted: bool = False


def identify(session: Session, runtime: Runtime, user_id: str, *, remember: bool = True) -> Who:
    """Who is asking, from the store and what Slack told `look_up` (cached): never a Slack call, so
    it may run inside a write transaction. `remember=False` writes nothing (read-only transactions)."""
    agent = directory.get_agent(session, user_id)
    is_agent = agent is not None or user_id in runtime.config.agents
    member = directory.member_by_slack_id(session, user_id)
    if member is None and not is_agent:
        email = runtime.emails.get(user_id)
        if email:
            member = directory.member_by_email(session, email)
            if member is not None and remember:
                directory.remember_slack_id(session, member, user_id)
    partner = directory.get_partner(session, member.partner_id) if member else None
    if member is None and not is_agent:
        partner = unlisted_company(session, runtime, user_id)
        if partner is not None:
            return Who(user_id, None, partner, False, None, unlisted=True)
    return Who(user_id, member, partner, is_agent, agent.desk if agent else None)


def still_unknown(runtime: Runtime, who: Who) -> bool:
    """Nobody the directory knows, and Slack has not told us (yet, or lately) the e-mail by which it
    might: too early to call them a stranger."""
    return who.partner is None and not who.is_agent and who.user_id not in runtime.emails


def learn_who(runtime: Runtime, user_id: str) -> None:
    """`look_up` after an ack, for the person's next request; Slack's silence is only logged."""
    try:
        look_up(runtime, user_id)
    except SlackLookupFailed:
        log.info("users.info for %s is still unanswered", user_id)


def unlisted_company(session: Session, runtime: Runtime, user_id: str) -> Partner | None:
    """The company of a person of another Slack team, when the directory gives that team to a company
    and one of its channels connects it (the request came from such a channel: `listeners/access.py`)."""
    team = runtime.user_teams.get(user_id)
    if not team or not runtime.team_id or team == runtime.team_id:
        return None
    partner = directory.partner_by_team(session, team)
    if partner is None or not channel_store.team_connected_to_company(session, team, partner.id or 0):
        return None
    return partner


def look_up(runtime: Runtime, user_id: str, *, name: bool = False) -> None:
    """Ask Slack, before any transaction, what `identify` (the e-mail of someone the directory does
    not know by id) and attributions (`name`) may need; both are cached. Raises SlackLookupFailed
    when Slack does not answer in time for an e-mail that is needed."""
    if name and user_id not in runtime.names:
        display_name(runtime, user_id)  # one users.info: the e-mail is cached with the name
    if user_id in runtime.emails or user_id in runtime.config.agents or user_id in runtime.known_ids:
        return
    with session_scope(reading(runtime.engine)) as session:
        known = directory.get_agent(session, user_id) or directory.member_by_slack_id(session, user_id)
    if known is None:
        _email_of(runtime, user_id)
    else:  # the directory knows them by id: no need to ask again for a while (identify reads anyway)
        runtime.known_ids[user_id] = True


def visible_ticket(session: Session, who: Who, ticket_id: int) -> Ticket | None:
    """The ticket, if this person may see it: agents see all, partners their own company's."""
    ticket = ticket_store.get_ticket(session, ticket_id)
    if ticket is None or not (
        who.is_agent or (who.partner is not None and who.partner.id == ticket.partner_id)
    ):
        return None
    return ticket


def no_such_ticket(who: Who, ticket_id: int) -> str:
    """The same words for a missing ticket and another company's: nothing leaks."""
    return f"There is no ticket T-{ticket_id}" + ("." if who.is_agent else " among your company's tickets.")


def display_name(runtime: Runtime, user_id: str) -> str | None:
    """The name people know someone by in Slack (cached); None when Slack can't say right now."""
    if user_id in runtime.names:
        return runtime.names[user_id]
    try:
        user = runtime.lookup_client.users_info(user=user_id).get("user") or {}
    except Exception as error:
        log.warning("users.info for %s failed: %r", user_id, error)
        return None
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("name")
    runtime.names[user_id] = str(name) if name else None
    email = profile.get("email")
    if email and user_id not in runtime.emails:
        runtime.emails[user_id] = str(email)
    return runtime.names[user_id]


def _email_of(runtime: Runtime, user_id: str) -> str | None:
    """The e-mail Slack reports for a user, cached; the client's short timeout bounds a slow Slack."""
    if user_id in runtime.emails:
        return runtime.emails[user_id]
    try:
        response = runtime.lookup_client.users_info(user=user_id)
    except SlackApiError as error:  # Slack's answer: no such user, no e-mail scope: no e-mail
        code = error.response.get("error")
        log.warning("users.info for %s failed: %s", user_id, code)
        if code == "ratelimited":  # no answer yet, as a time-out
            raise SlackLookupFailed(user_id) from error
        runtime.emails[user_id] = None
        return None
    except Exception as error:  # no answer in time: we don't know, so we don't say "stranger"
        log.warning("users.info for %s did not answer: %r", user_id, error)
        raise SlackLookupFailed(user_id) from error
    profile = (response.get("user") or {}).get("profile") or {}
    email = str(profile["email"]) if profile.get("email") else None
    runtime.emails[user_id] = email
    return email


def filer_facts(session: Session, runtime: Runtime, who: Who) -> FilerFacts | None:
    """What the rules need to decide whether this person may file."""
    if who.partner is None or (who.member is None and not who.unlisted):
        return None
    partner, settings = who.partner, runtime.config
    assigned_name: str | None = None
    assigned_contacts: tuple[str, ...] = ()
    if partner.assigned_partner_id:
        assigned = directory.get_partner(session, partner.assigned_partner_id)
        if assigned is not None:
            assigned_name = assigned.name
            assigned_contacts = tuple(
                m.slack_user_id for m in directory.colleagues(session, assigned.id or 0) if m.slack_user_id
            )[:5]
    ladder, minimum = settings.certification_ladder, settings.certification_minimum
    certified: list[str] = []
    certification = who.member.certification if who.member else None
    own_id = who.member.id if who.member else None
    if not is_certified(certification, ladder, minimum):
        # Only a refusal names them: don't read the whole company for every filing.
        certified = [
            f"<@{m.slack_user_id}>" if m.slack_user_id else escape(m.email)
            for m in directory.colleagues(session, partner.id or 0)
            if m.id != own_id and is_certified(m.certification, ladder, minimum)
        ][:10]
    return FilerFacts(
        company=partner.name,
        tier=partner.tier,
        certification=certification,
        assigned_partner=assigned_name,
        assigned_partner_contacts=assigned_contacts,
        certified_colleagues=certified,
        unlisted=who.unlisted,
    )
