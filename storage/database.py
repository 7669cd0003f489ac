"""Opening the database: engines for SQLite and PostgreSQL, and migrations to head.

SQLite is the embedded default: one file under the data folder, in WAL mode, with every
transaction begun IMMEDIATE so writers queue (up to `busy_timeout`) instead of failing
when a read turns into a write, and `synchronous` NORMAL unless FULL is asked for (see
`SYNCHRONOUS`). PostgreSQL is reached through psycopg 3.

A database that cannot be used (a server down or gone, a file locked, unwritable, not a
database, a data folder that is a file) is raised as `StorageUnavailable`: one kind of
problem and a plain reason, read from the driver's error here and nowhere else, and where
the database is, with any password hidden. The transaction is rolled back, so everything
saved before stays saved.

Every engine carries the key ring its encrypted columns are sealed with (`storage.encrypted`):
opening a database checks the ring against the database's key check value (WrongKey), and
a value no key opens, met later, is StorageUnavailable("undecryptable").
"""

from __future__ import annotations

import errno
import fcntl
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from storage.crypto import KEY_FILE, KeyRing, LostKeyFile, Undecryptable, key_file_ring
from storage.encrypted import KEY_CHECK_TABLE, bind_keys, check_keys
from storage.identity import Hasher, load_hasher
from storage.repositories import StorageUnavailable as StorageUnavailable  # raised here
from storage.repositories import UnitOfWork, WriteInReading
from storage.sql import QUEUED, SqlUnitOfWork
from storage.tables import on_postgresql

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in MIGRATIONS. A database already at it needs no Alembic, so a start
# reads the version table with plain SQL and imports Alembic (a third of a second) only when
# there is something to migrate; a test checks this is the migration scripts' own head.
SCHEMA_HEAD = "0010"
VERSION_TABLE = "alembic_version"
SQLITE_BUSY_TIMEOUT_MS = 5000
# SQLite's `synchronous` in WAL mode. NORMAL: a commit is written to the log but the disk
# is flushed only at checkpoints, so a process killed (kill -9) loses nothing, while an OS
# crash or power loss may lose the last commits (never corrupting the file). FULL flushes
# the log at every commit: nothing committed is lost, for about a millisecond a turn, many
# more on a busy disk. (sqlite.org/pragma.html#pragma_synchronous, sqlite.org/wal.html)
Synchronous = Literal["NORMAL", "FULL"]
SYNCHRONOUS: tuple[Synchronous, ...] = get_args(Synchronous)
DEFAULT_SYNCHRONOUS: Synchronous = "NORMAL"
# The execution option that marks a SQLite connection's transaction as `reading`.
READING = "concernbot_reading"
# PostgreSQL's read_only_sql_transaction: a write in a READ ONLY transaction.
READ_ONLY_SQLSTATE = "25006"
# Any fixed number will do; every process migrating this database agrees on it.
_MIGRATION_LOCK = 0x636F6E6365726E  # "concern" in ASCII


# What a driver's message means, first match wins: (words in the message, problem, reason).
_DRIVER_MESSAGES = (
    ("connection refused", "unreachable", "connection refused"),
    ("could not translate host name", "unreachable", "unknown host name"),
    ("name or service not known", "unreachable", "unknown host name"),
    ("no route to host", "unreachable", "no route to host"),
    ("timeout expired", "unreachable", "no answer in time"),
    ("timed out", "unreachable", "no answer in time"),
    ("the database system is starting up", "unreachable", "the server is starting up"),
    ("too many connections", "unreachable", "the server has too many connections"),
    ("password authentication failed", "login", "the user or password was refused"),
    ("no password supplied", "login", "a password is needed"),
    ("does not exist", "missing", "no such database or user"),
    ("terminating connection", "lost", "the server closed the connection"),
    ("the database system is shutting down", "lost", "the server is shutting down"),
    ("server closed the connection", "lost", "connection lost"),
    ("consuming input failed", "lost", "connection lost"),
    ("connection is closed", "lost", "connection lost"),
    ("connection is lost", "lost", "connection lost"),
    ("database is locked", "locked", "locked by another program"),
    ("database table is locked", "locked", "locked by another program"),
    ("is not a database", "not_a_database", "not a SQLite database"),
    ("database disk image is malformed", "damaged", "the file is damaged"),
    ("disk i/o error", "damaged", "a disk input/output error"),
    ("database or disk is full", "full", "the disk is full"),
    ("readonly database", "read_only", "it, or its folder, is read-only"),
    ("unable to open database file", "no_permission", "it cannot be opened or created"),
)
# The same for a file or folder the database needs (the data folder, the migration lock).
_OS_ERRORS = {
    errno.EEXIST: ("not_a_folder", "it is a file, not a folder"),
    errno.ENOTDIR: ("not_a_folder", "part of its path is a file, not a folder"),
    errno.EACCES: ("no_permission", "permission denied"),
    errno.EPERM: ("no_permission", "permission denied"),
    errno.EROFS: ("read_only", "read-only file system"),
    errno.ENOSPC: ("full", "the disk is full"),
    errno.ECONNREFUSED: ("unreachable", "connection refused"),
}
PROBLEMS = frozenset(
    {problem for _, problem, _ in _DRIVER_MESSAGES}
    | {problem for problem, _ in _OS_ERRORS.values()}
    | {"bad_url", "undecryptable", "other"}
)


