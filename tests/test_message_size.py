"""Measuring, shortening and splitting text as Telegram counts it (UTF-16, after escaping)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.message_size import escaped_length, shorten, split, telegram_length

TEXT = st.text(st.one_of(st.sampled_from("&<> \n💥夜a"), st.characters(exclude_categories=("Cs",))))


def test_lengths_count_as_telegram_does() -> None:
    assert telegram_length("abc") == 3 and telegram_length("💥") == 2
    assert escaped_length("<&>") == len("&lt;&amp;&gt;")


@given(TEXT, st.integers(min_value=2, max_value=60))
def test_split_keeps_every_character_but_the_breaks_in_pieces_that_fit(
    text: str, limit: int
) -> None:
    pieces = split(text, limit)
    assert all(0 < telegram_length(p) <= limit for p in pieces)
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())


@given(TEXT, st.integers(min_value=0, max_value=60))
def test_shorten_keeps_the_start_and_fits(text: str, limit: int) -> None:
    short = shorten(text, limit)
    assert escaped_length(short) <= limit
    if short != text and short:
        assert short.endswith("…") and text.startswith(short[:-1].rstrip())
