"""The app shell over real HTTP, and the command line as an operator runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.helpers import DIRECTORY_CSV, Desk
from tests.slack_requests import signed_headers

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "DESKS"))
    }
    environment.update(env or {})
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd or ROOT,
        timeout=60,
    )


def test_health(desk: Desk) -> None:
    response = requests.get(f"http://127.0.0.1:{desk.server.port}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_help_over_signed_http(desk: Desk) -> None:
    response = desk.slack.command("help", "UALICE")
    assert response.status_code == 200
    assert "/ticket new" in response.json()["text"]


def test_unknown_subcommand_is_explained(desk: Desk) -> None:
    response = desk.slack.command("frobnicate <!channel>", "UALICE")
    assert response.status_code == 200
    text = response.json()["text"]
    assert "frobnicate" in text and "/ticket help" in text


def test_bad_missing_and_stale_signatures_are_rejected(desk: Desk) -> None:
    body = desk.slack.command_body("help", "UALICE")
    content = "application/x-www-form-urlencoded"
    wrong = signed_headers(body, content, secret="not-the-secret")
    assert desk.slack.post_raw(body, content, wrong).status_code == 401
    assert desk.slack.post_raw(body, content, {"Content-Type": content}).status_code == 401
    stale = signed_headers(body, content, timestamp=int(time.time()) - 6 * 60)
    assert desk.slack.post_raw(body, content, stale).status_code == 401
    replay = signed_headers(body, content, timestamp=int(time.time()) - 6 * 60)
    replay["X-Slack-Request-Timestamp"] = str(int(time.time()))
    assert desk.slack.post_raw(body, content, replay).status_code == 401


@pytest.mark.heavy
def test_sla_due_command() -> None:
    result = run_cli(
        "sla",
        "due",
        "--desk",
        "cet",
        "--queue",
        "tech",
        "--class",
        "standard",
        "--filed",
        "2026-11-27T17:59:00+01:00",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2026-11-27T18:00:00+01:00"
    naive = run_cli("sla", "due", "--desk", "est", "--queue", "care", "--filed", "2026-11-25T15:00:00")
    assert naive.stdout.strip().splitlines()[-1] == "2026-11-27T15:00:00-05:00"
    bad = run_cli("sla", "due", "--desk", "cet", "--queue", "care", "--class", "critical")
    assert bad.returncode != 0 and "takes no --class" in bad.stderr


def test_malformed_setting_prints_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "sla", "due", "--desk", "cet", "--queue", "care", env={"WARNING_SHARES": "abc"}, cwd=tmp_path
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "WARNING_SHARES" in result.stderr


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_cli_here(*args: str, env: dict[str, str], cwd: Path) -> Ran:
    """The same command line, in this process (no interpreter start-up): for the quick checks."""
    from typer.testing import CliRunner

    from bot.__main__ import cli
    from bot.settings import get_settings

    previous = Path.cwd()
    os.chdir(cwd)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, list(args), env={"SLA_DESK_HOME": None, **env})
    finally:
        get_settings.cache_clear()
        os.chdir(previous)
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_directory_import_and_agents_cli(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/d.db"}
    run_cli = run_cli_here
    good = tmp_path / "directory.csv"
    good.write_text(DIRECTORY_CSV)
    first = run_cli("directory", "import", str(good), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "members added 6" in first.stdout
    again = run_cli("directory", "import", str(good), env=env, cwd=tmp_path)
    assert "members added 0" in again.stdout and "members changed 0" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(DIRECTORY_CSV + "New Co,gold,cet,,broken-address,,\n")
    refused = run_cli("directory", "import", str(bad), env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "bad.csv:line 8: malformed e-mail" in refused.stderr and "nothing was written" in refused.stderr
    assert (
        run_cli("agents", "add", "UAGENT9", "--desk", "cet", "--lead", env=env, cwd=tmp_path).returncode == 0
    )
    listed = run_cli("agents", "list", env=env, cwd=tmp_path)
    assert listed.stdout.strip() == "UAGENT9\tcet\tlead"
    assert run_cli("agents", "remove", "UAGENT9", env=env, cwd=tmp_path).returncode == 0
    assert run_cli("agents", "add", "UX", "--desk", "mars", env=env, cwd=tmp_path).returncode == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.heavy
def test_python_m_bot_serve_answers_signed_requests(tmp_path: Path, fake_slack) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="test-signing-secret",
        SLACK_API_URL=fake_slack.url,
        DATABASE_URL=f"sqlite:///{tmp_path}/s.db",
        TECH_CHANNEL="CTECH",
        CARE_CHANNEL="CCARE",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        from tests.slack_requests import SlackSender

        sender = SlackSender(f"http://127.0.0.1:{port}", fake_slack.url)
        assert "/ticket new" in sender.command("help", "UALICE").json()["text"]
    finally:
        process.terminate()
        process.wait(timeout=20)
    start = (process.stdout.read() if process.stdout else b"").decode()
    # A quiet start: one line saying where it listens and which store, nothing else.
    [line] = [text for text in start.splitlines() if text.strip()]
    assert line.startswith(f"SLA Desk listening on http://0.0.0.0:{port}/slack/events") and "s.db" in line


def test_every_missing_setting_is_named_at_once(tmp_path: Path) -> None:
    result = run_cli("serve", env={"SLACK_BOT_TOKEN": "", "TECH_CHANNEL": "C1"}, cwd=tmp_path)
    assert result.returncode == 2
    named = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("Setting")]
    assert named == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CARE_CHANNEL"]
    assert ".env.example" in result.stderr


@pytest.mark.heavy
def test_the_script_reads_files_where_it_is_run_and_keeps_one_store(tmp_path: Path) -> None:
    """`bash scripts/bot.sh directory import partners.csv` from the CSV's folder, as the README says."""
    (tmp_path / "partners.csv").write_text((ROOT / "examples" / "partners.csv").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/example.db"
    script = [str(ROOT / "scripts" / "bot.sh"), "directory", "import", "partners.csv"]
    result = subprocess.run(["bash", *script], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "imported 5 rows: partners added 4, partners changed 0, members added 5" in result.stdout


def test_the_env_example_names_every_required_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TECH_CHANNEL", "CARE_CHANNEL"):
        assert f"\n{name}=" in example
