"""What the benchmarks share: the served bot as a subprocess, the fake Slack, a bounded load loop."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_slack import FakeSlack  # noqa: E402
from tests.helpers import DIRECTORY_CSV  # noqa: E402
from tests.slack_requests import SIGNING_SECRET, SlackSender  # noqa: E402

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")


def bench_postgres_url() -> str | None:
    """A database of its own, so a benchmark never touches the tests' database."""
    try:
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = 'sla_desk_bench'")
            ).first()
            if not exists:
                connection.execute(text("CREATE DATABASE sla_desk_bench"))
        admin.dispose()
    except Exception as error:
        print(f"postgresql skipped: {error.__class__.__name__}")
        return None
    url = f"{PG_SERVER}/sla_desk_bench"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@dataclass
class RemoteFake:
    url: str


@contextmanager
def fake_slack_process(delay: float = 0.0) -> Iterator[RemoteFake]:
    """The fake Slack in a process of its own, so that answering the bot costs the load generator nothing;
    `delay`: every call answered that much later (a slow Slack)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_slack", str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        yield RemoteFake(process.stdout.readline().strip())
    finally:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(database_url: str, fake: FakeSlack | RemoteFake, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.url,
        DATABASE_URL=database_url,
        TECH_CHANNEL="CTECH",
        CARE_CHANNEL="CCARE",
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


@contextmanager
def served(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def bot(
    database_url: str, fake: FakeSlack | RemoteFake, **extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`python -m bot serve` on a free port, its directory loaded."""
    env = bot_env(database_url, fake, **extra)
    csv = ROOT / ".bench-directory.csv"
    csv.write_text(DIRECTORY_CSV)
    try:
        subprocess.run(
            [sys.executable, "-m", "bot", "directory", "import", str(csv)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    finally:
        csv.unlink()
    port = free_port()
    with served([sys.executable, "-m", "bot", "serve", "--port", str(port)], env, port) as process:
        yield process, port


def sender(port: int, fake: FakeSlack | RemoteFake) -> SlackSender:
    return SlackSender(f"http://127.0.0.1:{port}", fake.url.replace("/api/", "/response/hook"))


def load(request: Callable[[int], requests.Response], total: int, clients: int) -> tuple[list[float], float]:
    """`total` requests from `clients` threads; latencies (s) and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            started = time.perf_counter()
            response = request(number)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(label: str, latencies: list[float], wall: float) -> dict[str, float]:
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    rps = len(latencies) / wall
    print(
        f"{label:28} n={len(latencies):>6}  p50={p50:7.1f} ms  p99={p99:7.1f} ms  "
        f"mean={statistics.mean(latencies) * 1000:7.1f} ms  {rps:7.1f} req/s",
        flush=True,
    )
    return {"p50": p50, "p99": p99, "rps": rps}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
