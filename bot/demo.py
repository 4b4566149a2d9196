"""`python -m bot demo`: SLA Desk without a Slack app. The real bot (SQLite, its HTTP endpoint, signed
requests) runs against the stand-in for Slack's Web API that the project's tests use
(`tests/fake_slack.py`), with the sample directory; a partner files a Technical and a Customer Care
ticket, the desk's clock moves through a warning, a breach alert, a claim, a reply each way and a
resolve, and what each channel and thread would show is printed in order."""

from __future__ import annotations

import importlib
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PLACES = {
    "CTECH": "#tech-queue",
    "CCARE": "#care-queue",
    "CPARTNER": "#acme-support",
    "DAGENT1": "DM @agent1 (desk lead)",
}


def place(channel: str, thread: str | None, threads: dict[str, str]) -> str:
    where = PLACES.get(channel, f"DM @{channel[1:].lower()}" if channel.startswith("D") else channel)
    return f"{where} › {threads[thread]}" if thread and thread in threads else where


@contextmanager
def served_desk() -> Iterator[Any]:
    """The real app and server on a temporary SQLite store, pointed at the stand-in Slack."""
    sys.path.insert(0, str(ROOT))  # the stand-in ships with the project's tests
    fake = _tests("fake_slack").FakeSlack()
    start_desk = _tests("helpers").start_desk
    with tempfile.TemporaryDirectory(prefix="sla-desk-demo-") as folder:
        desk = start_desk(f"sqlite:///{folder}/demo.db", fake, when="2026-11-24T10:00:00+01:00")
        try:
            yield desk
        finally:
            desk.close()
            fake.close()


def _tests(module: str) -> Any:
    """The tests' stand-in Slack and helpers (imported by name: they are not the bot's own code)."""
    return importlib.import_module(f"tests.{module}")


def run(say: Callable[[str], None] = print) -> int:
    helpers = _tests("helpers")
    file, reply = helpers.file, helpers.reply

    with served_desk() as desk:
        shown: set[int] = set()
        threads: dict[str, str] = {}

        def show(step: str) -> None:
            desk.settle()
            desk.tick()
            say(f"\n== {desk.clock().in_timezone('Europe/Rome').format('ddd D MMM HH:mm')} CET · {step}")
            for index, call in enumerate(desk.fake.calls):
                if index in shown or call.method not in ("chat.postMessage", "chat.update"):
                    continue
                shown.add(index)
                body = call.params
                text = str(body.get("text") or "").splitlines()[0][:150]
                verb = "edits" if call.method == "chat.update" else "posts"
                say(f"   {place(str(body.get('channel')), body.get('thread_ts'), threads):44} {verb}: {text}")
            for messages in desk.fake.messages.values():
                for message in messages:
                    first = str(message.get("text") or "")
                    ref = re.search(r"T-\d+", first)
                    if ref and message["ts"] not in threads and first.startswith(("T-", ":ticket:")):
                        what = "card" if first.startswith("T-") else "confirmation"
                        threads[message["ts"]] = f"{ref.group(0)}'s {what}"

        file(desk, "tech", "UALICE")
        show("Alice (Acme Telecom, certified) files a Technical Support ticket with /ticket new tech")
        file(desk, "care", "UBOB", view_id="VDEMO2", topic="billing")
        show("Bob (Acme Telecom) files a Customer Care ticket")
        desk.at("2026-11-24T14:00:00+01:00")
        show("half of T-1's first-response window has passed: the warning")
        desk.at("2026-11-24T18:01:00+01:00")
        show("18:00 passed with no answer: the breach alert, the desk lead mentioned")
        desk.at("2026-11-24T18:05:00+01:00")
        reply(desk, "claim T-1", "UAGENT2")
        show("agent2 claims T-1: Alice is told in her thread")
        ticket = _ticket(desk, 1)
        _say_in_thread(
            desk, "CTECH", "UAGENT2", "Found it: the trunk's codec list. Please try now.", ticket["card"]
        )
        show("agent2 answers in the card's thread: copied to Alice's thread")
        desk.at("2026-11-24T18:20:00+01:00")
        _say_in_thread(desk, "CPARTNER", "UALICE", "Works now, thank you!", ticket["filer"])
        show("Alice replies in her thread: copied to the card's thread")
        reply(desk, "resolve T-1 Codec list fixed on the trunk", "UAGENT2")
        show("agent2 resolves T-1: Alice is told, and asked how we did")
        say("\nDemo done: every message above went through the real bot, its store and delivery rows.")
    return 0


def _ticket(desk: Any, ticket_id: int) -> dict[str, str]:
    from storage.db import session_scope
    from storage.models import Ticket

    with session_scope(desk.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return {"card": ticket.card_ts or "", "filer": ticket.filer_thread_ts or ""}


def _say_in_thread(desk: Any, channel: str, user: str, text: str, thread_ts: str) -> None:
    ts = f"{desk.clock().timestamp():.6f}"
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
    }
    desk.fake.messages[channel].append({**event})
    desk.slack.event(event)
