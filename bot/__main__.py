"""Command line: `python -m bot serve | socket | scheduler | sla due | directory import | agents …`."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.settings import Settings, get_settings, require

# auth.test failed at start (Slack away): asked again this often until it answers.
IDENTITY_RETRY_SECONDS = 15.0

cli = typer.Typer(
    help="SLA Desk: a partner support desk inside Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sla_cli = typer.Typer(help="The SLA clock.", no_args_is_help=True)
directory_cli = typer.Typer(help="The partner directory.", no_args_is_help=True)
agents_cli = typer.Typer(help="Support agents.", no_args_is_help=True)
channels_cli = typer.Typer(help="Partner channels (Slack Connect).", no_args_is_help=True)
cli.add_typer(sla_cli, name="sla")
cli.add_typer(directory_cli, name="directory")
cli.add_typer(agents_cli, name="agents")
cli.add_typer(channels_cli, name="channels")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _logging(settings: Settings) -> None:
    from bot.logs import configure

    configure(settings)


def _store(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    from bot.clock import clock_from_setting
    from bot.runtime import build_runtime

    try:
        return build_runtime(settings, clock_from_setting(settings.frozen_time))
    except ValueError as error:
        raise fail(str(error)) from None
    except OperationalError as error:
        raise fail(f"Can't reach the database at DATABASE_URL: {error.orig}") from None


def _stop(*_: object) -> None:
    # waitress's loop ends on SystemExit and shuts its threads down; `finally` stops the worker.
    raise SystemExit(0)


@cli.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: setting PORT, 3000).")] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: setting HOST).")] = None,
    worker: Annotated[bool, typer.Option(help="Run the ping worker in this process too.")] = True,
) -> None:
    """Serve Slack's HTTP requests at POST /slack/events, and GET /health."""
    settings = get_settings()
    require(settings, "slack_bot_token", "slack_signing_secret", "tech_channel", "care_channel")
    _logging(settings)
    from bot.app import build_app
    from bot.server import Server, make_wsgi_app
    from bot.worker import Worker, until_known
    from handlers.rules.eligibility import warm_up_language_detector

    runtime = _runtime(settings)
    server = Server(
        make_wsgi_app(
            build_app(runtime, settings), runtime, settings.slack_signing_secret, settings.metrics_token
        ),
        host or settings.host,
        port or settings.port,
        settings.server_threads,
    )
    background = Worker(runtime.deliverer, settings.worker_interval_seconds, settings.retention_days)
    if worker and settings.worker_enabled:
        background.start_in_thread()
    warm_up_language_detector()
    until_known(runtime, IDENTITY_RETRY_SECONDS, background.stop_event)
    signal.signal(signal.SIGTERM, _stop)
    pinger = "with" if worker and settings.worker_enabled else "without"
    typer.echo(
        f"SLA Desk listening on http://{host or settings.host}:{server.port}/slack/events "
        f"({pinger} the ping worker), store {_store(settings)}",
        err=True,
    )
    try:
        server.serve_forever()
    finally:
        background.stop()
        server.close()


@cli.command()
def socket() -> None:
    """Run the same app over Socket Mode (needs SLACK_APP_TOKEN)."""
    settings = get_settings()
    require(settings, "slack_bot_token", "slack_app_token", "tech_channel", "care_channel")
    _logging(settings)
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import build_app
    from bot.worker import Worker, until_known

    runtime = _runtime(settings)
    background = Worker(runtime.deliverer, settings.worker_interval_seconds, settings.retention_days)
    until_known(runtime, IDENTITY_RETRY_SECONDS, background.stop_event)
    if settings.worker_enabled:
        background.start_in_thread()
    typer.echo(f"SLA Desk connecting over Socket Mode, store {_store(settings)}", err=True)
    try:
        SocketModeHandler(build_app(runtime, settings), settings.slack_app_token).start()
    except KeyboardInterrupt:
        pass
    except Exception as error:  # no network, a revoked token: one line, not a trace
        raise fail(f"Can't open a Socket Mode connection to Slack: {error}", 1) from None
    finally:
        background.stop()


