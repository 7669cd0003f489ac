"""The regular expressions for identifying details, built from the lists in identifying.toml.

`dialogues.identifying_rules` reads and checks the lists, then asks these builders for one
compiled pattern per rule; the words always come from the file, the shapes (a day number, a
ward code, blanks between words) from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

BLANK = r"[ \t]+"
# Edges of a token that may start or end with a letter or a digit: a word is not inside a
# longer word, a number not inside a longer number or a word; a number may touch a word.
EDGE_START = r"(?:(?=[^\W\d_])(?<![^\W\d_])|(?=\d)(?<![\w/.-]))"
EDGE_END = r"(?:(?<=[^\W\d_])(?![^\W\d_])|(?<=\d)(?![\w/]|[.-]\d))"
# A word with the apostrophes and hyphens people type inside words.
_WORD_CHARS = r"[\w'\u2019-]"


@dataclass(frozen=True)
class DateWords:
    months: tuple[tuple[str, ...], ...]
    weekdays: tuple[tuple[str, ...], ...]
    # Names that are ordinary words too ("May"), matched only with their capital.
    capital_only: frozenset[str]
    named_days: tuple[str, ...]
    # The words after which a day and month without a year count ("on 12/3").
    short_after: tuple[str, ...]


@dataclass(frozen=True)
class SinglingWords:
    openers: tuple[str, ...]
    people: tuple[str, ...]
    prepositions: tuple[str, ...]
    determiners: tuple[str, ...]
    places: tuple[str, ...]
    gap_words: int


def alternation(phrases: Iterable[str]) -> str:
    """Longest first, so "ward manager" wins over "manager"; spaces match any run of blanks."""
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return "|".join(BLANK.join(re.escape(w) for w in phrase.split()) for phrase in ordered)


def title_pattern(forms: Iterable[tuple[str, bool]]) -> re.Pattern[str]:
    """Titles as written, each (word, case-sensitive); the match is the `title` group."""
    ordered = sorted(forms, key=lambda form: -len(form[0]))
    escaped = (
        (BLANK.join(re.escape(w) for w in word.split()), case_sensitive)
        for word, case_sensitive in ordered
    )
    titles = "|".join(form if exact else f"(?i:{form})" for form, exact in escaped)
    # Not inside an address or a word ("dr.wong@", "Drive"); a dotted title may end a word.
    # A look-ahead, so that titles overlapping each other are all tried ("Staff Nurse" and
    # "Nurse"): the detector keeps the one that fits.
    return re.compile(rf"(?<![\w.@])(?=(?P<title>{titles})(?![\w@]))")


def role_pattern(roles: Iterable[str], grades: Iterable[re.Pattern[str]]) -> re.Pattern[str]:
    choices = alternation(roles) + "".join(f"|{grade.pattern}" for grade in grades)
    return re.compile(rf"(?<![\w-])(?:{choices})(?![\w-])", re.IGNORECASE)


def date_pattern(words: DateWords) -> re.Pattern[str]:
    """Exact days; numeric forms name their groups d, m, y (with a suffix) for checking."""

    def names(groups: tuple[tuple[str, ...], ...]) -> str:
        found = sorted({w for group in groups for w in group}, key=lambda w: (-len(w), w))
        return "|".join(
            f"(?-i:{re.escape(w)})" if w in words.capital_only else re.escape(w) for w in found
        )

    month, weekday = f"(?:{names(words.months)})", f"(?:{names(words.weekdays)})"
    day, ordinal, year = r"(?:3[01]|[12]\d|0?[1-9])", r"(?:st|nd|rd|th)", r"(?:19|20)\d\d"
    with_weekday = rf"(?:{weekday},?{BLANK}(?:the{BLANK})?)?"
    day_month = rf"{with_weekday}{day}{ordinal}?(?:{BLANK}of)?{BLANK}{month}(?:,?{BLANK}{year})?"
    # Month first needs an ordinal or a year: "May 5 of us" is no date.
    month_day = (
        rf"(?:{weekday},?{BLANK})?{month}{BLANK}(?:the{BLANK})?{day}"
        rf"(?:{ordinal}(?:,?{BLANK}{year})?|,?{BLANK}{year})"
    )
    weekday_day = rf"{weekday}{BLANK}(?:the{BLANK})?{day}{ordinal}"
    numeric = (
        r"(?P<d>\d{1,2})(?P<sep>[/-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
        r"|(?P<d2>\d{1,2})\.(?P<m2>\d{1,2})\.(?P<y2>\d{4})"
        r"|(?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2})"
    )
    # A day and month without a year ("on 12/3"), or dotted with a two-digit year ("on
    # 4.3.26"), only after a word that makes it a date: "3/5" alone is as often a score, and
    # "3.1.12" a section. The finding is the `short` group, without the word.
    lead = alternation(word.lower() for word in words.short_after)
    short = (
        rf"(?:{lead}){BLANK}(?P<short>(?P<d4>\d{{1,2}})/(?P<m4>\d{{1,2}})"
        rf"|(?P<d5>\d{{1,2}})\.(?P<m5>\d{{1,2}})\.(?P<y5>\d\d))"
    )
    named = alternation(name.lower() for name in words.named_days).replace("'", "['\u2019]")
    return re.compile(
        rf"{EDGE_START}(?:{day_month}|{month_day}|{weekday_day}|{numeric}|{short}|{named})"
        rf"{EDGE_END}",
        re.IGNORECASE,
    )


def place_pattern(places: Iterable[str]) -> re.Pattern[str]:
    """A place and its number or code ("bay 4", "Ward C9"); the place word is `place`."""
    code = r"(?:[a-z]{1,2}\d{1,2}[a-z]?|\d{1,2}[a-z]?)"
    return re.compile(
        rf"(?<![\w-])(?P<place>{alternation(places)}){BLANK}(?:no\.?[ \t]*)?{code}(?![\w-])",
        re.IGNORECASE,
    )


def singling_pattern(
    words: SinglingWords, grades: Iterable[re.Pattern[str]], plain_words: Iterable[str]
) -> re.Pattern[str]:
    """ "The only" ... a person, perhaps a place after; the groups `person` and `place`."""
    # The words between the opener and the person describe them ("male", "dental core"):
    # a plain word ("the", "we") ends the phrase ("the only thing the consultant said").
    gap = rf"(?:{BLANK}(?!(?:{alternation(plain_words)})(?!{_WORD_CHARS}))[^\W\d_]{_WORD_CHARS}*)"
    person = alternation(w.lower() for w in words.people) + "".join(
        f"|{grade.pattern}" for grade in grades
    )
    place = (
        rf"{BLANK}(?:{alternation(words.prepositions)}){BLANK}(?:{alternation(words.determiners)})"
        rf"{BLANK}(?:{alternation(words.places)})s?(?![\w-])"
    )
    openers = alternation(w.lower() for w in words.openers)
    return re.compile(
        rf"(?<![\w-])(?:{openers}){gap}{{0,{words.gap_words}}}{BLANK}(?P<person>{person})"
        rf"(?:e?s)?(?![\w-])(?P<place>{place})?",
        re.IGNORECASE,
    )


def course_pattern(
    degrees: Iterable[str], year_words: Iterable[str], not_subject: Iterable[str]
) -> re.Pattern[str]:
    """A degree with its subject and the year of study, written together: "BSc
    Physiotherapy, year 2", "3rd year BSc Adult Nursing", "MPharm year 4", "final year
    MBChB". The subject is up to four words, none of them in `not_subject` ("a BSc and 2
    years" names none)."""
    plain = alternation(not_subject)
    word = rf"(?!(?:{plain})(?!{_WORD_CHARS}))[^\W\d_]{_WORD_CHARS}*"
    degree = rf"(?:{alternation(degrees)})(?:{BLANK}\(hons\))?(?![\w-])"
    subject = rf"(?:{BLANK}(?:in{BLANK})?{word}(?:{BLANK}{word}){{0,3}})?"
    ordinal = r"[1-6](?:st|nd|rd|th)"
    year = (
        rf"(?:year[ \t-]?[1-6]|y[1-6]|(?:{ordinal}|{alternation(year_words)})[ \t-]?years?)"
        r"(?![\w-])"
    )
    of_my = rf"(?:{BLANK}of(?:{BLANK}(?:my|the|a|an))?)?"
    return re.compile(
        rf"(?<![\w-])(?:{degree}{subject},?{BLANK}{year}|{year}{of_my}{BLANK}{degree}{subject})",
        re.IGNORECASE,
    )


def registration_pattern(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """A registration number as a whole token, without regard to capitals ("12a3456e")."""
    return re.compile(rf"{EDGE_START}(?:{pattern.pattern}){EDGE_END}", re.IGNORECASE)
