"""The storage a benchmark runs on: memory, a fresh SQLite file, or a PostgreSQL schema of
its own (dropped afterwards). Encrypted as always, with a fresh key."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from storage.crypto import KeyRing, new_key
from storage.database import open_storage, sqlite_url_for, upgrade
from storage.memory import MemoryStorage
from storage.repositories import Storage

POSTGRES_VARIABLE = "CONCERNBOT_BENCH_POSTGRES_URL"


@contextmanager
def sqlite(key: str | None = None) -> Iterator[Storage]:
    """`key`: the key to seal with (a benchmark that starts `concernbot` passes it on)."""
    with tempfile.TemporaryDirectory() as folder:
        url = sqlite_url_for(Path(folder))
        keys = KeyRing([key or new_key()])
        upgrade(url, keys)
        storage = open_storage(url, keys)
        yield storage
        storage.close()


@contextmanager
def scratch_schema(server: str) -> Iterator[str]:
    """A URL whose connections all work in a new, empty schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def postgres(server: str, key: str | None = None) -> Iterator[Storage]:
    with scratch_schema(server) as url:
        keys = KeyRing([key or new_key()])
        upgrade(url, keys)
        storage = open_storage(url, keys)
        yield storage
        storage.close()


@contextmanager
def memory() -> Iterator[Storage]:
    yield MemoryStorage()


Backend = Callable[[], AbstractContextManager[Storage]]


def backends(with_memory: bool = True) -> list[tuple[str, Backend]]:
    """memory (if asked), sqlite, and postgresql when CONCERNBOT_BENCH_POSTGRES_URL is set."""
    found: list[tuple[str, Backend]] = [("memory", memory)] if with_memory else []
    found.append(("sqlite", sqlite))
    server = os.environ.get(POSTGRES_VARIABLE)
    if server:
        found.append(("postgresql", lambda: postgres(server)))
    return found
