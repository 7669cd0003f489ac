"""Backends for the storage tests: memory, a SQLite file, and a PostgreSQL schema.

`postgres_url` (a fresh schema per test, skip-or-fail by CONCERNBOT_TEST_POSTGRES_URL and
CI) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from secret_keys import keys_for

from storage.database import open_storage, sqlite_url_for, upgrade
from storage.memory import MemoryStorage
from storage.repositories import Storage


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A folder that does not exist yet, so opening it must create it.
    return sqlite_url_for(tmp_path / "data")


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty SQL database, one of each kind."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """Every storage backend, migrated and empty."""
    if request.param == "memory":
        yield MemoryStorage()
        return
    url: str = request.getfixturevalue(f"{request.param}_url")
    upgrade(url, keys_for(url))
    opened = open_storage(url, keys_for(url))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(
    params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def row_locking_storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """The backends where two open units of work can both write: rows, not the whole
    database, are locked. (SQLite makes the second wait for the first to end.)"""
    if request.param == "memory":
        yield MemoryStorage()
        return
    url: str = request.getfixturevalue("postgres_url")
    upgrade(url, keys_for(url))
    opened = open_storage(url, keys_for(url))
    try:
        yield opened
    finally:
        opened.close()