@cli.command()
def scheduler(
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then exit.")] = False,
    now: Annotated[
        str | None, typer.Option(help="Pretend it is this instant (ISO-8601), for replays.")
    ] = None,
) -> None:
    """Run the ping worker alone (several may share one PostgreSQL database)."""
    settings = get_settings()
    require(settings, "slack_bot_token")
    if now:
        settings = settings.model_copy(update={"frozen_time": now})
    _logging(settings)
    from bot.worker import Worker

    runtime = _runtime(settings)
    worker = Worker(runtime.deliverer, settings.worker_interval_seconds, settings.retention_days)
    if once:
        typer.echo(f"delivered {worker.tick()}")
        return
    signal.signal(signal.SIGTERM, lambda *_: worker.stop_event.set())
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop_event.set()


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (serve and scheduler also do it at start)."""
    _runtime(get_settings())
    typer.echo("schema up to date")


@cli.command()
def demo() -> None:
    """SLA Desk without Slack: the real bot against a local stand-in, a ticket's life printed."""
    logging.getLogger().setLevel(logging.ERROR)  # the printed story, not the bot's chatter
    from bot.demo import run

    raise typer.Exit(run(typer.echo))


@cli.command()
def doctor() -> None:
    """Check the setup: settings, store, token, scopes, channels, contacts. Exit 1 on any problem."""
    from bot.doctor import run
    from bot.runtime import slack_client

    settings = get_settings()
    checks = run(settings, slack_client(settings, 10))
    for check in checks:
        typer.echo(check.line())
    problems = sum(1 for check in checks if not check.ok)
    typer.echo(f"{len(checks) - problems} ok, {problems} problem{'s' if problems != 1 else ''}")
    if problems:
        raise typer.Exit(1)


def _sqlite_store(settings: Settings, file: Path, pg_command: int, refused: str) -> Path:
    """The SQLite store's file; for PostgreSQL, the command of its own tool is printed instead."""
    from storage.backup import BackupRefused, postgres_commands, sqlite_path

    try:
        store = sqlite_path(settings.database_url)
    except BackupRefused as why:
        raise fail(f"{refused}: {why}.", code=1) from None
    if store is None:
        typer.echo(postgres_commands(settings.database_url, str(file))[pg_command])
        raise fail("PostgreSQL has its own tool for this: run the command above.", code=1)
    return store


@cli.command()
def backup(file: Annotated[Path, typer.Argument(help="The new file to write the backup to.")]) -> None:
    """A consistent copy of the SQLite store, while the bot runs (PostgreSQL: prints the pg_dump command)."""
    from storage.backup import BackupRefused, backup_sqlite

    settings = get_settings()
    store = _sqlite_store(settings, file, 0, "No backup")
    try:
        pages = backup_sqlite(store, file)
    except BackupRefused as why:
        raise fail(f"No backup: {why}.", code=1) from None
    typer.echo(f"backed up {_store(settings)} to {file} ({pages} pages)")


@cli.command()
def restore(file: Annotated[Path, typer.Argument(help="A file written by `backup`.")]) -> None:
    """Restore a backup into an empty SQLite store (PostgreSQL: prints the pg_restore command)."""
    from storage.backup import BackupRefused, restore_sqlite

    settings = get_settings()
    store = _sqlite_store(settings, file, 1, "Nothing restored")
    try:
        restore_sqlite(file, store)
    except BackupRefused as why:
        raise fail(f"Nothing restored: {why}.", code=1) from None
    _runtime(settings)  # a backup of an older release is brought up to date
    typer.echo(f"restored {file} into {_store(settings)}")


@sla_cli.command("due")
def sla_due(
    desk: Annotated[str, typer.Option(help="Desk name, e.g. cet or est.")],
    queue: Annotated[str, typer.Option(help="tech or care.")],
    klass: Annotated[str | None, typer.Option("--class", help="standard or critical (tech only).")] = None,
    filed: Annotated[
        str | None, typer.Option(help="When filed, ISO-8601; no offset = desk time. Default: now.")
    ] = None,
) -> None:
    """Print when the first response to a ticket is due (last line: ISO-8601 with the desk's offset)."""
    from bot.clock import system_clock
    from bot.desks import build_desks
    from handlers.rules.sla import first_response_window, parse_instant
    from storage.vocabulary import CLASS_WORDS, QUEUE_WORDS, Queue

    settings = get_settings()
    if queue not in QUEUE_WORDS:
        raise fail(f"--queue must be tech or care, not {queue!r}")
    if queue == Queue.CARE and klass:
        raise fail("--queue care takes no --class: Customer Care has one class")
    if klass is not None and klass not in CLASS_WORDS:
        raise fail(f"--class must be standard or critical, not {klass!r}")
    try:
        book = build_desks(settings)
        calendar = book.calendar(desk)
        filed_at = parse_instant(filed, calendar.timezone) if filed else system_clock()
        window = first_response_window(calendar, queue, klass, filed_at, book.policy)
    except ValueError as error:
        raise fail(str(error)) from None
    hours = "outside" if window.outside_hours else "within"
    typer.echo(
        f"filed {window.filed_at.isoformat()} ({hours} support hours of desk {desk}, {calendar.timezone})"
    )
    typer.echo(window.due_at.isoformat())


