"""Where a value is kept: every row of every table, on SQL, or every record, in memory, that
holds it anywhere (a key, a chat, an owner, a payload). For tests that check what is left of a
chat, so they look everywhere rather than where the code is expected to write."""

from __future__ import annotations

from dataclasses import fields

from sqlmodel import SQLModel

from storage.database import SqlStorage
from storage.memory import MemoryStorage
from storage.repositories import Storage


def traces(storage: Storage, needle: str) -> list[str]:
    """'table: record' for each record that holds `needle`, in any of its values."""
    if isinstance(storage, SqlStorage):
        return _sql(storage, needle)
    if isinstance(storage, MemoryStorage):
        return _memory(storage, needle)
    raise TypeError(f"no way to look into {type(storage).__name__}")


def _sql(storage: SqlStorage, needle: str) -> list[str]:
    found = []
    with storage.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                if any(needle in str(value) for value in row):
                    found.append(f"{table.name}: {tuple(row)!r:.300}")
    return found


def _memory(storage: MemoryStorage, needle: str) -> list[str]:
    # The memory backend's own attributes, read directly: every table it has, by name, so
    # that one added later is looked into too.
    tables = {f.name: getattr(storage._tables, f.name) for f in fields(storage._tables)}
    tables["inbox"] = storage._inbox.items
    found = []
    for name, table in tables.items():
        records = list(table.items()) if isinstance(table, dict) else list(table)
        found += [f"{name}: {r!r:.300}" for r in records if needle in repr(r)]
    known = {"_tables", "_inbox"}
    others = {k: v for k, v in vars(storage).items() if k not in known and needle in repr(v)}
    found += [f"{name}: {value!r:.300}" for name, value in others.items()]
    return found