def where(url: str | URL) -> str:
    """The database's file, or its URL with the password and the query left out."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.set(query={}).render_as_string(hide_password=True)


def _unavailable(error: Exception, at: str) -> StorageUnavailable | None:
    """The plain account of `error`, or None when it is not about the database being usable
    (a constraint, a bug in a statement: those are raised as they are)."""
    if isinstance(error, OSError):
        problem, reason = _OS_ERRORS.get(
            error.errno or 0, ("other", error.strerror or type(error).__name__)
        )
        return StorageUnavailable(problem, reason, str(error.filename or at))
    # DatabaseError itself, not its kin IntegrityError or ProgrammingError: SQLite's "file is
    # not a database" and "malformed" arrive as the base class.
    usable = isinstance(error, OperationalError | InterfaceError) or type(error) is DatabaseError
    if not usable:
        return None
    message = str(getattr(error, "orig", None) or error).lower()
    for words, problem, reason in _DRIVER_MESSAGES:
        if words in message:
            return StorageUnavailable(problem, reason, at)
    name = type(getattr(error, "orig", None) or error).__name__
    return StorageUnavailable("other", f"an unexpected database error, {name}", at)


def _parse(url: str | URL) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as error:
        raise _bad_url() from error


def _bad_url() -> StorageUnavailable:
    # The error's own message quotes the URL, password and all, and a URL that cannot be read
    # cannot have its password hidden: it is not shown.
    return StorageUnavailable("bad_url", "it cannot be read as one", "(not shown)")


@contextmanager
def _plainly(url: str | URL, opening: bool = False) -> Iterator[None]:
    """Raise the driver's errors that mean "cannot use the database now" as StorageUnavailable;
    while `opening` it, a URL naming no known database, and the errors of the database's own
    files and folders, too."""
    try:
        yield
    except ArgumentError as error:  # e.g. an unknown dialect in the URL
        if not opening:
            raise
        raise _bad_url() from error
    except (OperationalError, InterfaceError, DatabaseError, OSError) as error:
        if isinstance(error, OSError) and not opening:
            raise
        plain = _unavailable(error, where(url))
        if plain is None:
            raise
        raise plain from error


class SqlStorage:
    """Storage over one SQLAlchemy engine; each unit of work is one session and transaction.

    `keys` seal and open the encrypted columns (they are bound to the engine).
    `on_queued`, if set, is called after each transaction that queued an outbox item has
    committed (in the thread that committed it): this process's outbox worker is woken at
    once rather than finding the item at its next look."""

    def __init__(self, engine: Engine, keys: KeyRing) -> None:
        bind_keys(engine, keys)
        self.engine = engine
        self.keys = keys
        self._hasher: Hasher | None = None  # read from the database at the first unit of work
        # SQLite has one writer at a time, and here every transaction begins IMMEDIATE.
        # Within this process, transactions queue on a lock, not in SQLite's busy handler,
        # which sleeps longer and longer between tries: a thread that writes often (one
        # chat's flood) would keep overtaking one that waits (another chat's turn). Re-entrant,
        # as before: a unit of work opened inside another in the same thread still may run.
        self._writer = threading.RLock() if engine.dialect.name == "sqlite" else None
        self.on_queued: Callable[[], None] | None = None
        # The same pool, its connections marked for `reading` (see `_sqlite_engine`).
        self._reader = engine.execution_options(
            **(
                {READING: True}
                if engine.dialect.name == "sqlite"
                else {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
        )

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """One transaction; StorageUnavailable if the database cannot be reached or written."""
        with self._writing():
            with self._unit(self.engine) as (session, uow):
                yield uow
            queued = session.info.get(QUEUED, False)  # and committed
        if queued and self.on_queued is not None:
            self.on_queued()

    @contextmanager
    def reading(self) -> Iterator[UnitOfWork]:
        """A read-only transaction over one snapshot, taking no write lock: an export of
        100,000 concerns, tens of seconds, never holds up a learner's turn or another export.
        SQLite: a deferred BEGIN (under WAL, a reader waits for no writer) with `query_only`
        on; PostgreSQL: READ ONLY, REPEATABLE READ so every statement sees one snapshot.
        A write in it raises WriteInReading."""
        try:
            with self._unit(self._reader) as (_, uow):
                yield uow
        except StorageUnavailable as error:
            # SQLite's refusal reads as a read-only file; here it is the caller's write.
            if error.problem == "read_only" and self.engine.dialect.name == "sqlite":
                raise WriteInReading() from error
            raise
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == READ_ONLY_SQLSTATE:
                raise WriteInReading() from error
            raise

    @contextmanager
    def _unit(self, engine: Engine) -> Iterator[tuple[Session, UnitOfWork]]:
        """One session and transaction over `engine` (the engine, or its reading options)."""
        try:
            with (
                _plainly(self.engine.url),
                Session(engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session, SqlUnitOfWork(session, self._hasher_for(session))
        except PoolTimeout as error:
            raise StorageUnavailable(
                "unreachable", "no connection free in time", where(self.engine.url)
            ) from error
        except Undecryptable as error:
            # Written with a key this process was not given, or damaged: say so, and
            # never hand garbage on. `concernbot keys check` names the rows.
            raise StorageUnavailable(
                "undecryptable",
                "a stored value opens with none of the keys given",
                where(self.engine.url),
            ) from error
        except DBAPIError as error:
            if error.connection_invalidated:  # the connection died under us
                raise StorageUnavailable(
                    "lost", "connection lost", where(self.engine.url)
                ) from error
            raise

    def _hasher_for(self, session: Session) -> Hasher:
        # Read once, when first needed: the schema may be migrated after opening.
        if self._hasher is None:
            self._hasher = load_hasher(session.connection(), self.keys)
        return self._hasher

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """This process's turn to write (SQLite); as long to wait as SQLite itself would."""
        if self._writer is None:
            yield
            return
        if not self._writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            # Our own writer is holding it, as another program would.
            raise StorageUnavailable("locked", "locked by another program", where(self.engine.url))
        try:
            yield
        finally:
            self._writer.release()

    def close(self) -> None:
        self.engine.dispose()


