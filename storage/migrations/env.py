"""Alembic environment for concernbot: the target is `SQLModel.metadata` from storage.tables.

Programmatic callers (see `storage.database.upgrade`) hand over an open connection in
`config.attributes["connection"]`, so the upgrade runs inside their transaction and lock.
Without one, an engine is made from `sqlalchemy.url`.

Migrations that seal or open encrypted values take the key ring from
`config.attributes["keys"]`, which `upgrade` and `downgrade` fill; the `alembic` command line
fills it here from CONCERNBOT_SECRET_KEY (for the embedded database, that is the key in the
data folder's concernbot.key).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.crypto import KeyRing

config = context.config
target_metadata = SQLModel.metadata
if "keys" not in config.attributes and os.environ.get("CONCERNBOT_SECRET_KEY"):
    config.attributes["keys"] = KeyRing.parse(
        os.environ["CONCERNBOT_SECRET_KEY"], "CONCERNBOT_SECRET_KEY"
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    """Write the SQL out instead of running it (`alembic upgrade --sql`)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        _configure(shared)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
