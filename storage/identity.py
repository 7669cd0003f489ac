"""Identity kept apart: the keyed hash that lets storage match a person without naming them.

A concern row carries no identity: how to reach its reporter (their channel key) and the
name and contact they gave live in an identity record (`identities`), sealed, referenced
from the concern by a random id that means nothing by itself. Rows keyed by a chat or a
person (conversations, relays, the inbox) hold a keyed hash of it instead,
so that a reader of the database alone cannot tell whose they are, while storage, given the
same chat or person, finds them again.

The hash is HMAC-SHA256 with a random 32-byte secret made once per database and kept in it,
sealed with the key ring like any other value (table `hash_key`). So a reader without the
key cannot compute a hash to join rows to a person; and key rotation re-seals the secret
without changing it, so every hash stays valid: a secret derived from the first key would
change with each rotation, and the hashes of values kept nowhere in clear (a conversation's
key) could not be computed again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import column, select, table
from sqlalchemy.engine import Connection

from storage.crypto import KeyRing

HASH_KEY_TABLE = "hash_key"
_HASH_KEY_ROW = 1

# What a hash is of, so that a chat's hash never equals a person's.
OWNER, CHAT, CONVERSATION = "owner", "chat", "conversation"

_hash_key = table(HASH_KEY_TABLE, column("id"), column("secret"))


class Hasher:
    """Keyed hashes of channel keys, with one database's secret."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:  # never the secret
        return "Hasher()"

    def of(self, purpose: str, value: str) -> str:
        """The hash of `value` taken as a `purpose` (OWNER, CHAT, CONVERSATION), 64 hex digits."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def new_secret_token(keys: KeyRing) -> str:
    """A fresh hashing secret, sealed with the ring's first key."""
    return keys.encrypt(secrets.token_hex(32).encode("ascii"))  # text, as its column holds


def load_hasher(connection: Connection, keys: KeyRing) -> Hasher:
    """The database's hasher; its secret is made now if the table holds none."""
    statement = select(_hash_key.c.secret).where(_hash_key.c.id == _HASH_KEY_ROW)
    token = connection.execute(statement).scalar()
    if token is None:
        token = new_secret_token(keys)
        connection.execute(_hash_key.insert().values(id=_HASH_KEY_ROW, secret=token))
    return Hasher(bytes.fromhex(keys.decrypt(str(token)).decode("ascii")))


def new_identity_id() -> str:
    """An identity record's id: random, so that it says nothing of whom or when."""
    return secrets.token_urlsafe(16)
