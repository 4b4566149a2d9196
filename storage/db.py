"""Engine, sessions and schema migrations (alembic, applied at start)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same for every process of this app.
MIGRATION_LOCK_KEY = 7_244_181


LOCK_WAIT_MS = 30_000  # how long a transaction waits for a lock, unless told otherwise


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        if url not in ("sqlite://", "sqlite:///:memory:"):
            # Connections are cheap, and a writer waiting for the write lock holds one: enough for every
            # server, after-ack and trigger thread, so a reader (a status, /metrics) never waits for one.
            # LIFO: the most recent connection (warm page cache) first; the rest only under load.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 40)
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "begin", _postgres_begin)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    # pysqlite's own transaction handling defers BEGIN; writers take the write lock at BEGIN instead,
    # so that read-then-write transactions serialise rather than fail with "database is locked".
    # Readers begin deferred: in WAL mode they never wait for a writer.
    options = conn.get_execution_options()
    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(options.get('lock_timeout_ms') or LOCK_WAIT_MS)}")
    conn.exec_driver_sql("BEGIN" if options.get("read_only") else "BEGIN IMMEDIATE")


def _postgres_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("lock_timeout_ms"):
        milliseconds = int(options["lock_timeout_ms"])
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")


def within(engine: Engine, milliseconds: int) -> Engine:
    """The same engine, whose transactions give up waiting for a lock after `milliseconds`."""
    return engine.execution_options(lock_timeout_ms=milliseconds)


def reading(engine: Engine) -> Engine:
    """The same engine for transactions that only read: they never queue behind a writer."""
    return engine.execution_options(read_only=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to date; safe when several processes start at once."""
    config = alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
    else:
        command.upgrade(config, "head")


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """(the store's schema revision, the newest this code knows): equal when migrated."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, head


def is_lock_timeout(error: BaseException) -> bool:
    """A lock not granted in time (the store is busy), as opposed to a store that is down."""
    text_of = str(getattr(error, "orig", error)).lower()
    return any(
        marker in text_of
        for marker in ("database is locked", "lock timeout", "canceling statement due to statement timeout")
    )


def describe_store_error(error: BaseException) -> str:
    """What an operator should read in the log: the cause, not just the exception's class."""
    text_of = str(getattr(error, "orig", error)).lower()
    if "disk is full" in text_of or "no space left" in text_of or "could not extend file" in text_of:
        return "disk full"
    if "readonly" in text_of or "read-only" in text_of or "read only" in text_of:
        return "read-only store"
    if is_lock_timeout(error):
        return "lock timeout (the store is busy)"
    if "connection" in text_of or "could not connect" in text_of or "server closed" in text_of:
        return "store unreachable"
    return f"store error: {str(getattr(error, 'orig', error)).splitlines()[0][:200]}"


def update_rows(
    session: Session, model: type[Any], ids: Sequence[int], where: Sequence[Any], values: dict[str, Any]
) -> int:
    """UPDATE these rows (by id) where `where` holds; how many changed. The session reads them again
    when next used, and only them: expiring the whole session, or letting SQLAlchemy evaluate the
    change on every loaded row, would make a loop over hundreds of rows quadratic."""
    result = session.execute(
        update(model)
        .execution_options(synchronize_session=False)
        .where(model.id.in_(ids), *where)
        .values(**values)
    )
    for row_id in ids:
        loaded = session.identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded)
    return int(result.rowcount)  # type: ignore[attr-defined]


# Rows a session added that the bot owes Slack (storage.pings adds to it); once the session commits
# they are handed to the collector of the work in progress, if any (see `collect_owed`).
OWED_KEY = "owed_rows"
_owed_collector: ContextVar[list[Any] | None] = ContextVar("owed_collector", default=None)


@contextmanager
def collect_owed() -> Iterator[list[int]]:
    """The ids of every delivery row owed by the transactions committed inside this block (in this
    thread): what one request owes Slack, to be delivered right after it, and nothing else."""
    rows: list[Any] = []
    ids: list[int] = []
    token = _owed_collector.set(rows)
    try:
        yield ids
    finally:
        _owed_collector.reset(token)
        ids.extend(row.id for row in rows if getattr(row, "id", None) is not None)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        collector = _owed_collector.get()
        if collector is not None:
            collector.extend(session.info.get(OWED_KEY, ()))
