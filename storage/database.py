"""Opening the database: engines for SQLite and PostgreSQL, and migrations to head.

SQLite is the embedded default: one file under the data folder, in WAL mode, with every
transaction begun IMMEDIATE so writers queue (up to `busy_timeout`) instead of failing
when a read turns into a write. PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from storage.repositories import StorageUnavailable, UnitOfWork
from storage.sql import SqlUnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Any fixed number will do; every process migrating this database agrees on it.
_MIGRATION_LOCK = 0x636F6E6365726E  # "concern" in ASCII


class SqlStorage:
    """Storage over one SQLAlchemy engine; each unit of work is one session and transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time, and here every transaction begins IMMEDIATE.
        # Within this process, transactions queue on a lock, not in SQLite's busy handler,
        # which sleeps longer and longer between tries: a thread that writes often (one
        # chat's flood) would keep overtaking one that waits (another chat's turn). Re-entrant,
        # as before: a unit of work opened inside another in the same thread still may run.
        self._writer = threading.RLock() if engine.dialect.name == "sqlite" else None

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction; StorageUnavailable if the database cannot be reached or written."""
        with self._writing():
            try:
                with Session(self.engine, expire_on_commit=False) as session, session.begin():
                    yield SqlUnitOfWork(session)
            except (OperationalError, InterfaceError, PoolTimeout) as error:
                raise StorageUnavailable(unavailable_reason(error)) from error
            except DBAPIError as error:
                if error.connection_invalidated:  # the connection died under us
                    raise StorageUnavailable(unavailable_reason(error)) from error
                raise

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """This process's turn to write (SQLite); as long to wait as SQLite itself would."""
        if self._writer is None:
            yield
            return
        if not self._writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise StorageUnavailable("database is locked")  # by our own writer, waiting on it
        try:
            yield
        finally:
            self._writer.release()

    def close(self) -> None:
        self.engine.dispose()


def unavailable_reason(error: Exception) -> str:
    """What the driver said, on one line: never the statement or its parameters."""
    said = str(getattr(error, "orig", None) or type(error).__name__).strip()
    return (said.splitlines() or [type(error).__name__])[0][:200]


def sqlite_url_for(data_dir: Path) -> str:
    """The URL of the embedded database file inside `data_dir`."""
    return f"sqlite:///{(data_dir / 'concernbot.db').as_posix()}"


def open_storage(url: str) -> SqlStorage:
    """Storage on the database at `url` (the schema is not touched; see `upgrade`)."""
    return SqlStorage(_create_engine(url))


def upgrade(url: str) -> None:
    """Run the migrations up to head, in one transaction.

    On PostgreSQL a transaction-scoped advisory lock makes concurrent upgrades (several
    replicas starting together) take turns; on SQLite, BEGIN IMMEDIATE does the same.
    """
    with _sqlite_migration_lock(url):
        _migrate(url, "head", command.upgrade)


def downgrade(url: str, revision: str) -> None:
    """Undo migrations down to `revision` (e.g. "0001"; "base" for an empty database),
    under the same locks and in one transaction, as `upgrade`."""
    with _sqlite_migration_lock(url):
        _migrate(url, revision, command.downgrade)


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """On SQLite, a lock file beside the database so that processes migrate one at a time.

    Switching a new file to WAL mode can fail with "database is locked" without waiting for
    the busy timeout when another connection is opening it at the same moment.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _migrate(url: str, revision: str, action: Callable[[Config, str], None]) -> None:
    engine = _create_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            config = alembic_config(url)
            config.attributes["connection"] = connection
            action(config, revision)
    finally:
        engine.dispose()


def schema_is_current(url: str) -> bool:
    """Whether the database at `url` has every migration applied (and no unknown one)."""
    engine = _create_engine(url)
    try:
        with engine.connect() as connection:
            applied = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return applied == set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def alembic_config(url: str) -> Config:
    """An Alembic configuration for our migrations, built in code (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # The config goes through ConfigParser interpolation, where "%" is special.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    # hide_parameters: an error message must never quote a concern's text.
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions away from the sqlite3 module, which would otherwise begin
        # them late and break SAVEPOINT; `_on_begin` below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself waits for other connections.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
