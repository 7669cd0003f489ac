"""The rules for finding identifying details: identifying.toml loaded, checked and compiled.

A Quality team edits the lists in ``dialogues/content/identifying.toml`` (titles, roles,
grades, registration patterns, month and day names, places, the phrases that single someone
out, degrees written with a year of study, and the neutral words that replace each
finding); this module reads and checks them, refusing a bad edit with a ContentError naming
the file and the key, and has
`dialogues.identifying_patterns` compile them once, at start-up. `dialogues.identifying`
does the finding.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from dialogues.content_files import (
    DEFAULT_CONTENT_DIR,
    Table,
    expect,
    parse_toml,
    read_bytes,
)
from dialogues.identifying_patterns import (
    DateWords,
    SinglingWords,
    course_pattern,
    date_pattern,
    place_pattern,
    registration_pattern,
    role_pattern,
    singling_pattern,
    title_pattern,
)

FILE = "identifying.toml"
Kind = Literal[
    "title_name", "role_name", "email", "phone", "registration", "nhs_number", "date",
    "ward_bay", "singling_out", "course_year",
]  # fmt: skip
KINDS: tuple[Kind, ...] = get_args(Kind)
# The placeholders each of the review's words may use.
WORD_PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "heading": frozenset({"count"}),
    "item": frozenset({"label", "text", "replacement"}),
    "anonymous": frozenset(),
    "more": frozenset({"count"}),
}
BUTTONS = ("keep", "change", "replace")
# Longest plain number a registration pattern without context words is tried against.
_PLAIN_NUMBERS = tuple("1234567890123"[:n] for n in range(1, 14))


@dataclass(frozen=True)
class KindRule:
    enabled: bool
    label: str
    replacement: str


@dataclass(frozen=True)
class Title:
    words: tuple[str, ...]
    case_sensitive: bool
    lowercase_names: bool
    replacement: str


@dataclass(frozen=True)
class Registration:
    regulator: str
    pattern: re.Pattern[str]
    # Words of which one must come shortly before the number ("GMC"); empty: none needed.
    context: frozenset[str]
    source: str
    confirmed: bool


@dataclass(frozen=True)
class ReviewWords:
    heading: str
    item: str
    anonymous: str
    # Said of the findings a short screen has no room to list.
    more: str
    keep: str
    change: str
    replace: str


@dataclass(frozen=True)
class IdentifyingRules:
    source: str
    confirmed: bool
    kinds: Mapping[Kind, KindRule]
    words: ReviewWords
    # A title as written (lower-cased unless case-sensitive) -> its entry.
    titles: Mapping[str, Title]
    title_pattern: re.Pattern[str]
    # A role phrase, lower-cased with single spaces -> its neutral words; grades by pattern.
    roles: Mapping[str, str]
    grades: tuple[tuple[re.Pattern[str], str], ...]
    role_pattern: re.Pattern[str]
    not_names: frozenset[str]
    # not_names as the file gives them, without the titles, roles, months and days added.
    plain_words: frozenset[str]
    place_before: frozenset[str]
    determiners: frozenset[str]
    modifier_words: int
    name_words: int
    phone_region: str
    phone_min_digits: int
    registrations: tuple[Registration, ...]
    registration_window: int
    date_pattern: re.Pattern[str]
    places: Mapping[str, str]
    place_pattern: re.Pattern[str]
    singling_pattern: re.Pattern[str]
    needs_more: frozenset[str]
    then: frozenset[str]
    course_pattern: re.Pattern[str]

    def replacement_for_role(self, role: str) -> str:
        """The neutral words for a role or grade as it was written in the text."""
        folded = " ".join(role.lower().split())
        if folded in self.roles:
            return self.roles[folded]
        for pattern, replacement in self.grades:
            if pattern.fullmatch(folded):
                return replacement
        return self.kinds["role_name"].replacement


def load_identifying(directory: Path = DEFAULT_CONTENT_DIR) -> IdentifyingRules:
    """Read identifying.toml; ContentError names the key at fault."""
    return parse_identifying(read_bytes(directory, FILE))


def parse_identifying(raw: bytes) -> IdentifyingRules:
    root = parse_toml(FILE, raw)
    kinds_table = root.table("kinds")
    kinds = {kind: _kind(kinds_table.table(kind)) for kind in KINDS}
    for extra in sorted(set(kinds_table.data) - set(KINDS)):
        raise kinds_table.error(extra, f"not a kind; the kinds are {', '.join(KINDS)}")
    titles = _titles(root)
    roles = _replacements(root.table("roles"))
    grades = tuple(
        (_regex(row, "pattern", re.IGNORECASE), _replacement(row, "replacement"))
        for row in root.tables("grades")
    )
    names, dates = root.table("names"), root.table("dates")
    places = _replacements(root.table("places"))
    singling, phones = root.table("singling_out"), root.table("phones")
    course = root.table("course_year")
    date_words = DateWords(
        months=_name_groups(dates, "months", 12),
        weekdays=_name_groups(dates, "weekdays", 7),
        capital_only=frozenset(_words(dates, "capital_only")),
        named_days=_words(dates, "named_days"),
        short_after=_words(dates, "short_after"),
    )
    plain_words = frozenset(w.lower() for w in _words(names, "not_names"))
    # A name is none of these: titles, months, days and one-word roles are not names either.
    not_names = frozenset(
        w.lower()
        for w in (
            *plain_words,
            *(w.rstrip(".") for title in titles.values() for w in title.words),
            *(w for group in (*date_words.months, *date_words.weekdays) for w in group),
            *(role for role in roles if " " not in role),
        )
    )
    singling_words = SinglingWords(
        openers=_words(singling, "openers"),
        people=(*_words(singling, "people"), *roles),
        prepositions=_words(singling, "place_prepositions"),
        determiners=_words(singling, "place_determiners"),
        places=_words(singling, "places"),
        gap_words=_count(singling, "gap_words", 0, 5),
    )
    return IdentifyingRules(
        source=_nonempty(root, "source"),
        confirmed=root.flag("confirmed"),
        kinds=MappingProxyType(kinds),
        words=_review_words(root.table("words")),
        titles=MappingProxyType(titles),
        title_pattern=title_pattern(
            (word, title.case_sensitive) for title in titles.values() for word in title.words
        ),
        roles=MappingProxyType(roles),
        grades=grades,
        role_pattern=role_pattern(roles, (pattern for pattern, _ in grades)),
        not_names=not_names,
        plain_words=plain_words,
        place_before=frozenset(_words(names, "place_before")),
        determiners=frozenset(_words(names, "determiners")),
        modifier_words=_count(names, "modifier_words", 0, 4),
        name_words=_count(names, "name_words", 1, 5),
        phone_region=_region(phones),
        phone_min_digits=_count(phones, "min_digits", 7, 15),
        registrations=tuple(_registration(row) for row in root.tables("registration")),
        registration_window=_count(root.table("registration_context"), "window", 1, 10),
        date_pattern=date_pattern(date_words),
        places=MappingProxyType(places),
        place_pattern=place_pattern(places),
        singling_pattern=singling_pattern(
            singling_words, (pattern for pattern, _ in grades), plain_words
        ),
        needs_more=frozenset(_words(singling, "needs_more")),
        then=frozenset(_words(singling, "then")),
        course_pattern=course_pattern(
            _words(course, "degrees"), _words(course, "year_words"), _words(course, "not_subject")
        ),
    )


# --- reading each part --------------------------------------------------------------------


def _kind(row: Table) -> KindRule:
    return KindRule(row.flag("enabled"), row.label("label"), _replacement(row, "replacement"))


def _replacement(row: Table, key: str) -> str:
    """Neutral words in [brackets], so the learner sees at once what the bot put in."""
    text = row.label(key)
    if not (text.startswith("[") and text.endswith("]") and text[1:-1].strip()):
        raise row.error(key, 'must be neutral words in brackets, like "[a consultant]"')
    if "[" in text[1:-1] or "]" in text[1:-1]:
        raise row.error(key, "must hold one pair of brackets")
    return text


def _replacements(table: Table) -> dict[str, str]:
    """A table of phrase = "[neutral words]"; phrases folded to lower case, single spaces."""
    folded: dict[str, str] = {}
    for key in table.data:
        phrase = " ".join(key.lower().split())
        if not phrase:
            raise table.error(key, "empty phrase")
        if phrase in folded:
            raise table.error(key, f"{phrase!r} is listed twice")
        folded[phrase] = _replacement(table, key)
    if not folded:
        raise table.error("(table)", "empty")
    return folded


def _words(table: Table, key: str) -> tuple[str, ...]:
    words = table.texts(key)
    seen: set[str] = set()
    for index, word in enumerate(words):
        folded = word.lower()
        if not word.strip() or word != word.strip():
            raise table.error(f"{key}[{index}]", "empty, or spaces around it")
        if folded in seen:
            raise table.error(f"{key}[{index}]", f"{word!r} is listed twice")
        seen.add(folded)
    return words


def _count(table: Table, key: str, low: int, high: int) -> int:
    value = table.number(key)
    if not low <= value <= high:
        raise table.error(key, f"must be from {low} to {high}")
    return value


def _regex(row: Table, key: str, flags: int = 0) -> re.Pattern[str]:
    text = row.text(key)
    try:
        pattern = re.compile(text, flags)
    except re.error as error:
        raise row.error(key, f"not a regular expression: {error}") from None
    if pattern.fullmatch(""):
        raise row.error(key, "matches empty text")
    return pattern


def _titles(root: Table) -> dict[str, Title]:
    titles: dict[str, Title] = {}
    for row in root.tables("titles"):
        title = Title(
            words=_words(row, "words"),
            case_sensitive=row.flag("case_sensitive"),
            lowercase_names=row.flag("lowercase_names"),
            replacement=_replacement(row, "replacement"),
        )
        for word in title.words:
            key = word if title.case_sensitive else word.lower()
            if word.lower() in {known.lower() for known in titles}:
                raise row.error("words", f"{word!r} is already a title")
            titles[key] = title
    return titles


def _name_groups(table: Table, key: str, count: int) -> tuple[tuple[str, ...], ...]:
    groups = expect(table.value(key), list, "a list of lists", table.file, table.at(key))
    if len(groups) != count:
        raise table.error(key, f"needs {count} entries, in order")
    parent = Table(table.file, table.at(key), {str(i): g for i, g in enumerate(groups)})
    return tuple(_words(parent, str(index)) for index in range(count))


def _region(table: Table) -> str:
    region = table.text("region")
    # Imported here: only the detector needs the library, and only its region table here.
    from phonenumbers import SUPPORTED_REGIONS

    if region not in SUPPORTED_REGIONS:
        raise table.error("region", f"{region!r} is not a region the phonenumbers library knows")
    return region


def _registration(row: Table) -> Registration:
    pattern = _regex(row, "pattern")
    context = frozenset(word.lower() for word in _words(row, "context"))
    if not context and any(pattern.fullmatch(number) for number in _PLAIN_NUMBERS):
        raise row.error(
            "context", "this pattern matches a plain number: give the words that come before it"
        )
    # A whole token: "7123456" in "GMC 7123456", not in "71234567".
    bounded = registration_pattern(pattern)
    regulator, source, confirmed = (
        row.label("regulator"),
        _nonempty(row, "source"),
        row.flag("confirmed"),
    )
    return Registration(regulator, bounded, context, source, confirmed)


def _review_words(table: Table) -> ReviewWords:
    for key, allowed in WORD_PLACEHOLDERS.items():
        used = {name for _, name, _, _ in string.Formatter().parse(table.text(key)) if name}
        if used - allowed:
            raise table.error(key, f"unknown placeholder {{{sorted(used - allowed)[0]}}}")
    buttons = {key: table.button(key, table.text(key)) for key in BUTTONS}
    texts = {key: table.text(key) for key in WORD_PLACEHOLDERS}
    return ReviewWords(**texts, **buttons)


def _nonempty(row: Table, key: str) -> str:
    text = row.text(key)
    if not text.strip():
        raise row.error(key, "empty")
    return text
