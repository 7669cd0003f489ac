"""The key ring and the key file: several keys, rotation, a wrong or missing key, and a key
file that is private, whole, and never overwritten; the encrypted column types."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from storage.crypto import (
    KEY_FILE,
    BadKey,
    KeyRing,
    Undecryptable,
    key_file_ring,
    new_key,
)
from storage.encrypted import EncryptedJSON, EncryptedText, NoKeys, bind_keys

OLD, NEW, OTHER = new_key(), new_key(), new_key()


def ring(*keys: str) -> KeyRing:
    return KeyRing.parse(",".join(keys), "test")


@given(st.binary(max_size=2000))
def test_what_is_sealed_opens_to_the_same_bytes_and_never_shows_them(plain: bytes) -> None:
    keys = ring(NEW)
    token = keys.encrypt(plain)
    assert keys.decrypt(token) == plain
    assert token.isascii() and (len(plain) < 4 or plain not in token.encode())


def test_the_same_value_sealed_twice_gives_two_tokens() -> None:
    keys = ring(NEW)
    assert keys.encrypt(b"same") != keys.encrypt(b"same")


def test_the_first_key_seals_and_every_key_opens() -> None:
    sealed_by_old = ring(OLD).encrypt(b"written last year")
    both = ring(NEW, OLD)

    assert both.decrypt(sealed_by_old) == b"written last year"
    fresh = both.encrypt(b"written today")
    assert ring(NEW).decrypt(fresh) == b"written today"  # the first key alone opens it
    with pytest.raises(Undecryptable):
        ring(OLD).decrypt(fresh)
    assert both.is_current(fresh) and not both.is_current(sealed_by_old)


def test_rotation_seals_with_the_first_key_and_never_wraps_twice() -> None:
    token = ring(OLD).encrypt(b"a concern")
    both = ring(NEW, OLD)

    once = both.rotate(token)
    twice = both.rotate(once)

    assert both.is_current(once) and both.is_current(twice)
    assert ring(NEW).decrypt(twice) == b"a concern"  # not a token of a token
    with pytest.raises(Undecryptable):
        ring(OLD).decrypt(once)


def test_a_wrong_key_opens_nothing_and_says_so() -> None:
    token = ring(OLD).encrypt(b"secret")
    with pytest.raises(Undecryptable):
        ring(OTHER).decrypt(token)
    with pytest.raises(Undecryptable):
        ring(OTHER).rotate(token)
    assert not ring(OTHER).is_current(token)


@pytest.mark.parametrize("stored", ["plain text", "", "gAAAAAB-not-a-token", "é"])
def test_what_is_not_a_token_is_undecryptable_not_garbage(stored: str) -> None:
    with pytest.raises(Undecryptable):
        ring(NEW).decrypt(stored)
    assert not ring(NEW).is_current(stored)


def test_keys_are_read_separated_by_commas_spaces_or_lines() -> None:
    keys = KeyRing.parse(f" {NEW} ,\n{OLD}\n\n", "test")
    assert keys.size == 2
    assert ring(NEW).decrypt(keys.encrypt(b"x")) == b"x"


@pytest.mark.parametrize(
    ("text", "position"),
    [("", None), (" , \n", None), ("not-a-key", 1), (f"{NEW},tooshort", 2), (NEW[:-2], 1)],
)
def test_what_is_not_a_key_is_named_by_where_and_which_without_showing_it(
    text: str, position: int | None
) -> None:
    with pytest.raises(BadKey) as caught:
        KeyRing.parse(text, "CONCERNBOT_SECRET_KEY")
    assert caught.value.position == position
    assert str(caught.value).startswith("CONCERNBOT_SECRET_KEY: ")
    assert "tooshort" not in str(caught.value) and "not-a-key" not in str(caught.value)


def test_a_ring_never_shows_its_keys() -> None:
    keys = ring(NEW, OLD)
    assert repr(keys) == "KeyRing(2 keys)" and NEW not in repr(keys) and NEW not in str(keys)


# -- the key file -------------------------------------------------------------------------


def test_the_key_file_is_made_once_private_and_holding_one_key(tmp_path: Path) -> None:
    path = tmp_path / "not" / "there" / KEY_FILE
    old_umask = os.umask(0)  # the most permissive umask: the file must still be private
    try:
        keys, made = key_file_ring(path)
    finally:
        os.umask(old_umask)

    assert made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="ascii")
    assert text.endswith("\n") and len(text.split()) == 1
    Fernet(text.strip())  # a real key
    assert ring(text.strip()).decrypt(keys.encrypt(b"x")) == b"x"
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no draft left behind


def test_the_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(f"{NEW}\n{OLD}\n", encoding="ascii")  # edited by a person to rotate
    before = path.read_bytes()

    keys, made = key_file_ring(path)
    again, made_again = key_file_ring(path)

    assert not made and not made_again
    assert path.read_bytes() == before
    assert keys.size == 2 and ring(NEW).decrypt(again.encrypt(b"x")) == b"x"


def test_processes_starting_together_all_get_the_one_key_made_first(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    start = threading.Barrier(8)
    results: list[tuple[KeyRing, bool]] = []

    def open_it() -> None:
        start.wait()
        results.append(key_file_ring(path))

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 8
    assert sum(made for _, made in results) == 1
    sealed = results[0][0].encrypt(b"shared")
    assert all(keys.decrypt(sealed) == b"shared" for keys, _ in results)
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]


def test_a_key_file_that_holds_no_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("\n", encoding="ascii")
    with pytest.raises(BadKey, match=f"^{path}: no key$"):
        key_file_ring(path)
    assert path.read_text(encoding="ascii") == "\n"  # left for the person to mend


# -- the column types, without a database ---------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6), st.text())
def test_the_column_types_give_back_what_they_were_given_and_store_only_tokens(
    answers: dict[str, object], words: str
) -> None:
    engine = create_engine("sqlite://")
    bind_keys(engine, ring(NEW))
    dialect = engine.dialect
    as_json, as_text = EncryptedJSON(), EncryptedText()

    stored_json = as_json.process_bind_param(answers, dialect)
    stored_text = as_text.process_bind_param(words, dialect)

    assert stored_json is not None and stored_text is not None
    assert ring(NEW).is_current(stored_json) and ring(NEW).is_current(stored_text)
    assert as_json.process_result_value(stored_json, dialect) == answers
    assert as_text.process_result_value(stored_text, dialect) == words
    assert as_text.process_bind_param(None, dialect) is None
    assert as_text.process_result_value(None, dialect) is None


def test_a_column_used_through_an_engine_without_keys_says_so() -> None:
    engine = create_engine("sqlite://")
    with pytest.raises(NoKeys):
        EncryptedText().process_bind_param("text", engine.dialect)
