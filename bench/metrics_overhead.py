"""What `GET /metrics` costs the acks: `bench/ack_latency.py`'s commands load (signed `/ticket new
tech` from 20 concurrent clients against `python -m bot serve`), once alone and once while a scraper
reads /metrics once a second (Prometheus scrapes every 15-30 s: this is 15-30 times that). Goal: under
5% added to p99. Also printed: how long the scrapes took.

    .venv/bin/python bench/metrics_overhead.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ack_latency import PRESSES, prepare_tickets  # noqa: E402
from bench.common import bot, fake_slack_process, load, sender, summary  # noqa: E402


def scraping(port: int, stop: threading.Event, took: list[float], every: float = 1.0) -> threading.Thread:
    def run() -> None:
        while not stop.wait(every):
            started = time.perf_counter()
            try:
                requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).raise_for_status()
            except requests.RequestException:
                took.append(float("inf"))
                continue
            took.append(time.perf_counter() - started)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    p99: dict[str, list[float]] = {"alone": [], "scraped": []}
    p50: dict[str, list[float]] = {"alone": [], "scraped": []}
    took: list[float] = []
    with tempfile.TemporaryDirectory() as folder, fake_slack_process() as fake:
        database = f"sqlite:///{folder}/metrics.db"
        with bot(database, fake, WORKER_ENABLED="false") as (_, port):
            slack = sender(port, fake)
            prepare_tickets(database, PRESSES)
            request = lambda n: slack.command("new tech", "UALICE")  # noqa: E731
            load(request, 50, 20)  # warm up
            for round_ in range(args.rounds):  # alternate, so drift hits both alike
                figures = summary(f"alone   #{round_ + 1}", *load(request, args.requests, 20))
                p99["alone"].append(figures["p99"])
                p50["alone"].append(figures["p50"])
                stop = threading.Event()
                scraper = scraping(port, stop, took)
                figures = summary(f"scraped #{round_ + 1}", *load(request, args.requests, 20))
                p99["scraped"].append(figures["p99"])
                p50["scraped"].append(figures["p50"])
                stop.set()
                scraper.join()
            # Reported before the server is stopped (its after-ack backlog may take a while to drain).
            alone, scraped = statistics.median(p99["alone"]), statistics.median(p99["scraped"])
            added = 100 * (scraped - alone) / alone
            verdict = "met" if added < 5 else "NOT met"
            slowest = max(took) * 1000
            print(f"scrapes: {len(took)}, p50 {statistics.median(took) * 1000:.0f} ms, max {slowest:.0f} ms")
            print(f"ack p50 median: alone {statistics.median(p50['alone']):.1f} ms, "
                  f"scraped {statistics.median(p50['scraped']):.1f} ms")  # fmt: skip
            print(f"ack p99 median of {args.rounds}: alone {alone:.1f} ms, scraped 1/s {scraped:.1f} ms: "
                  f"{added:+.1f}% (goal under 5%: {verdict})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
