"""Acknowledgement latency under three loads, against a bare Bolt app that only acknowledges, on the same
server stack (`python -m bot serve` vs bench/bare_app.py; the fake Slack in a process of its own):

1. commands: 2,000 signed `/ticket new tech` from 20 concurrent clients;
2. slow-slack: Slack answers every call in 0.5 s; 20 concurrent Claim presses at a time (600 in all);
3. import: `/ticket status` from 10 clients while a 100,000-row `directory import` runs.

Goal: p99 <= 1.5 x the bare app on load 1; far inside Slack's 3 s on all three.

    .venv/bin/python bench/ack_latency.py [--loads commands,slow-slack,import] [--requests 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pendulum
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    RemoteFake,
    bot,
    bot_env,
    fake_slack_process,
    free_port,
    load,
    sender,
    served,
    summary,
)

PRESSES = 600
BIG_IMPORT = 100_000


def compare(
    label: str, fake: RemoteFake, folder: str, request: Callable[..., Callable[[int], requests.Response]],
    total: int, clients: int, during: Callable[[str], threading.Thread] | None = None,
) -> None:  # fmt: skip
    """The same load against SLA Desk and the bare app; `during` runs beside SLA Desk's load."""
    database = f"sqlite:///{folder}/{label}.db"
    with bot(database, fake, WORKER_ENABLED="false") as (_, port):
        slack = sender(port, fake)
        prepare_tickets(database, PRESSES)
        load(request(slack), 50, clients)  # warm up
        beside = during(database) if during else None
        ours = summary(f"sla-desk {label}", *load(request(slack), total, clients))
        if beside:
            beside.join()
    port = free_port()
    with served([sys.executable, "bench/bare_app.py", str(port)], bot_env("sqlite://", fake), port):
        slack = sender(port, fake)
        load(request(slack), 50, clients)
        bare = summary(f"bare Bolt {label}", *load(request(slack), total, clients))
    ratio = ours["p99"] / bare["p99"]
    inside = "inside" if ours["p99"] < 3000 else "OUTSIDE"
    print(f"  {label}: p99 ratio sla-desk / bare = {ratio:.2f}; Slack's limit 3000 ms: {inside}", flush=True)


def prepare_tickets(database: str, count: int) -> None:
    """Open tickets to press Claim on (straight into the store: filing is not what is measured)."""
    from storage.db import make_engine, session_scope
    from storage.models import Ticket
    from tests.helpers import load_ticket

    engine = make_engine(database)
    now = pendulum.now("UTC")
    with session_scope(engine) as session:
        session.add_all(Ticket(**load_ticket(n, now, now.add(hours=6))) for n in range(count))
    engine.dispose()


def big_import(database: str) -> threading.Thread:
    csv = Path(tempfile.mkdtemp()) / "big.csv"
    header = "company,tier,desk,assigned_partner,email,slack_user_id,certification\n"
    csv.write_text(
        header + "".join(f"Big Co,gold,cet,,u{n}@big.example,U{n:08d},W-FE\n" for n in range(BIG_IMPORT))
    )
    env = bot_env(database, RemoteFake("http://127.0.0.1:9/api/"))

    def run() -> None:
        subprocess.run(
            [sys.executable, "-m", "bot", "directory", "import", str(csv)], env=env, cwd=ROOT, check=True
        )

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", default="commands,slow-slack,import")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    loads = args.loads.split(",")
    with tempfile.TemporaryDirectory() as folder:
        if "commands" in loads:
            with fake_slack_process() as fake:
                compare(
                    "commands", fake, folder,
                    lambda slack: lambda n: slack.command("new tech", "UALICE"),
                    args.requests, args.clients,
                )  # fmt: skip
        if "slow-slack" in loads:
            with fake_slack_process(delay=0.5) as fake:
                compare(
                    "slow-slack", fake, folder,
                    lambda slack: lambda n: slack.button("ticket_claim", f"T-{n % PRESSES + 1}", "UAGENT1"),
                    PRESSES, 20,
                )  # fmt: skip
        if "import" in loads:
            with fake_slack_process() as fake:
                compare(
                    "import", fake, folder,
                    lambda slack: lambda n: slack.command("status T-1", "UALICE"),
                    1500, 10, during=big_import,
                )  # fmt: skip


if __name__ == "__main__":
    main()
