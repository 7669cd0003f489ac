"""The key ring that encrypts what learners and the team write, and the key file that holds
the embedded database's key.

Values are sealed with Fernet (from the maintained `cryptography` library): AES-128-CBC with
an HMAC-SHA256 tag, so a value read with the wrong key is refused, never turned into
garbage. A ring holds one key or several: the first encrypts, every one of them decrypts,
so a new key can be put first while values sealed with an older one are still read, until
`storage.rotation` has sealed them all again with the first.

Keys are written as Fernet writes them (44 characters of URL-safe base64), separated by
commas or new lines, in CONCERNBOT_SECRET_KEY or in the key file. The key file is made once,
in the data folder beside the embedded database, readable by its owner only (0600), and
never overwritten: a person may edit it (a new key first, then the old one) to rotate.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE = "concernbot.key"  # in the data folder, beside the embedded database
_SEPARATORS = re.compile(r"[,\s]+")


class KeyProblem(Exception):
    """The keys cannot be used with this database; `problem` says how ("missing", "bad",
    "wrong"). The message never quotes a key."""

    problem = "other"


class MissingKey(KeyProblem):
    """No key given where one is needed: a database server (no key is ever made up for one),
    or a migration that seals or opens values."""

    problem = "missing"

    def __init__(self) -> None:
        super().__init__("no encryption key was given: set CONCERNBOT_SECRET_KEY")


class BadKey(KeyProblem):
    """What was given as a key is not one (wrong length, not base64, or nothing at all)."""

    problem = "bad"

    def __init__(self, source: str, position: int | None) -> None:
        what = "no key" if position is None else f"key {position} is not a Fernet key"
        super().__init__(f"{source}: {what}")
        self.source = source
        self.position = position


class WrongKey(KeyProblem):
    """The database's key check value opens with none of the keys: it was encrypted with
    another key."""

    problem = "wrong"

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} was encrypted with another key")
        self.where = where


class LostKeyFile(KeyProblem):
    """The embedded database was sealed with the data folder's key file, and the file is
    gone: a new key would open nothing, so none is made."""

    problem = "lost"

    def __init__(self, key_file: str, where: str) -> None:
        super().__init__(f"the key file {key_file} is missing")
        self.key_file = key_file
        self.where = where


class Undecryptable(Exception):
    """A stored value that none of the keys opens (written with another key, or damaged)."""

    def __init__(self) -> None:
        super().__init__("a stored value cannot be decrypted with the keys given")


def new_key() -> str:
    """A fresh random key, as text to put in CONCERNBOT_SECRET_KEY or the key file."""
    return Fernet.generate_key().decode("ascii")


class KeyRing:
    """One or more keys: the first encrypts, all decrypt. Safe to share between threads."""

    __slots__ = ("_current", "_ring", "size")

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        fernets = [Fernet(key.encode("ascii")) for key in keys]
        self._ring = MultiFernet(fernets)
        self._current = fernets[0]
        self.size = len(fernets)

    @classmethod
    def parse(cls, text: str, source: str) -> KeyRing:
        """The keys in `text` (comma or line separated; `source` names where they came from
        in the BadKey raised when one is not a key)."""
        keys = [part for part in _SEPARATORS.split(text) if part]
        if not keys:
            raise BadKey(source, None)
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError) as error:
                raise BadKey(source, position) from error
        return cls(keys)

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing({self.size} key{'s' if self.size != 1 else ''})"

    def encrypt(self, plain: bytes) -> str:
        """`plain` sealed with the first key, as ASCII text (a Fernet token)."""
        return self._ring.encrypt(plain).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        """The value sealed in `token` by any key of the ring; Undecryptable if none opens it."""
        try:
            return self._ring.decrypt(token)
        except (InvalidToken, ValueError, TypeError) as error:
            raise Undecryptable() from error

    def is_current(self, token: str) -> bool:
        """Whether `token` is sealed with the first key (its tag checked, nothing decrypted)."""
        try:
            self._current.extract_timestamp(token)
        except (InvalidToken, ValueError, TypeError):
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same value sealed with the first key (its original timestamp kept): decrypted
        and encrypted again, never wrapped twice. Undecryptable if no key opens it."""
        try:
            return self._ring.rotate(token).decode("ascii")
        except (InvalidToken, ValueError, TypeError) as error:
            raise Undecryptable() from error


def key_file_ring(path: Path) -> tuple[KeyRing, bool]:
    """The keys in the key file at `path`, and whether the file was made just now.

    Made when there is none: a new key, in a file only its owner can read (0600), which
    appears whole or not at all and never replaces one already there (two processes starting
    together both end up with the one that was made first). OSError if it cannot be read or
    made; BadKey if what it holds is not a key.
    """
    made = False
    if not path.exists():
        made = _make_key_file(path)
    return KeyRing.parse(path.read_text(encoding="ascii", errors="replace"), str(path)), made


def _make_key_file(path: Path) -> bool:
    """Write a new key to `path` unless a file is there; whether this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as error:  # named as the key file: the draft's name means nothing to anyone
        raise OSError(error.errno, error.strerror, str(path)) from error
    try:
        os.fchmod(handle, 0o600)  # whatever the umask
        os.write(handle, (new_key() + "\n").encode("ascii"))
        os.fsync(handle)
    finally:
        os.close(handle)
    try:
        # A hard link, unlike a rename, fails rather than replace a file already there.
        os.link(draft, path)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        return _write_exclusively(path, draft.read_bytes())  # a file system without links
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(draft)
    _sync_folder(path.parent)
    return True


def _write_exclusively(path: Path, content: bytes) -> bool:
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, content)
        os.fsync(handle)
    finally:
        os.close(handle)
    return True


def _sync_folder(folder: Path) -> None:
    """Make the new file's name durable, so a crash now does not lose the key."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
