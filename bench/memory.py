"""Resident memory of `python -m bot serve`: idle (after start and warm-up), and its growth after
10,000 requests. Goal: idle under 150 MB, growth under 10 MB.

    .venv/bin/python bench/memory.py [--requests 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bot, load, rss_mb, sender  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    fake = FakeSlack()
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            bot(f"sqlite:///{folder}/bench.db", fake) as (process, port),
        ):
            time.sleep(2)
            idle = rss_mb(process.pid)
            slack = sender(port, fake)
            mix = ["help", "new tech", "list", "status T-1", "queue"]
            load(lambda n: slack.command(mix[n % len(mix)], "UALICE"), 1000, 10)  # warm-up: caches fill
            warm = rss_mb(process.pid)
            load(lambda n: slack.command(mix[n % len(mix)], "UALICE"), args.requests, 10)
            time.sleep(1)
            after = rss_mb(process.pid)
    finally:
        fake.close()
    print(f"idle RSS            {idle:7.1f} MB  (goal < 150: {'met' if idle < 150 else 'NOT met'})")
    print(f"after 1,000 warm-up {warm:7.1f} MB")
    growth = after - warm
    print(
        f"after {args.requests:,} more   {after:7.1f} MB  growth {growth:+.1f} MB "
        f"(goal < 10: {'met' if growth < 10 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
