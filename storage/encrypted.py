"""Encrypted columns: what a table model declares so that its values are sealed at rest.

A column of type `EncryptedText` (a str) or `EncryptedJSON` (a JSON-shaped dict or list)
holds a Fernet token in the database and the plain value everywhere else: the repositories
and everything above them read and write plain values, and every statement (ORM or Core,
insert, update or select) seals and opens them on the way. The key ring comes from the
engine (`bind_keys`), so nothing else has to carry it.

An encrypted column cannot be searched: sealing the same value twice gives two different
tokens. Comparing one to anything but NULL is refused when the statement is built, so a
query that would silently find nothing fails at once instead.

The database also keeps a key check value (table `key_check`, one row): a known text
sealed like any other value. `check_keys` opens it at start, so a database opened with the
wrong key is refused there, in one line, before anything is read or written.

To seal a new column (an identity record's contact, say): declare it in `storage/tables.py`
with `_encrypted()` (a str, NULL allowed), `_encrypted(nullable=False)` or
`_encrypted_json()` (a dict), in a table whose primary key is one column; create it as
`sa.String()` in its migration, and if the migration fills it from existing data, seal each
value with `context.config.attributes["keys"].encrypt(text.encode())` as 0007 does. Nothing
else: the repositories read and write plain values, and `storage.rotation` (`concernbot keys
rotate` and `check`) finds the column by its type. To look a row up by a sealed value, store
a keyed hash of it beside it: the token itself cannot be matched.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, String, inspect, select, table
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from storage.crypto import KeyRing, Undecryptable, WrongKey

_KEYS = "concernbot_keys"  # the attribute of the engine's dialect that holds its key ring
KEY_CHECK_TABLE = "key_check"
KEY_CHECK_TEXT = "concernbot key check"
_KEY_CHECK_ROW = 1


class NoKeys(RuntimeError):
    """An encrypted column was used through an engine no key ring was bound to (a bug)."""


def bind_keys(engine: Engine, keys: KeyRing) -> None:
    """Make `engine` seal and open encrypted columns with `keys`.

    The ring is kept on the engine's dialect, the one object SQLAlchemy hands to a column
    type's bind and result processing, and which belongs to this engine alone.
    """
    setattr(engine.dialect, _KEYS, keys)


def keys_of(dialect: Dialect) -> KeyRing:
    keys = getattr(dialect, _KEYS, None)
    if not isinstance(keys, KeyRing):
        raise NoKeys("no key ring is bound to this engine: open it with storage.database")
    return keys


class _Unsearchable(TypeDecorator.Comparator[Any]):
    """Only IS NULL and IS NOT NULL: any other comparison of a token would match nothing."""

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in (operators.is_, operators.is_not):
            return super().operate(op, *other, **kwargs)
        raise TypeError(f"an encrypted column cannot be compared or searched ({op.__name__})")

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise TypeError(f"an encrypted column cannot be compared or searched ({op.__name__})")


class EncryptedText(TypeDecorator[str]):
    """A str, stored as a Fernet token (VARCHAR); None stays NULL."""

    impl = String
    cache_ok = True
    comparator_factory = _Unsearchable  # a class, as SQLAlchemy's documentation shows

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keys_of(dialect).encrypt(value.encode("utf-8"))

    def process_result_value(self, value: Any | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keys_of(dialect).decrypt(str(value)).decode("utf-8")


class EncryptedJSON(TypeDecorator[Any]):
    """JSON-shaped data (dicts, lists, str, numbers, bools, None inside), stored as the
    Fernet token of its JSON text (VARCHAR); None stays NULL."""

    impl = String
    cache_ok = True
    comparator_factory = _Unsearchable

    def process_bind_param(self, value: Any | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return keys_of(dialect).encrypt(text.encode("utf-8"))

    def process_result_value(self, value: Any | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(keys_of(dialect).decrypt(str(value)))


ENCRYPTED_TYPES = (EncryptedText, EncryptedJSON)

# The key check row as plain Core, so that its token is read as stored.
_key_check = table(KEY_CHECK_TABLE, sql_column("id"), sql_column("token"))


def key_check_token(keys: KeyRing) -> str:
    """A new key check value, sealed with the ring's first key."""
    return keys.encrypt(KEY_CHECK_TEXT.encode("utf-8"))


def check_keys(connection: Connection, keys: KeyRing, where: str) -> None:
    """WrongKey unless the database's key check value opens with `keys`.

    A database not yet migrated to encryption has no key check table: nothing to check. One
    whose check row is missing gets one sealed with `keys`.
    """
    if not inspect(connection).has_table(KEY_CHECK_TABLE):
        return
    statement = select(_key_check.c.token).where(_key_check.c.id == _KEY_CHECK_ROW)
    token = connection.execute(statement).scalar()
    if token is None:
        values = {"id": _KEY_CHECK_ROW, "token": key_check_token(keys)}
        connection.execute(_key_check.insert().values(**values))
        return
    try:
        opened = keys.decrypt(str(token))
    except Undecryptable as error:
        raise WrongKey(where) from error
    if opened != KEY_CHECK_TEXT.encode("utf-8"):
        raise WrongKey(where)
