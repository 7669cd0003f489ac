"""How long a message is as Telegram counts it, and how to make text fit its limit.

Telegram refuses a message whose text is over 4,096 characters once its markup is parsed;
it counts UTF-16 code units (an emoji is two). The measures here are on the text as sent:
for HTML, with its tags and escapes, which is never shorter than what Telegram counts, so
a message that fits here fits there.
"""

from __future__ import annotations

import html

MAX_MESSAGE = 4096
ELLIPSIS = "…"


def telegram_length(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def escaped_length(text: str) -> int:
    """Length of `text` once escaped for an HTML message."""
    return telegram_length(html.escape(text, quote=False))


def shorten(text: str, limit: int, *, escaped: bool = True) -> str:
    """`text` itself if it fits in `limit`, else its longest start that fits with "…" after
    it, cut at a space when one is near. Measured escaped (for HTML) unless `escaped` is False.
    An empty string when not even "…" fits."""
    size = escaped_length if escaped else telegram_length
    if size(text) <= limit:
        return text
    room = limit - telegram_length(ELLIPSIS)
    if room < 0:
        return ""
    end = used = 0
    while end < len(text) and used + size(text[end]) <= room:
        used += size(text[end])
        end += 1
    head = text[:end]
    space = head.rfind(" ")
    if space >= max(end - 20, 1):  # a word boundary close by reads better than a cut word
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def split(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` (as Telegram counts plain text), broken at
    paragraphs, then lines, then spaces, and mid-word only when a word alone is too long.
    Nothing is lost but the whitespace at the breaks."""
    if limit < 2:
        raise ValueError("a limit under 2 cannot hold every character")
    pieces: list[str] = []
    rest = text.strip()
    while telegram_length(rest) > limit:
        fits = _longest_start(rest, limit)
        window = rest[:fits]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = fits
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return [p for p in pieces if p]


def _longest_start(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units (at least one)."""
    used = 0
    for index, char in enumerate(text):
        used += telegram_length(char)
        if used > limit:
            return max(index, 1)
    return len(text)
