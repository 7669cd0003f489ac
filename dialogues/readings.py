"""What a person's input means at a step, as data: an answer, ticks, an action, or the
problem with it. Pure functions over text: cleaning what was typed, a name and contact
typed together, and the rule that some choices stand alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dialogues.records import Answer

# Exclusive options: choosing one clears the rest, choosing another clears it.
EXCLUSIVE = frozenset({"not_sure", "nobody", "none"})
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# An email address or a phone number inside a longer answer ("Sam Patel, sam@nhs.net").
EMAIL_IN = re.compile(r"[^@\s,;<>()]+@[^@\s,;<>()]+\.[^@\s,;<>()]+")
PHONE_IN = re.compile(r"[+(]?\d[\d\s().-]{5,18}\d")
# Dropped from typed text: control characters, unassigned and surrogate code points, and the
# bidirectional overrides that can make text read differently from what it says. Joiners stay:
# emoji sequences and several scripts need them.
DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


@dataclass(frozen=True)
class Answered:
    value: Answer
    # Other answers given in the same words: the site typed with the hospital, the contact
    # typed with the name.
    also: tuple[tuple[str, Answer], ...] = ()


@dataclass(frozen=True)
class Toggled:
    keys: tuple[str, ...]
    then: str | None = None  # an action typed after the ticks: "1, 3 done"


@dataclass(frozen=True)
class Action:
    name: str  # done, skip, continue, browse, more, keep, explain, submit, or edit:<section>


@dataclass(frozen=True)
class Problem:
    message: str
    values: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Unclear:
    """What was typed fits a few options: ask which, keeping any ticks that were clear."""

    keys: tuple[str, ...]
    said: str
    ticked: tuple[str, ...] = ()


Reading = Answered | Toggled | Action | Problem | Unclear


def clean(text: str) -> str:
    """Text as we keep it: NFC, no control or format characters but newlines, trimmed."""
    text = unicodedata.normalize("NFC", text)
    kept = (
        ch
        for ch in text
        if ch in "\n\t"
        or (unicodedata.category(ch) not in DROPPED_CATEGORIES and ch not in BIDI_CONTROLS)
    )
    return "".join(kept).strip()


def name_and_contact(value: str, shortest: int) -> Reading:
    """A name and an email address or phone number typed together, in either order."""
    found = EMAIL_IN.search(value) or PHONE_IN.search(value)
    if found is None or not (EMAIL.match(found.group()) or PHONE.match(found.group())):
        return Problem("name_needs_contact")
    rest = value[: found.start()] + " " + value[found.end() :]
    # What joins the two ("Sam Patel, email sam@nhs.net") is not part of the name.
    name = re.sub(r"(?i)\b(?:email|e-mail|phone|tel|mobile|number|and|or|on|at)\b", " ", rest)
    name = " ".join(name.replace(",", " ").replace(":", " ").replace(";", " ").split())
    if len(name) < shortest:
        return Problem("name_needs_name")
    return Answered(name, (("contact", found.group().strip()),))


def exclusive(keys: list[str]) -> list[str]:
    """Keep an exclusive choice ('not sure', 'nobody', 'none') only on its own."""
    if len(keys) > 1 and any(k in EXCLUSIVE for k in keys):
        last = keys[-1]
        return [last] if last in EXCLUSIVE else [k for k in keys if k not in EXCLUSIVE]
    return keys


def toggle(current: list[str], key: str) -> list[str]:
    if key in current:
        return [k for k in current if k != key]
    return exclusive([*current, key])
