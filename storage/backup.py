"""Backups of the store: a consistent copy of a SQLite store while the bot runs (SQLite's online
backup API: pages copied in steps, writers wait only for a step), and a restore into an empty one.
PostgreSQL has its own tools: the commands to use are worded here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

STEP_PAGES = 1024  # pages copied between two looks at whether a writer waits


class BackupRefused(Exception):
    """Why a backup or restore cannot be done as asked (worded for the operator)."""


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite store; None for any other store."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        raise BackupRefused("an in-memory SQLite store has nothing to back up")
    return Path(url.database)


def postgres_commands(database_url: str, file: str) -> tuple[str, str]:
    """The pg_dump and pg_restore commands for this store (password left out: use PGPASSWORD)."""
    url = make_url(database_url).set(drivername="postgresql", password=None)
    target = url.render_as_string(hide_password=True)
    return (
        f"pg_dump --format=custom --no-owner --dbname '{target}' --file '{file}'",
        f"pg_restore --no-owner --exit-on-error --dbname '{target}' '{file}'",
    )


def backup_sqlite(store: Path, file: Path) -> int:
    """Copy the live store to `file` (which must not exist); the pages copied."""
    if file.exists():
        raise BackupRefused(f"{file} exists already: choose a new file")
    if not store.exists():
        raise BackupRefused(f"there is no store at {store}")
    source = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    target = sqlite3.connect(file)
    try:
        with target:
            source.backup(target, pages=STEP_PAGES, sleep=0.005)
        return int(target.execute("PRAGMA page_count").fetchone()[0])
    finally:
        target.close()
        source.close()


def restore_sqlite(file: Path, store: Path) -> None:
    """Copy a backup into a store that holds no tickets yet (a new file, or one just migrated)."""
    if not file.exists():
        raise BackupRefused(f"there is no backup at {file}")
    check = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        check.close()
    if "ticket" not in tables:
        raise BackupRefused(f"{file} is not an SLA Desk backup")
    if store.exists() and _holds_tickets(store):
        raise BackupRefused(f"the store at {store} is not empty: restore into a new DATABASE_URL")
    source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    target = sqlite3.connect(store)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def _holds_tickets(store: Path) -> bool:
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        found = connection.execute("SELECT name FROM sqlite_master WHERE name='ticket'").fetchone()
        return bool(found and connection.execute("SELECT 1 FROM ticket LIMIT 1").fetchone())
    finally:
        connection.close()
