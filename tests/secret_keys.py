"""The keys the tests seal their databases with.

A database in a data folder is sealed with that folder's key file, as the bot seals it (so
a test and the bot process it starts open the same database alike); a server database with
TEST_KEYS, which a bot process the test starts gets as CONCERNBOT_SECRET_KEY (`SECRET_ENV`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url

from storage.crypto import KEY_FILE, KeyRing, key_file_ring, new_key

TEST_KEY = new_key()  # a new one each run: nothing may depend on a key's value
TEST_KEYS = KeyRing.parse(TEST_KEY, "the tests' key")
SECRET_ENV = {"CONCERNBOT_SECRET_KEY": TEST_KEY}


def folder_keys(data: Path) -> KeyRing:
    """The key ring of the data folder's key file (made if there is none yet)."""
    return key_file_ring(data / KEY_FILE)[0]


def keys_for(url: str) -> KeyRing:
    """The keys a database at `url` is sealed with in the tests: an SQLite file's folder's,
    or TEST_KEYS for a server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return folder_keys(Path(parsed.database).parent)
    return TEST_KEYS