DATABASE_FILE = "concernbot.db"  # the embedded database, in the data folder


def sqlite_url_for(data_dir: Path) -> str:
    """The URL of the embedded database file inside `data_dir`."""
    return f"sqlite:///{(data_dir / DATABASE_FILE).as_posix()}"


def embedded_keys(data_dir: Path) -> tuple[KeyRing, bool]:
    """The embedded database's key ring, from the key file in `data_dir` (made there on
    first run, see `storage.crypto.key_file_ring`), and whether it was made now.

    A data folder that cannot hold it is StorageUnavailable, as it would be for the database.
    """
    key_file, database = data_dir / KEY_FILE, data_dir / DATABASE_FILE
    if not key_file.exists() and _sealed(database):
        raise LostKeyFile(str(key_file), str(database))
    with _plainly(sqlite_url_for(data_dir), opening=True):
        return key_file_ring(key_file)


def _sealed(database: Path) -> bool:
    """Whether an embedded database file holds values sealed with a key (a key check row):
    one made before encryption holds none, and a new key is right for it."""
    if not database.exists():
        return False
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (KEY_CHECK_TABLE,),
            ).fetchone()
            return (
                found is not None
                and connection.execute(
                    f"SELECT 1 FROM {KEY_CHECK_TABLE} LIMIT 1"  # a constant table name
                ).fetchone()
                is not None
            )
    except sqlite3.Error:
        return False  # not a database this can read: opening it says what is wrong


def check_url(url: str) -> None:
    """StorageUnavailable("bad_url") unless `url` names a database this bot can open (no
    connection is made)."""
    with _plainly(url, opening=True):
        _create_engine(url).dispose()


def open_storage(
    url: str, keys: KeyRing, synchronous: Synchronous = DEFAULT_SYNCHRONOUS
) -> SqlStorage:
    """Storage on the database at `url`, sealing with `keys` (the schema is not touched; see
    `upgrade`). WrongKey if the database was encrypted with a key `keys` does not hold.
    `synchronous`: SQLite's, on every connection (see `SYNCHRONOUS`); a server ignores it."""
    with _plainly(url, opening=True):
        storage = SqlStorage(_create_engine(url, synchronous), keys)
        try:
            with storage.engine.begin() as connection:
                check_keys(connection, keys, where(url))
        except BaseException:
            storage.close()
            raise
        return storage


