"""Under faults and hostile input: database outage, Slack outage, fuzzed input, forgery, authorization."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from glob import glob
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from bot.worker import Worker
from handlers.listeners.common import DATABASE_DOWN
from handlers.ui import forms
from handlers.ui import tickets as views
from storage.db import session_scope
from storage.models import Ping, Ticket
from tests.fake_slack import FakeSlack
from tests.helpers import PG_ENV, PG_URL, Desk, file, filed, open_form, reply, start_desk, ticket_now, tickets
from tests.slack_requests import signed_headers, submitted


def ticket_count(desk: Desk) -> int:
    with session_scope(desk.engine) as session:
        return int(session.exec(select(func.count()).select_from(Ticket)).one())


# --- database outage ------------------------------------------------------------------------------------


class ThrowawayPostgres:
    """A PostgreSQL instance of the test's own: its own data directory and port."""

    def __init__(self) -> None:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin"))
        if not binaries or shutil.which("runuser") is None:
            pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
        self.bin = Path(binaries[-1])
        self.root = Path(tempfile.mkdtemp(prefix="sla-desk-pg-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _as_postgres(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL server of the test's own, to stop under the running bot (about 15 s: with the
    PostgreSQL tests, when TEST_DATABASE_URL is set, as in CI)."""
    if not PG_URL:
        pytest.skip(f"PostgreSQL tests not configured: set {PG_ENV} (.ci/run always does)")
    server = ThrowawayPostgres()
    server.start()
    yield server
    server.remove()


def test_database_outage_is_friendly_and_loses_nothing(
    throwaway_pg: ThrowawayPostgres, fake_slack: FakeSlack
) -> None:
    desk = start_desk(throwaway_pg.url, fake_slack, when="2026-11-27T17:00:00+01:00")
    try:
        filed(desk, view_id="VBEFORE")
        form = open_form(desk, "new tech", "UALICE")  # opened while the database was up
        throwaway_pg.stop()

        assert reply(desk, "claim T-1", "UAGENT1") == DATABASE_DOWN
        assert reply(desk, "status T-1", "UALICE") == DATABASE_DOWN
        updates = len(fake_slack.calls_to("views.update"))
        assert desk.slack.command("new care", "UBOB").status_code == 200
        [*_, shown] = fake_slack.wait_for("views.update", updates + 1)
        assert shown["view"]["blocks"][0]["text"]["text"] == DATABASE_DOWN  # the opened form says so
        answers = submitted(form, {"subject": "During the outage", "description": "d", "product": "p"})
        response = desk.slack.view_submission(answers, "UALICE", view_id="VDURING")
        assert response.status_code == 200
        assert response.json() == {"response_action": "errors", "errors": {"subject": DATABASE_DOWN}}
        assert desk.slack.button(views.CLAIM_ACTION, "T-1", "UAGENT1").status_code == 200
        told = fake_slack.wait_for("chat.postEphemeral", 1, user="UAGENT1")
        assert told and told[-1]["text"] == DATABASE_DOWN
        health = requests.get(f"http://127.0.0.1:{desk.server.port}/health", timeout=10)
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        desk.at("2026-11-27T17:31:00+01:00")
        assert Worker(desk.runtime.deliverer, 1).tick() == 0  # logged, not fatal
        for call in fake_slack.calls:
            assert "Traceback" not in json.dumps(call.params)

        throwaway_pg.start()
        assert ticket_count(desk) == 1  # nothing half-written
        assert desk.slack.view_submission(answers, "UALICE", view_id="VDURING").text == ""
        assert ticket_count(desk) == 2
        assert reply(desk, "claim T-1", "UAGENT1").startswith("You claimed T-1")
        desk.at("2026-11-27T17:50:00+01:00")  # T-2 was filed at 17:31: its 50% warning is due at 17:45:30
        desk.tick()
        warnings = [
            m for m in fake_slack.delivered("CTECH") if ":hourglass_flowing_sand:" in (m["text"] or "")
        ]
        assert [("T-2" in m["text"]) for m in warnings] == [True]  # T-1 was answered; T-2's warning is owed
    finally:
        desk.close()
        desk.engine.dispose()


# --- Slack outage ---------------------------------------------------------------------------------------


def test_slack_outage_then_recovery_delivers_everything_once(desk: Desk) -> None:
    desk.at("2026-11-27T17:00:00+01:00")
    for method in ("chat.postMessage", "chat.update"):
        desk.fake.outage(method, 3600)
    file(desk, "tech", "UALICE", view_id="V1")
    file(desk, "care", "UERIN", view_id="V2")
    desk.settle()
    assert len(tickets(desk)) == 2
    reply(desk, "claim T-2", "UAGENT3")
    desk.settle()
    for minute in (10, 20, 31, 49):
        desk.at(f"2026-11-27T17:{minute}:00+01:00")
        desk.tick()
    assert all(not messages for messages in desk.fake.messages.values())
    desk.fake.recover()
    for minute in (30, 31, 32):  # replies wait for their parent card or confirmation (20 s)
        desk.at(f"2026-11-27T18:{minute}:00+01:00")
        desk.tick()
    with session_scope(desk.engine) as session:
        all_pings = list(session.exec(select(Ping)))
        states = {(p.ticket_id, p.kind, p.seq): p.state for p in all_pings}
    still = {k: s for k, s in states.items() if k[1] != "escalation" and s == "planned"}
    assert not still, (still, [(p.ticket_id, p.kind, p.next_attempt_at, p.last_error) for p in all_pings])
    texts = [m["text"] for messages in desk.fake.messages.values() for m in messages]
    from collections import Counter

    assert len(texts) == len(set(texts)), [t for t, n in Counter(texts).items() if n > 1]  # nothing twice
    assert sum(":rotating_light:" in t for t in texts) == 1  # T-1's breach; T-2 was answered
    assert sum("picked up T-2" in t for t in texts) == 1
    assert len(desk.fake.delivered("CTECH")) >= 1 and len(desk.fake.delivered("CCARE")) >= 1


# --- hostile input --------------------------------------------------------------------------------------

SLACK_MARKUP = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@UAGENT1>",
    "<#CTECH>",
    "<!subteam^S1>",
    "<https://evil.example|click>",
    "&amp;",
    "*bold*",
    "```code```",
]
SQL = ["'; DROP TABLE ticket; --", '" OR 1=1 --', "T-1; DELETE FROM ping"]
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(SLACK_MARKUP + SQL),
    st.lists(
        st.sampled_from(SLACK_MARKUP + SQL + ["T-1", "claim", "new", "x" * 50, "\x00", "\u202e", "é"]),
        max_size=8,
    ).map(" ".join),
)
OUR_TOKENS = re.compile(
    r"<(?:@U[A-Z0-9]+>|!date\^|!subteam\^|#C[A-Z0-9]+>|https://(?:docs|faq)\.example|"
    r"https://manuals\.wildix\.com/|https://confluence\.wildix\.com/|https://fake\.slack\.example/archives/)"
)
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fresh_example(desk: Desk) -> None:
    """Hypothesis runs its examples on one served desk: each starts once the previous one's work is
    done, with Slack's record cleared, so it is judged on what it did itself."""
    desk.settle()
    desk.fake.reset()


def no_unescaped_user_markup(fake: FakeSlack) -> None:
    for call in fake.calls:
        if call.method not in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            continue
        rendered = json.dumps([call.params.get("text"), call.params.get("blocks")])
        rendered = json.loads(rendered.replace("\\u", "\\\\u"))  # keep it as typed
        for found in re.finditer(r"<", str(rendered)):
            assert OUR_TOKENS.match(str(rendered), found.start()), str(rendered)[
                found.start() : found.start() + 40
            ]


@HYPOTHESIS
@given(text=hostile_text, user=st.sampled_from(["UALICE", "UAGENT1", "UNOBODY", "UDAVE"]))
@pytest.mark.heavy
def test_hostile_command_text(desk: Desk, text: str, user: str) -> None:
    fresh_example(desk)
    before = ticket_count(desk)
    response = desk.slack.command(text, user)
    assert response.status_code == 200
    assert "Traceback" not in response.text and "Error" not in response.text[:20]
    if response.text:
        body = response.json()
        for found in re.finditer("<", body.get("text", "")):
            assert OUR_TOKENS.match(body["text"], found.start()), body["text"]
    assert ticket_count(desk) == before


@HYPOTHESIS
@given(
    subject=hostile_text,
    description=st.one_of(hostile_text, st.just("d" * 40_000)),
    product=hostile_text,
    klass=st.sampled_from(["standard", "critical", "bogus", None]),
    reason=st.sampled_from(["call_drops", "bogus", None]),
)
@pytest.mark.heavy
def test_hostile_tech_form(
    desk: Desk, subject: str, description: str, product: str, klass: Any, reason: Any
) -> None:
    fresh_example(desk)
    form = forms.tech_form(forms.form_metadata("CPARTNER"), "https://docs.example")
    answers = submitted(
        form,
        {
            "subject": subject,
            "description": description,
            "product": product,
            "class": klass,
            "critical_reason": reason,
        },
    )
    before = ticket_count(desk)
    response = desk.slack.view_submission(answers, "UALICE", view_id=f"V{time.monotonic_ns()}")
    assert response.status_code == 200 and "Traceback" not in response.text
    if response.text:
        assert response.json()["response_action"] == "errors"
        assert ticket_count(desk) == before  # nothing stored for a refused input
    else:
        assert ticket_count(desk) == before + 1
    desk.settle()  # the example's own work after the ack, then what it posted
    no_unescaped_user_markup(desk.fake)


MALFORMED = [
    {"type": "view_submission"},
    {"type": "view_submission", "user": {"id": "UALICE"}, "view": {"callback_id": forms.TECH_CALLBACK}},
    {
        "type": "view_submission",
        "user": {"id": "UALICE"},
        "view": {"callback_id": forms.TECH_CALLBACK, "state": {"values": {"subject": "not a dict"}}},
    },
    {
        "type": "view_submission",
        "user": {"id": "UALICE"},
        "view": {
            "callback_id": forms.CARE_CALLBACK,
            "state": {"values": {"topic": {"topic": {"selected_option": 7}}}},
        },
    },
    {"type": "view_submission", "user": {"id": "UALICE"}, "view": {"callback_id": forms.CHOOSER_CALLBACK}},
    {"type": "block_actions", "user": {"id": "UAGENT1"}, "actions": [{"action_id": views.CLAIM_ACTION}]},
    {
        "type": "block_actions",
        "user": {"id": "UAGENT1"},
        "actions": [{"action_id": views.RESOLVE_ACTION, "value": "<!channel>"}],
    },
    {"type": "block_actions", "actions": []},
    {"type": "nonsense"},
    [],
    "just a string",
]


@pytest.mark.parametrize("payload", MALFORMED)
def test_malformed_payloads_never_5xx(desk: Desk, payload: Any) -> None:
    response = desk.slack.interaction(payload)  # type: ignore[arg-type]
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert ticket_count(desk) == 0


@pytest.mark.parametrize(
    "body", ["", "payload=%7Bnot json", "command=%2Fticket", "text=claim+T-1", "\x00\x01"]
)
def test_garbage_bodies_never_5xx(desk: Desk, body: str) -> None:
    response = desk.slack.post_raw(body, "application/x-www-form-urlencoded")
    assert response.status_code < 500 and "Traceback" not in response.text


@HYPOTHESIS
@given(
    event=st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "app_home_opened"])},
        optional={
            "user": st.sampled_from(["UAGENT1", "UALICE", ""]),
            "channel": st.text(max_size=12),
            "ts": st.text(max_size=20),
            "thread_ts": st.text(max_size=20),
            "tab": st.text(max_size=8),
            "subtype": st.sampled_from(["bot_message", "message_changed"]),
        },
    )
)
def test_hostile_events_never_5xx(desk: Desk, event: dict[str, Any]) -> None:
    assert desk.slack.event(event).status_code < 500


