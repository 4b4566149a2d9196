"""Filing end to end: signed `view_submission` -> stored ticket -> card posted at the fake Slack.
Tickets per second and p99 (submission sent to card received), on SQLite and PostgreSQL, and the ratio
of the submission's acknowledgement p99 to a bare Bolt acknowledgement (bench/ack_latency.py).

    .venv/bin/python bench/filing_e2e.py [--tickets 500] [--clients 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    bench_postgres_url,
    bot,
    bot_env,
    free_port,
    load,
    percentile,
    sender,
    served,
    summary,  # noqa: E402
)
from handlers.ui import forms  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402
from tests.slack_requests import submitted  # noqa: E402

FORM = forms.tech_form(forms.form_metadata("CPARTNER"), "https://docs.example")


def run(label: str, database_url: str, fake: FakeSlack, tickets: int, clients: int) -> float:
    fake.reset()
    sent: dict[str, float] = {}
    with bot(database_url, fake) as (_, port):
        slack = sender(port, fake)

        def submit(number: int):  # type: ignore[no-untyped-def]
            subject = f"bench {number:06d}"
            view = submitted(
                FORM,
                {
                    "subject": subject,
                    "description": "Calls drop after thirty seconds.",
                    "product": "PBX 0A1B",
                },
            )
            sent[subject] = time.monotonic()
            return slack.view_submission(view, "UALICE", view_id=f"V{number:08d}")

        started = time.monotonic()
        latencies, _ = load(submit, tickets, clients)
        deadline = time.monotonic() + 120
        while len(fake.delivered("CTECH")) < tickets and time.monotonic() < deadline:
            time.sleep(0.05)
        cards = {
            c.params["text"].rsplit(": ", 1)[-1]: c.at
            for c in list(fake.calls)
            if c.method == "chat.postMessage" and c.params.get("channel") == "CTECH"
        }
    end_to_end = [cards[s] - t for s, t in sent.items() if s in cards]
    wall = max(cards.values()) - started
    print(
        f"{label:12} tickets={len(end_to_end)}/{tickets}  {len(end_to_end) / wall:6.1f} tickets/s  "
        f"card p50={percentile(end_to_end, 0.5) * 1000:7.1f} ms  "
        f"p99={percentile(end_to_end, 0.99) * 1000:7.1f} ms",
        flush=True,
    )
    return summary(f"{label} submission ack", latencies, wall)["p99"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    fake = FakeSlack()
    try:
        port = free_port()
        with served([sys.executable, "bench/bare_app.py", str(port)], bot_env("sqlite://", fake), port):
            slack = sender(port, fake)
            bare = summary(
                "bare Bolt ack", *load(lambda n: slack.command("help", "UALICE"), 1000, args.clients)
            )
        with tempfile.TemporaryDirectory() as folder:
            p99 = run("sqlite", f"sqlite:///{folder}/bench.db", fake, args.tickets, args.clients)
            print(f"sqlite       submission ack p99 / bare ack p99 = {p99 / bare['p99']:.2f}")
        pg = bench_postgres_url()
        if pg:
            p99 = run("postgresql", pg, fake, args.tickets, args.clients)
            print(f"postgresql   submission ack p99 / bare ack p99 = {p99 / bare['p99']:.2f}")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