@directory_cli.command("import")
def directory_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV: " + "company,tier,desk,assigned_partner,email,slack_user_id,certification"),
    ],
) -> None:
    """Load partners and members; a bad row refuses the whole file."""
    from rich.progress import Progress

    from storage.directory import DirectoryError, import_directory, parse_directory_csv

    settings = get_settings()
    if not file.is_file():
        raise fail(f"{file}: no such file")
    runtime = _runtime(settings)
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = parse_directory_csv(handle, settings.desks.keys())
        with Progress(disable=len(rows) < 500 or not sys.stderr.isatty(), transient=True) as progress:
            task = progress.add_task("importing", total=len(rows))
            counts = import_directory(
                runtime.engine, rows, lambda done: progress.update(task, completed=done)
            )
    except DirectoryError as error:
        for problem in error.problems:
            typer.echo(f"{file}:{problem}", err=True)
        raise fail(f"import refused: {len(error.problems)} problem(s), nothing was written", 1) from None
    except UnicodeDecodeError:
        raise fail(f"{file}: not UTF-8 text; nothing was written", 1) from None
    typer.echo(
        f"imported {len(rows)} rows: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
    )


@agents_cli.command("add")
def agents_add(
    user_id: Annotated[str, typer.Argument(help="Slack user id (U…).")],
    desk: Annotated[str, typer.Option(help="The desk this agent works for.")],
    lead: Annotated[bool, typer.Option("--lead", help="Desk lead: mentioned on breaches.")] = False,
) -> None:
    """Add an agent, or change their desk and lead flag."""
    from storage.db import session_scope
    from storage.directory import SLACK_USER, add_agent

    settings = get_settings()
    if not SLACK_USER.match(user_id):
        raise fail(f"{user_id!r} is not a Slack user id (U…)")
    if desk not in settings.desks:
        raise fail(f"unknown desk {desk!r} (expected one of {', '.join(sorted(settings.desks))})")
    runtime = _runtime(settings)
    with session_scope(runtime.engine) as session:
        add_agent(session, user_id, desk, lead)
    typer.echo(f"agent {user_id} on desk {desk}" + (" (lead)" if lead else ""))


@agents_cli.command("remove")
def agents_remove(user_id: Annotated[str, typer.Argument(help="Slack user id (U…).")]) -> None:
    """Remove an agent."""
    from storage.db import session_scope
    from storage.directory import remove_agent

    runtime = _runtime(get_settings())
    with session_scope(runtime.engine) as session:
        removed = remove_agent(session, user_id)
    if not removed:
        raise fail(f"{user_id} is not an agent", 1)
    typer.echo(f"removed agent {user_id}")


@agents_cli.command("list")
def agents_list() -> None:
    """List agents: user id, desk, lead."""
    from storage.db import session_scope
    from storage.directory import list_agents

    runtime = _runtime(get_settings())
    with session_scope(runtime.engine) as session:
        agents = list_agents(session)
    for agent in agents:
        typer.echo(f"{agent.slack_user_id}\t{agent.desk}\t{'lead' if agent.is_lead else ''}".rstrip())
    if not agents:
        typer.echo("no agents yet: python -m bot agents add U123 --desk cet", err=True)


@channels_cli.command("connect")
def channels_connect(
    channel_id: Annotated[str, typer.Argument(help="The channel's id (C…), the bot a member of it.")],
    company: Annotated[str, typer.Argument(help="The partner company, as in the directory.")],
) -> None:
    """Connect a channel to a partner company: its intro is posted and pinned there (once)."""
    from handlers.listeners.channels import ask_slack, connect_channel
    from handlers.operations.context import Actor
    from storage.db import collect_owed

    settings = get_settings()
    require(settings, "slack_bot_token")
    runtime = _runtime(settings)
    runtime.learn_team_id()
    facts = ask_slack(runtime.client, channel_id, runtime.team_id)
    if isinstance(facts, str):
        raise fail(facts, 1)
    with collect_owed() as owed:
        text = connect_channel(runtime, Actor("cli", True), facts, company)
    runtime.deliver_owed(owed)  # the intro and its pin now; the worker retries what fails
    typer.echo(text)
    if "now serves" not in text and "already serves" not in text:
        raise typer.Exit(1)