# --- forgery --------------------------------------------------------------------------------------------


def test_forged_requests_change_nothing(desk: Desk) -> None:
    filed(desk)
    body = desk.slack.command_body("claim T-1", "UAGENT1", channel="CTECH")
    content = "application/x-www-form-urlencoded"
    old = int(time.time()) - 6 * 60
    replayed = signed_headers(body, content, timestamp=old)
    replayed["X-Slack-Request-Timestamp"] = str(int(time.time()))
    attempts = [
        signed_headers(body, content, secret="guessed"),
        {"Content-Type": content},
        {"Content-Type": content, "X-Slack-Request-Timestamp": str(int(time.time()))},
        signed_headers(body, content, timestamp=old),
        replayed,
    ]
    for headers in attempts:
        assert desk.slack.post_raw(body, content, headers).status_code == 401
    button = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": "UAGENT1"},
                    "actions": [{"action_id": views.CLAIM_ACTION, "value": "T-1"}],
                }
            )
        }
    )
    assert (
        desk.slack.post_raw(button, content, signed_headers(button, content, secret="x")).status_code == 401
    )
    assert ticket_now(desk, 1).status == "open" and ticket_now(desk, 1).first_response_at is None


# --- authorization --------------------------------------------------------------------------------------


@pytest.mark.heavy
def test_every_agent_action_refused_to_partners_and_other_companies(desk: Desk) -> None:
    filed(desk)  # Acme's T-1
    for partner in ("UALICE", "UBOB", "UERIN", "UDAVE", "UNOBODY"):
        for verb in ("claim T-1", "release T-1", "reassign T-1 <@UAGENT1>", "resolve T-1 done", "queue"):
            text = reply(desk, verb, partner)
            assert "Only support agents" in text or "no ticket T-1" in text, (partner, verb, text)
        for action in (views.CLAIM_ACTION, views.RESOLVE_ACTION):
            desk.slack.button(action, "T-1", partner)
    for outsider in ("UERIN", "UDAVE", "UNOBODY"):  # another company, a bronze partner, nobody
        for verb in ("status T-1", "reopen T-1"):
            assert "no ticket T-1 among your company" in reply(desk, verb, outsider)
    desk.settle()
    ticket = ticket_now(desk, 1)
    assert (ticket.status, ticket.claimant_user_id, ticket.first_response_at) == ("open", None, None)
    from tests.test_agents import events

    assert events(desk, 1) == ["filed"]
