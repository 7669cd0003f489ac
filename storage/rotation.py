"""Key rotation: every encrypted value sealed again with the ring's first key.

`rotate` walks every table with encrypted columns (found by their column type, so a table
added later is included without a word here), a batch of rows at a time, each batch its own
transaction. A value already sealed with the first key is left as it is, and one sealed with
an older key is decrypted and sealed again (never wrapped twice), so a run that was stopped
is finished by running it again. The key check value goes last: once it opens with the
first key alone, every value does, and older keys may be dropped.

Rows are written back only if they still hold what was read (compare and set), so the bot
may keep running meanwhile: whatever it writes is sealed with the first key already.
`rotate(..., write=False)` only counts, and names the rows holding a value no key opens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, and_, func, inspect, select
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.sql.expression import TableClause
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.crypto import KeyRing, Undecryptable
from storage.encrypted import ENCRYPTED_TYPES, KEY_CHECK_TABLE

BATCH = 200


@dataclass(frozen=True)
class SealedTable:
    """A table's primary key column and its encrypted columns."""

    name: str
    key: str
    columns: tuple[str, ...]

    def raw(self) -> TableClause:
        """The table as plain Core, untyped: tokens are read and written as stored."""
        return sql_table(self.name, sql_column(self.key), *map(sql_column, self.columns))


def sealed_tables() -> list[SealedTable]:
    """Every table with encrypted columns, the key check table last."""
    found = [_sealed(t) for t in SQLModel.metadata.sorted_tables]
    tables = [t for t in found if t is not None]
    return sorted(tables, key=lambda t: t.name == KEY_CHECK_TABLE)


def _sealed(table: Table) -> SealedTable | None:
    columns = tuple(c.name for c in table.columns if isinstance(c.type, ENCRYPTED_TYPES))
    keys = [c.name for c in table.primary_key.columns]
    if not columns:
        return None
    if len(keys) != 1:
        raise ValueError(f"{table.name}: a table with encrypted columns needs a one-column key")
    return SealedTable(table.name, keys[0], columns)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did (or, with write=False, would do).

    `rows`: rows looked at; `rotated`: rows sealed again with the first key (to do, when not
    writing); `unreadable`: (table, key) of rows holding a value no key of the ring opens,
    left as they are.
    """

    rows: int
    rotated: int
    unreadable: tuple[tuple[str, str], ...]


def count_rows(engine: Engine) -> int:
    """How many rows a rotation looks at."""
    total = 0
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        for sealed in sealed_tables():
            if sealed.name in present:
                statement = select(func.count()).select_from(sql_table(sealed.name))
                total += int(connection.execute(statement).scalar_one())
    return total


def rotate(
    engine: Engine,
    keys: KeyRing,
    *,
    write: bool = True,
    batch: int = BATCH,
    progress: Callable[[int], object] = lambda rows: None,
) -> Rotation:
    """Seal every value again with the first key of `keys`, a committed batch at a time;
    `progress` is told how many rows each batch held."""
    rows = rotated = 0
    unreadable: list[tuple[str, str]] = []
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
    for sealed in sealed_tables():
        if sealed.name not in present:
            continue
        for done, changed, bad in _batches(engine, keys, sealed, write, batch):
            rows += done
            rotated += changed
            unreadable += [(sealed.name, str(key)) for key in bad]
            progress(done)
    return Rotation(rows, rotated, tuple(unreadable))


def _batches(
    engine: Engine, keys: KeyRing, sealed: SealedTable, write: bool, size: int
) -> Iterator[tuple[int, int, list[Any]]]:
    """Per batch of the table's rows, in key order: (rows, rows rotated, keys unreadable)."""
    raw = sealed.raw()
    key = raw.c[sealed.key]
    last: Any = None
    while True:
        statement = select(raw).order_by(key).limit(size)
        if last is not None:
            statement = statement.where(key > last)
        with engine.begin() as connection:
            found = connection.execute(statement).all()
            if not found:
                return
            changed, bad = 0, []
            for row in found:
                try:
                    fresh = _rotated(keys, sealed, row)
                except Undecryptable:
                    bad.append(row[0])
                    continue
                if fresh:
                    changed += 1
                    if write:
                        _write_back(connection, raw, sealed, row, fresh)
        last = found[-1][0]
        yield len(found), changed, bad


def _rotated(keys: KeyRing, sealed: SealedTable, row: Row[Any]) -> dict[str, str]:
    """The row's values that are not sealed with the first key, sealed with it."""
    stored: list[tuple[str, Any]] = list(zip(sealed.columns, row[1:], strict=True))
    return {
        name: keys.rotate(str(value))
        for name, value in stored
        if value is not None and not keys.is_current(str(value))
    }


def _write_back(
    connection: Connection,
    raw: TableClause,
    sealed: SealedTable,
    row: Row[Any],
    fresh: dict[str, str],
) -> None:
    # Only if the row still holds what was read: a newer value is sealed with the first key.
    before: dict[str, Any] = dict(zip(sealed.columns, row[1:], strict=True))
    unchanged = and_(raw.c[sealed.key] == row[0], *(raw.c[n] == before[n] for n in fresh))
    connection.execute(raw.update().where(unchanged).values(fresh))
