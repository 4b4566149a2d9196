"""Slash-command acknowledgement under load: 2,000 signed `/ticket new tech` from 20 concurrent clients
to `python -m bot serve` (the fake Slack in a process of its own), and the same load against a bare
Bolt app that only acknowledges, on the same server stack.
Goal: p99 <= 1.5 x the bare app, far inside Slack's 3 s.

    .venv/bin/python bench/ack_latency.py [--requests 2000] [--clients 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bot, bot_env, fake_slack_process, free_port, load, sender, served, summary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with fake_slack_process() as fake, tempfile.TemporaryDirectory() as folder:
        with bot(f"sqlite:///{folder}/bench.db", fake, WORKER_ENABLED="false") as (_, port):
            slack = sender(port, fake)
            load(lambda n: slack.command("new tech", "UALICE"), 100, args.clients)  # warm up
            ours = summary(
                "sla-desk /ticket new tech",
                *load(lambda n: slack.command("new tech", "UALICE"), args.requests, args.clients),
            )
        port = free_port()
        env = bot_env("sqlite://", fake)
        with served([sys.executable, "bench/bare_app.py", str(port)], env, port):
            slack = sender(port, fake)
            load(lambda n: slack.command("new tech", "UALICE"), 100, args.clients)
            bare = summary(
                "bare Bolt ack",
                *load(lambda n: slack.command("new tech", "UALICE"), args.requests, args.clients),
            )
    ratio = ours["p99"] / bare["p99"]
    print(
        f"p99 ratio sla-desk / bare = {ratio:.2f}  (goal <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}; "
        f"Slack's limit 3000 ms: {'inside' if ours['p99'] < 3000 else 'OUTSIDE'})"
    )


if __name__ == "__main__":
    main()