def upgrade(url: str, keys: KeyRing) -> None:
    """Run the migrations up to head, in one transaction; `keys` seal what they encrypt.

    On PostgreSQL a transaction-scoped advisory lock makes concurrent upgrades (several
    replicas starting together) take turns; on SQLite, BEGIN IMMEDIATE does the same.
    """
    with _plainly(url, opening=True), _sqlite_migration_lock(url):
        if _migrate(url, "head", keys):
            _compact_sqlite(url)


def downgrade(url: str, revision: str, keys: KeyRing) -> None:
    """Undo migrations down to `revision` (e.g. "0001"; "base" for an empty database),
    under the same locks and in one transaction, as `upgrade`; `keys` open what was sealed."""
    with _plainly(url, opening=True), _sqlite_migration_lock(url):
        _migrate(url, revision, keys, down=True)


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """On SQLite, a lock file beside the database so that processes migrate one at a time.

    Switching a new file to WAL mode can fail with "database is locked" without waiting for
    the busy timeout when another connection is opening it at the same moment.
    """
    parsed = _parse(url)
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


def _migrate(url: str, revision: str, keys: KeyRing, down: bool = False) -> int:
    """Upgrade (or `down`grade) to `revision`; how many rows a migration sealed that held
    plain text."""
    engine = _create_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            if not down and revision == "head" and _applied(connection) == {SCHEMA_HEAD}:
                return 0  # the usual start: nothing to do, and no Alembic to import
            from alembic import command  # only when there is work for it

            config = alembic_config(url)
            config.attributes["connection"] = connection
            config.attributes["keys"] = keys
            (command.downgrade if down else command.upgrade)(config, revision)
            return int(config.attributes.get("sealed_rows", 0))
    finally:
        engine.dispose()


def _applied(connection: Connection) -> set[str]:
    """The revisions the database records as applied (none for a new one), read as Alembic
    does but without it."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # a constant
    return {str(version) for (version,) in rows}


def _compact_sqlite(url: str) -> None:
    """Rebuild an SQLite file and empty its write-ahead log, so that what rows held before
    they were sealed is not left in free pages or old log frames."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    engine = _create_engine(url)
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("VACUUM")  # not in a transaction: the connection autocommits
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            connection.close()
    finally:
        engine.dispose()


def schema_is_current(url: str) -> bool:
    """Whether the database at `url` has every migration applied (and no unknown one)."""
    with _plainly(url, opening=True):
        engine = _create_engine(url)
        try:
            with engine.connect() as connection:
                return _applied(connection) == {SCHEMA_HEAD}
        finally:
            engine.dispose()


def alembic_config(url: str) -> Config:
    """An Alembic configuration for our migrations, built in code (no alembic.ini needed)."""
    from alembic.config import Config  # imported only to migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # The config goes through ConfigParser interpolation, where "%" is special.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _create_engine(url: str, synchronous: Synchronous = DEFAULT_SYNCHRONOUS) -> Engine:
    parsed = _parse(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, synchronous)
    on_postgresql()
    # hide_parameters: an error message must never quote a concern's text.
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def _sqlite_engine(url: URL, synchronous: Synchronous) -> Engine:
    if synchronous not in SYNCHRONOUS:  # it goes into a PRAGMA: only the known words
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # `?timeout=SECONDS` in the URL, as in Python's sqlite3, sets how long a writer waits.
    timeout = url.query.get("timeout")
    busy_ms = round(float(str(timeout)) * 1000) if timeout else SQLITE_BUSY_TIMEOUT_MS
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions away from the sqlite3 module, which would otherwise begin
        # them late and break SAVEPOINT; `_on_begin` below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself waits for other connections.
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # What is deleted (a cancelled concern, an answered pathway question) is
            # overwritten on disk, not left in free pages for a copy of the file to show.
            cursor.execute("PRAGMA secure_delete=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reading unit of work (`SqlStorage.reading`) begins deferred: under WAL it takes
        # no lock, and reads the snapshot of its first statement. `query_only` makes a write
        # in it fail; set only when it changes, so a turn pays nothing for it.
        reading = bool(connection.get_execution_options().get(READING))
        if connection.info.get(READING, False) != reading:
            connection.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
            connection.info[READING] = reading
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine
