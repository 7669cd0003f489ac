"""Identifying details in a learner's words: found before sending, replaced only when asked.

`find_identifying` returns what in a free text could point to a person (a name after a title
or beside a role, an email address, a phone number, a registration or NHS number, an exact
date, a ward or bay with a date, words that single someone out, a degree with its year of
study), each with its exact span
and the neutral words that could replace it. `apply_replacements` puts those words in place
of the findings the learner chose. `review_lines` words the findings for the review. The
rules and every word shown come from identifying.toml (`dialogues.identifying_rules`).

Pure: no I/O. Phone numbers are found by the phonenumbers library; everything else is the
compiled rules plus the small checks below (a name's shape, the NHS number's check digit, a
numeric date being a real day).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import phonenumbers

from dialogues.identifying_rules import IdentifyingRules, Kind

# When two findings overlap, the one starting first wins, then the longer, then this order.
_ORDER: tuple[Kind, ...] = (
    "email", "nhs_number", "registration", "phone", "date", "title_name", "role_name",
    "singling_out", "course_year", "ward_bay",
)  # fmt: skip
_PRIORITY = {kind: index for index, kind in enumerate(_ORDER)}
# Apostrophes as typed: straight, or curly from a phone's keyboard.
_Q = "'\u2019"
_EMAIL = re.compile(r"(?<![\w.+-])[\w+-](?:[\w.+-]*[\w+-])?@[\w-]+(?:\.[\w-]+)+")
# Spaced or not, and the same separator twice; a neighbouring digit group does not stop it
# (it may be a phone number, found apart).
_NHS_NUMBER = re.compile(r"(?<![\w-])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\w-])")
# One word of a name after blanks: letters, with inner apostrophes or hyphens (O'Brien,
# Baxter-Reid); a dot right after it (an initial, "J.") when a blank follows.
_NAME = re.compile(rf"[ \t]+([^\W\d_]+(?:[{_Q}-][^\W\d_]+)*)(\.(?=[ \t]))?")
_POSSESSIVE = re.compile(rf"[{_Q}]s\Z")
_LAST_WORD = re.compile(rf"(?<![\w{_Q}-])([\w{_Q}-]+)[ \t]+\Z")
_LAST_NAME = re.compile(rf"(?<![\w{_Q}-])([^\W\d_]+(?:[{_Q}-][^\W\d_]+)*)\Z")
_SEPARATOR_END = re.compile(r"(,?)[ \t]+\Z")
_NEXT_WORD = re.compile(rf"[ \t]+([\w{_Q}-]+)")
_CLOSES = re.compile(r"[ \t]*(?:[,.;:!?)\n]|\Z)")
# Where a sentence ends for the context of a registration number ("GMC no. 7123456" is one).
_SENTENCE_END = re.compile(r"[!?\n]|\.(?=\s+[A-Z])")
_CONTEXT_WORD = re.compile(r"[\w']+")
# Enough for a run of several numbers typed with only spaces between them.
_PHONE_PASSES = 5
# How far back the look-behind helpers read: longer than any run of words they need.
_WINDOW = 120


@dataclass(frozen=True)
class Finding:
    """One detail in the text: `text == source[start:end]`; `replacement` is neutral words."""

    kind: Kind
    start: int
    end: int
    text: str
    replacement: str


def find_identifying(text: str, rules: IdentifyingRules) -> tuple[Finding, ...]:
    """Every identifying detail in `text`, in order, none overlapping another."""
    found: list[Finding] = [
        *_emails(text, rules),
        *_nhs_numbers(text, rules),
        *_registrations(text, rules),
        *_title_names(text, rules),
        *_role_names(text, rules),
        *_singling_out(text, rules),
        *_courses(text, rules),
    ]
    dates = list(_dates(text, rules))
    found += dates
    # A ward or bed alone is a place many share; with an exact day it points to one shift.
    if dates:
        found += _places(text, rules)
    # Last, with everything else masked out: the phone library reads a run of digits next
    # to a date or an NHS number as one number.
    found += _phones(text, rules, found)
    enabled = [f for f in found if rules.kinds[f.kind].enabled]
    return _without_overlaps(enabled)


def apply_replacements(text: str, findings: Iterable[Finding]) -> str:
    """`text` with each chosen finding replaced by its neutral words (or the words set on it).

    Raises ValueError if a finding does not index `text` or two findings overlap: findings
    from an older version of the text must be found again.
    """
    parts: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        inside = 0 <= finding.start <= finding.end
        if not inside or text[finding.start : finding.end] != finding.text:
            raise ValueError(f"finding at {finding.start}-{finding.end} does not match the text")
        if finding.start < position:
            raise ValueError(f"finding at {finding.start}-{finding.end} overlaps another")
        parts += [text[position : finding.start], finding.replacement]
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def review_lines(
    findings: Iterable[Finding], rules: IdentifyingRules, *, anonymous: bool
) -> tuple[str, ...]:
    """The heading, the anonymous warning when it applies, and one line per finding."""
    items = [
        rules.words.item.format(
            label=rules.kinds[f.kind].label, text=f.text, replacement=f.replacement
        )
        for f in findings
    ]
    if not items:
        return ()
    heading = rules.words.heading.format(count=len(items))
    return (heading, *((rules.words.anonymous,) if anonymous else ()), *items)


# --- each kind ----------------------------------------------------------------------------


def _finding(kind: Kind, text: str, start: int, end: int, replacement: str) -> Finding:
    return Finding(kind, start, end, text[start:end], replacement)


def _emails(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    replacement = rules.kinds["email"].replacement
    for match in _EMAIL.finditer(text):
        yield _finding("email", text, match.start(), match.end(), replacement)


def _nhs_numbers(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    replacement = rules.kinds["nhs_number"].replacement
    for match in _NHS_NUMBER.finditer(text):
        if nhs_number_is_valid(match.group(1) + match.group(3) + match.group(4)):
            yield _finding("nhs_number", text, match.start(), match.end(), replacement)


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number's modulus 11 check: weights 10 down to 2, the tenth digit checks."""
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)
    )
    check = (11 - total % 11) % 11
    return check != 10 and check == int(digits[9])


def _registrations(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    replacement = rules.kinds["registration"].replacement
    for registration in rules.registrations:
        for match in registration.pattern.finditer(text):
            context = registration.context
            if not context or _has_context(text, match.start(), context, rules):
                yield _finding("registration", text, match.start(), match.end(), replacement)


def _has_context(text: str, start: int, context: frozenset[str], rules: IdentifyingRules) -> bool:
    before = text[max(0, start - _WINDOW) : start]
    ends = list(_SENTENCE_END.finditer(before))
    sentence = before[ends[-1].end() :] if ends else before
    words = _CONTEXT_WORD.findall(sentence)[-rules.registration_window :]
    return any(word.lower() in context for word in words)


def _phones(text: str, rules: IdentifyingRules, taken: Iterable[Finding]) -> Iterator[Finding]:
    """Phone numbers, read with what is `taken` (NHS numbers, dates...) masked out.

    The library reads numbers with only spaces between as one run and returns only a piece
    of it ("07700 900461 01603 456161" gives the second number): so each number found is
    masked and the text read again, until a reading finds none.
    """
    replacement = rules.kinds["phone"].replacement
    masked = _masked(text, ((f.start, f.end) for f in taken))
    for _ in range(_PHONE_PASSES):
        matcher = phonenumbers.PhoneNumberMatcher(
            masked, rules.phone_region, leniency=phonenumbers.Leniency.POSSIBLE
        )
        spans = [(m.start, m.end) for m in matcher if _is_phone_number(m, rules)]
        if not spans:
            return
        for start, end in spans:
            yield _finding("phone", text, start, end, replacement)
        masked = _masked(masked, spans)


def _is_phone_number(match: phonenumbers.PhoneNumberMatch, rules: IdentifyingRules) -> bool:
    raw = match.raw_string
    # A UK number is written with its 0 (or +44): digits without one are a reference, a
    # count or a time ("ref 1234567890"), however valid as a number.
    if raw.lstrip("(")[:1] not in ("0", "+"):
        return False
    # Long enough, it is a number even in a range the library does not know as allocated
    # (Ofcom's drama numbers, new ranges).
    digits = sum(character.isdigit() for character in raw)
    return digits >= rules.phone_min_digits or phonenumbers.is_valid_number(match.number)


def _masked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """The text with each span replaced by as many letters: positions stay, digits go."""
    for start, end in spans:
        text = text[:start] + "q" * (end - start) + text[end:]
    return text


def _dates(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    replacement = rules.kinds["date"].replacement
    for match in rules.date_pattern.finditer(text):
        # Numeric forms name their groups d, m, y with a suffix; without a year any year
        # will do (a leap year, so 29/2 is a day).
        numeric = next(
            (
                (match.group(f"d{n}"), match.group(f"m{n}"), match.groupdict().get(f"y{n}"))
                for n in ("", "2", "3", "4", "5")
                if match.group(f"d{n}")
            ),
            None,
        )
        if numeric and not _is_a_day(numeric[0], numeric[1], numeric[2] or "2024"):
            continue
        start, end = match.span("short") if match.group("short") else match.span()
        yield _finding("date", text, start, end, replacement)


def _is_a_day(day: str, month: str, year: str) -> bool:
    """Day first, as dates are written in the UK; a two-digit year is this century's."""
    try:
        date(int(year) + (2000 if len(year) == 2 else 0), int(month), int(day))
    except ValueError:
        return False
    return True


def _places(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    for match in rules.place_pattern.finditer(text):
        replacement = rules.places[" ".join(match.group("place").lower().split())]
        yield _finding("ward_bay", text, match.start(), match.end(), replacement)


def _title_names(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    for match in rules.title_pattern.finditer(text):
        start, title_end = match.span("title")
        written = " ".join(match.group("title").split())
        title = rules.titles.get(written) or rules.titles.get(written.lower())
        bare = written.rstrip(".")
        # "MS", "MR": an abbreviation (multiple sclerosis, a scan), not a title.
        if title is None or (len(bare) > 1 and bare.isupper()):
            continue
        # "the dr said": a role word; "dr khan said": a title and a name, lower-cased.
        lowercase = title.lowercase_names and not _after_determiner(text, start, rules)
        end = _name_end(text, title_end, rules, lowercase=lowercase)
        if end is not None:
            yield _finding("title_name", text, start, end, title.replacement)


def _role_names(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    for match in rules.role_pattern.finditer(text):
        replacement = rules.replacement_for_role(match.group(0))
        determiner = _determiner_start(text, match.start(), rules)
        comma = text[match.end() : match.end() + 1] == ","
        end = _name_end(text, match.end() + comma, rules, lowercase=False)
        # After a comma, a name closes its aside ("the registrar, Tom Hughes, said"); a
        # capitalised word running on is the next item of a list ("manager, Freedom to...").
        if end is not None and comma and not _CLOSES.match(text, end):
            end = None
        if end is not None:
            first = match.start() if determiner is None else determiner
            yield _finding("role_name", text, first, end, replacement)
        elif determiner is not None:
            # "Smith the registrar", "Sarah, my supervisor": the determiner is what makes it so.
            start = _name_start(text, determiner, rules)
            if start is not None:
                yield _finding("role_name", text, start, match.end(), replacement)


def _singling_out(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    replacement = rules.kinds["singling_out"].replacement
    for match in rules.singling_pattern.finditer(text):
        if match.group("person").lower() in rules.needs_more and not match.group("place"):
            following = _NEXT_WORD.match(text, match.end())
            if following is None or following.group(1).lower() not in rules.then:
                continue
        yield _finding("singling_out", text, match.start(), match.end(), replacement)


def _courses(text: str, rules: IdentifyingRules) -> Iterator[Finding]:
    replacement = rules.kinds["course_year"].replacement
    for match in rules.course_pattern.finditer(text):
        yield _finding("course_year", text, match.start(), match.end(), replacement)


# --- names --------------------------------------------------------------------------------


def _is_name(word: str, rules: IdentifyingRules, *, lowercase: bool) -> bool:
    folded = word.lower().replace("\u2019", "'")
    if folded in rules.not_names:
        return False
    if word[0].isupper():
        # Not an abbreviation: "NHS", "GPhC", "PhD" (while "McAllister" and "O'Brien" are names).
        return len(word) == 1 or (not word[1].isupper() and word[-1].islower())
    # A lower-case name is taken only after a title that allows it, and not a word that
    # reads as a verb or an adverb ("dr shouted", "dr really").
    return lowercase and len(word) > 1 and not folded.endswith(("ed", "ing", "ly"))


def _name_end(text: str, position: int, rules: IdentifyingRules, *, lowercase: bool) -> int | None:
    """Where the name starting after `position` ends: initials, then up to name_words words."""
    end: int | None = None
    names = initials = 0
    while names < rules.name_words:
        match = _NAME.match(text, position)
        if match is None:
            break
        word = match.group(1)
        if len(word) == 1 and word.isupper() and names == 0 and initials < 2:
            # An initial counts only when a name follows it ("Dr J. Smith", not "Dr I").
            initials += 1
            position = match.end()
            continue
        bare = _POSSESSIVE.sub("", word)
        if not bare or not _is_name(bare, rules, lowercase=lowercase and not names + initials):
            break
        names += 1
        end = match.start(1) + len(bare)
        position = match.start(1) + len(word)
        if bare != word:
            break
    return end


def _name_start(text: str, determiner: int, rules: IdentifyingRules) -> int | None:
    """Where a name right before a determiner ("Smith the", "Sarah, my") starts, if any."""
    separator = _SEPARATOR_END.search(text, max(0, determiner - _WINDOW), determiner)
    if separator is None:
        return None
    comma, position = bool(separator.group(1)), separator.start()
    start: int | None = None
    names, first = 0, ""
    while names < rules.name_words:
        word = _LAST_NAME.search(text, max(0, position - _WINDOW), position)
        if word is None or not _is_name(word.group(1), rules, lowercase=False):
            break
        start, names, first = word.start(1), names + 1, word.group(1)
        blanks = re.search(r"[ \t]+\Z", text[max(0, start - _WINDOW) : start])
        if blanks is None:
            break
        position = start - len(blanks.group(0))
    if start is None:
        return None
    previous = _LAST_WORD.search(text, max(0, start - _WINDOW), start)
    if previous is not None and previous.group(1).lower() in rules.place_before:
        return None  # "At Colchester the consultant...": a place.
    # A lone capitalised word opening a sentence is a name only if it cannot be an adverb
    # ("Unfortunately the registrar"); with a comma or a second name it is one.
    if names == 1 and not comma and _starts_sentence(text, start) and first.endswith("ly"):
        return None
    return start


def _starts_sentence(text: str, position: int) -> bool:
    before = text[:position].rstrip()
    return not before or before[-1] in ".!?\n"


def _after_determiner(text: str, position: int, rules: IdentifyingRules) -> bool:
    previous = _LAST_WORD.search(text, max(0, position - _WINDOW), position)
    return previous is not None and previous.group(1).lower() in rules.determiners


def _determiner_start(text: str, position: int, rules: IdentifyingRules) -> int | None:
    """The start of the determiner before a role, over up to modifier_words plain words."""
    for _ in range(rules.modifier_words + 1):
        previous = _LAST_WORD.search(text, max(0, position - _WINDOW), position)
        if previous is None:
            return None
        word = previous.group(1)
        if word.lower() in rules.determiners:
            return previous.start(1)
        # A plain lower-case word describing the role ("on-call", "student"), not "and".
        if not word.islower() or word in rules.plain_words:
            return None
        position = previous.start(1)
    return None


def _without_overlaps(found: Iterable[Finding]) -> tuple[Finding, ...]:
    ordered = sorted(found, key=lambda f: (f.start, f.start - f.end, _PRIORITY[f.kind]))
    kept: list[Finding] = []
    for finding in ordered:
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return tuple(kept)