@channels_cli.command("list")
def channels_list() -> None:
    """List partner channels: channel, company, status, shared, the teams it connects."""
    from storage.channels import channels_with_companies
    from storage.db import session_scope

    runtime = _runtime(get_settings())
    with session_scope(runtime.engine) as session:
        rows = channels_with_companies(session)
    for channel, company in rows:
        shared = "shared" if channel.is_shared else "internal"
        typer.echo(
            f"{channel.channel_id}\t{company}\t{channel.status}\t{shared}\t{channel.team_ids}".rstrip()
        )
    if not rows:
        typer.echo("no partner channels yet: python -m bot channels connect C123 'Acme Telecom'", err=True)


@channels_cli.command("disconnect")
def channels_disconnect(channel_id: Annotated[str, typer.Argument(help="The channel's id (C…).")]) -> None:
    """Take a channel's link to its company away."""
    from handlers.operations import channels as channel_ops
    from handlers.operations.context import Actor
    from storage.db import session_scope

    runtime = _runtime(get_settings())
    with session_scope(runtime.engine) as session:
        done = channel_ops.disconnect(session, channel_id, Actor("cli", True), runtime.clock())
    if done is not True:
        raise fail(f"{channel_id} is not connected to a partner", 1)
    typer.echo(f"disconnected {channel_id}")


@cli.command()
def report(
    date_from: Annotated[
        str, typer.Option("--from", help="First date of the period (YYYY-MM-DD, desk-local).")
    ],
    date_to: Annotated[str, typer.Option("--to", help="Last date of the period, included.")],
    out: Annotated[str, typer.Option(help="File to write, or - for standard output (text, csv, json).")],
    desk: Annotated[str | None, typer.Option(help="One desk, e.g. cet (default: every desk).")] = None,
    queue: Annotated[str | None, typer.Option(help="tech or care (default: both).")] = None,
    format: Annotated[str, typer.Option(help="text | csv | json | png")] = "text",
) -> None:
    """SLA figures for a period: per desk, queue and class (SPEC "Reports"); CSV has a row per ticket."""
    from handlers.operations import reports as reports
    from storage.db import reading, session_scope

    settings = get_settings()
    if format not in ("text", "csv", "json", "png"):
        raise fail(f"--format must be text, csv, json or png, not {format!r}")
    if queue not in (None, "tech", "care"):
        raise fail(f"--queue must be tech or care, not {queue!r}")
    if out == "-" and format == "png":
        raise fail("a PNG can't go to standard output: give --out FILE.png")
    runtime = _runtime(settings)
    now = runtime.clock()
    try:
        first, last = reports.dates(date_from, date_to)
        reports.report_desks(runtime.desks.calendars, desk)
        with session_scope(reading(runtime.engine)) as session:
            content = _report_content(session, runtime.desks, first, last, desk, queue, format, now)
    except reports.BadPeriod as error:
        raise fail(str(error)) from None
    if out == "-":
        sys.stdout.write(content if isinstance(content, str) else content.decode())
    else:
        Path(out).write_bytes(content.encode() if isinstance(content, str) else content)
        typer.echo(f"wrote {out}", err=True)


def _report_content(session, desks, first, last, desk, queue, format, now):  # type: ignore[no-untyped-def]
    import io

    from handlers.operations import reports as reports
    from storage.reports import report_rows

    if format in ("text", "json"):
        report = reports.report_of(session, desks, first, last, desk, queue, now)
        return reports.as_text(report) if format == "text" else reports.as_json(report)
    if format == "csv":
        _, period = reports.build_report(session, desks, first, last, desk, queue, now)
        buffer = io.StringIO()
        zones = {name: calendar.timezone for name, calendar in desks.calendars.items()}
        reports.write_csv(report_rows(session, period, queue, now), buffer, zones, now)
        return buffer.getvalue()
    _, files = reports.report_files(session, desks, first, last, desk, queue, now)
    return files[0][1]


def main() -> None:
    cli(prog_name="python -m bot")


if __name__ == "__main__":
    main()
