"""The rules for reading a learner's story: story.toml loaded into frozen, compiled records.

A Quality team edits the phrases in ``dialogues/content/story.toml``; this module turns them
into matchers and refuses a bad edit with a ContentError naming the file and the key, in the
style of the other content files. `check_story_rules` is the cross-check against the rest of
the content: every value the rules can propose must be an option of the step it pre-fills.

Phrase syntax (matched on lower-cased text, curly apostrophes straightened):
- plain words match whole words; an apostrophe is optional ("haven't" finds "havent");
  spaces also match hyphens and slashes ("sign off" finds "sign-off");
- ``word*`` is a word stem ("supervis*" finds "supervisor", "supervision");
- ``...`` stands for up to ``gap_words`` words ("told ... es" finds "told my es");
- ``re:`` starts a Python regular expression, for what the above cannot say.
Plain phrases with a word of at least ``fuzzy_min_length`` letters also match small typos
of that word (rapidfuzz ratio at least ``fuzzy_score``).
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar, cast

from dialogues.bundle import Content
from dialogues.catalogue import DEFAULT_CONTENT_DIR, ContentError
from dialogues.records import Conversation
from dialogues.steps import Steps

FILE = "story.toml"
# The steps a story can pre-fill, in the order proposals are given.
FIELDS = (
    "topics", "group", "university", "organisation", "started", "frequency", "told",
    "told_outcome", "patient_risk", "affected", "barrier",
)  # fmt: skip
RESOLVES = ("all", "priority", "last", "agree")
Resolve = Literal["all", "priority", "last", "agree"]
REASON_PLACEHOLDERS = frozenset({"label", "evidence"})
SEPARATOR = r"[\s\-/]+"
FIELD_KEYS = frozenset(
    {"enabled", "resolve", "negation", "before", "after", "at_start", "window", "unless_before",
     "exclusive", "requires", "veto", "values", "reason", "source", "confirmed"}
)  # fmt: skip
VALUE_KEYS = frozenset(
    {"enabled", "phrases", "standalone", "negation", "when_negated", "unless_before"}
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Pattern:
    """One phrase as written, its matcher, and its literal words.

    A plain phrase's matcher is compiled when first used: there are some 1,500 and a story
    needs the few whose first word it contains, so compiling them all at start-up cost a
    bot a third of a second before its first update. A `re:` phrase is also compiled when
    the content is loaded, to check it.
    """

    text: str
    source: str  # the regular expression the phrase stands for
    # The phrase's own words with apostrophes dropped: a negation word that is part of the
    # phrase ("haven't told anyone") does not negate it. Empty for a `re:` phrase.
    words: tuple[str, ...]
    # Plain words only (no stem, gap or regex): the phrase may be matched with typos.
    literal: bool
    # The first word (or stem) the text must contain for the phrase to be worth a search;
    # None for a `re:` phrase, which is always searched.
    anchor: str | None = None
    anchor_is_stem: bool = False

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.source)


@dataclass(frozen=True)
class ValueRule:
    key: str
    enabled: bool
    # Phrases that count only with the field's context words near them ("told ... my ES").
    phrases: tuple[Pattern, ...]
    # Phrases that count on their own ("I haven't told anyone").
    standalone: tuple[Pattern, ...]
    # None: as the field says; True or False: this value's own choice.
    negation: bool | None
    # The value proposed instead when the phrase is negated ("not unsafe" -> "no").
    when_negated: str | None
    # Words that cancel a phrase when they come right before it ("affect my" before "ARCP").
    unless_before: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class FieldRule:
    name: str
    enabled: bool
    resolve: Resolve
    # Negated hits are dropped (or turned into `when_negated`); otherwise negation is ignored.
    negation: bool
    before: tuple[Pattern, ...]
    after: tuple[Pattern, ...]
    # The context may also be the first words of the story ("FY2 here, ...").
    at_start: bool
    # Words that cancel any phrase of the field when they come right before it ("our F1").
    unless_before: tuple[Pattern, ...]
    window: int
    # Phrases that make the field too vague to propose anything ("everyone on the rota").
    veto: tuple[Pattern, ...]
    # Values proposed only when no other value of the field is found ("nobody").
    exclusive: frozenset[str]
    # Another field that must have a proposal (not one of its exclusive values) first:
    # what came of telling someone is read only when the story says someone was told.
    requires: str | None
    values: tuple[ValueRule, ...]
    reason: str
    source: str
    confirmed: bool

    @property
    def multiple(self) -> bool:
        return self.resolve == "all"


@dataclass(frozen=True)
class StoryRules:
    source: str
    confirmed: bool
    fuzzy_score: float
    fuzzy_min_length: int
    negation_cues: tuple[Pattern, ...]
    # Phrases that contain a negation word but negate nothing: "not sure", "no doubt".
    negation_pseudo: tuple[Pattern, ...]
    negation_window: int
    breaks: re.Pattern[str]
    fields: tuple[FieldRule, ...]
    # Every long word of a plain phrase: the words a typo may be corrected to.
    vocabulary: frozenset[str]

    def field(self, name: str) -> FieldRule:
        for rule in self.fields:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def with_everything_enabled(self) -> StoryRules:
        """The same rules with every field and value on: for measuring what is switched off."""
        fields = tuple(
            replace(f, enabled=True, values=tuple(replace(v, enabled=True) for v in f.values))
            for f in self.fields
        )
        return replace(self, fields=fields)


# --- phrases ------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower-case with straight apostrophes, one character for one, so spans stay valid."""
    out = []
    for ch in text:
        if ch in "\u2018\u2019\u02bc`\u00b4":
            out.append("'")
            continue
        low = ch.lower()
        out.append(low if len(low) == 1 else ch)
    return "".join(out)


def compile_phrase(phrase: str, gap_words: int, where: tuple[str, str]) -> Pattern:
    """Turn one phrase of the content into a Pattern; ContentError if it cannot be."""
    file, key = where
    if not phrase.strip():
        raise ContentError(file, key, "empty phrase")
    if phrase.startswith("re:"):
        try:
            regex = re.compile(phrase[3:])
        except re.error as error:
            raise ContentError(file, key, f"bad regular expression: {error}") from None
        if regex.search("") is not None:
            raise ContentError(file, key, "the regular expression matches empty text")
        return Pattern(phrase, regex.pattern, (), literal=False)
    tokens = fold(phrase).split()
    first = re.match(r"[\w'&]+", tokens[0])
    anchor = first.group().replace("'", "") if first else None
    anchor_is_stem = first is not None and tokens[0] == first.group() + "*"
    parts: list[str] = []
    words: list[str] = []
    for index, token in enumerate(tokens):
        if token == "...":
            if index in (0, len(tokens) - 1):
                raise ContentError(file, key, "'...' must stand between two words")
            parts.append(rf"(?:{SEPARATOR}[\w'&]+){{0,{gap_words}}}")
            continue
        stem = token.endswith("*") and len(token) > 1
        word = token.rstrip("*") if stem else token
        if "*" in word:
            raise ContentError(file, key, f"'*' may only end a word, in {token!r}")
        body = "'?".join(re.escape(piece) for piece in word.split("'"))
        if parts:
            parts.append(SEPARATOR)
        parts.append(body + (r"[\w']*" if stem else ""))
        words.append(word.replace("'", ""))
    start = r"(?<![\w'&])" if re.match(r"[\w'&]", tokens[0]) else ""
    end = r"(?![\w&])" if not tokens[-1].endswith("*") else ""
    source = start + "".join(parts) + end  # escaped words: always compiles, when first used
    literal = all(token != "..." and not token.endswith("*") for token in tokens)
    return Pattern(phrase, source, tuple(words), literal, anchor, anchor_is_stem)


# --- loading ------------------------------------------------------------------------------


def _expect(value: object, kind: type[_T], described: str, key: str) -> _T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ContentError(FILE, key, f"expected {described}, got {type(value).__name__}")
    return value


def _get(table: Mapping[str, object], path: str, key: str, kind: type[_T], default: _T) -> _T:
    where = f"{path}.{key}" if path else key
    if key not in table:
        return default
    return _expect(table[key], kind, kind.__name__, where)


def _flag(table: Mapping[str, object], path: str, key: str) -> bool | None:
    if key not in table:
        return None
    return _expect(table[key], bool, "a boolean", f"{path}.{key}")


def _need(table: Mapping[str, object], path: str, key: str, kind: type[_T]) -> _T:
    where = f"{path}.{key}" if path else key
    if key not in table:
        raise ContentError(FILE, where, "missing")
    return _expect(table[key], kind, kind.__name__, where)


def _phrases(
    table: Mapping[str, object], path: str, key: str, gap: int, required: bool = False
) -> tuple[Pattern, ...]:
    items = _need(table, path, key, list) if required else _get(table, path, key, list, [])
    where = f"{path}.{key}"
    return tuple(
        compile_phrase(
            _expect(item, str, "a string", f"{where}[{i}]"), gap, (FILE, f"{where}[{i}]")
        )
        for i, item in enumerate(items)
    )


def _reason(text: str, where: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise ContentError(FILE, where, f"bad template: {error}") from None
    unknown = names - REASON_PLACEHOLDERS
    if unknown:
        raise ContentError(FILE, where, f"unknown placeholder {{{sorted(unknown)[0]}}}")
    return text


def _value(key: str, raw: object, path: str, gap: int) -> ValueRule:
    table = _expect(raw, dict, "a table", path)
    _known(table, path, VALUE_KEYS)
    return ValueRule(
        key=key,
        enabled=_get(table, path, "enabled", bool, True),
        phrases=_phrases(table, path, "phrases", gap),
        standalone=_phrases(table, path, "standalone", gap),
        negation=_flag(table, path, "negation"),
        when_negated=_get(table, path, "when_negated", str, "") or None,
        unless_before=_phrases(table, path, "unless_before", gap),
    )


def _known(table: Mapping[str, object], path: str, allowed: frozenset[str]) -> None:
    """A mistyped setting ("phrase" for "phrases") would be ignored silently: refuse it."""
    for key in table:
        if key not in allowed:
            raise ContentError(
                FILE, f"{path}.{key}", f"unknown setting; expected {sorted(allowed)}"
            )


def _field(name: str, table: Mapping[str, object], gap: int, default_reason: str) -> FieldRule:
    path = f"fields.{name}"
    resolve = _need(table, path, "resolve", str)
    if resolve not in RESOLVES:
        raise ContentError(FILE, f"{path}.resolve", f"must be one of {', '.join(RESOLVES)}")
    _known(table, path, FIELD_KEYS)
    values_table = _need(table, path, "values", dict)
    values = [_value(key, raw, f"{path}.values.{key}", gap) for key, raw in values_table.items()]
    keys = {value.key for value in values}
    for value in values:
        if not value.phrases and not value.standalone:
            raise ContentError(FILE, f"{path}.values.{value.key}", "no phrases")
        if value.when_negated is not None and value.when_negated not in keys:
            raise ContentError(
                FILE, f"{path}.values.{value.key}.when_negated", f"no value {value.when_negated!r}"
            )
    exclusive = _get(table, path, "exclusive", list, [])
    for index, key in enumerate(exclusive):
        if key not in keys:
            raise ContentError(FILE, f"{path}.exclusive[{index}]", f"no value {key!r}")
    window = _get(table, path, "window", int, 4)
    if window < 1:
        raise ContentError(FILE, f"{path}.window", "must be at least 1")
    return FieldRule(
        name=name,
        enabled=_need(table, path, "enabled", bool),
        resolve=cast(Resolve, resolve),
        negation=_need(table, path, "negation", bool),
        before=_phrases(table, path, "before", gap),
        after=_phrases(table, path, "after", gap),
        at_start=_get(table, path, "at_start", bool, False),
        unless_before=_phrases(table, path, "unless_before", gap),
        veto=_phrases(table, path, "veto", gap),
        window=window,
        exclusive=frozenset(str(key) for key in exclusive),
        requires=_get(table, path, "requires", str, "") or None,
        values=tuple(values),
        reason=_reason(_get(table, path, "reason", str, default_reason), f"{path}.reason"),
        source=_need(table, path, "source", str),
        confirmed=_need(table, path, "confirmed", bool),
    )


def parse_story_rules(raw: str) -> StoryRules:
    """Build the rules from the text of story.toml; ContentError names the key at fault."""
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as error:
        raise ContentError(FILE, "(syntax)", str(error)) from None
    matching = _need(data, "", "matching", dict)
    gap = _need(matching, "matching", "gap_words", int)
    if gap < 0:
        raise ContentError(FILE, "matching.gap_words", "must be 0 or more")
    score = _need(matching, "matching", "fuzzy_score", int)
    if not 50 <= score <= 100:
        raise ContentError(FILE, "matching.fuzzy_score", "must be between 50 and 100")
    negation = _need(data, "", "negation", dict)
    breaks = _need(negation, "negation", "breaks", list)
    marks = [_expect(b, str, "a string", f"negation.breaks[{i}]") for i, b in enumerate(breaks)]
    words = [re.escape(fold(b)) for b in marks if b.strip() and b[0].isalnum()]
    signs = [re.escape(b) for b in marks if b and not b[0].isalnum()]
    alternatives = [*signs, *(rf"(?<!\w){w}(?!\w)" for w in words)]
    reasons = _need(data, "", "reasons", dict)
    default_reason = _reason(_need(reasons, "reasons", "default", str), "reasons.default")
    fields_table = _need(data, "", "fields", dict)
    fields = []
    for name, table in fields_table.items():
        if name not in FIELDS:
            raise ContentError(FILE, f"fields.{name}", f"not a field the story can fill: {FIELDS}")
        fields.append(
            _field(name, _expect(table, dict, "a table", f"fields.{name}"), gap, default_reason)
        )
    fields.sort(key=lambda rule: FIELDS.index(rule.name))
    names = [rule.name for rule in fields]
    for rule in fields:
        if rule.requires is not None and rule.requires not in names[: names.index(rule.name)]:
            raise ContentError(
                FILE, f"fields.{rule.name}.requires", "must name a field read before this one"
            )
    minimum = _need(matching, "matching", "fuzzy_min_length", int)
    vocabulary = frozenset(
        word
        for rule in fields
        for value in rule.values
        for pattern in (*value.phrases, *value.standalone)
        if pattern.literal
        for word in pattern.words
        if len(word) >= minimum
    )
    return StoryRules(
        source=_need(data, "", "source", str),
        confirmed=_need(data, "", "confirmed", bool),
        fuzzy_score=float(score),
        fuzzy_min_length=minimum,
        negation_cues=_phrases(negation, "negation", "cues", gap, required=True),
        negation_pseudo=_phrases(negation, "negation", "pseudo", gap),
        negation_window=_need(negation, "negation", "window", int),
        breaks=re.compile("|".join(alternatives) or r"(?!)"),
        fields=tuple(fields),
        vocabulary=vocabulary,
    )


def load_story_rules(directory: Path = DEFAULT_CONTENT_DIR) -> StoryRules:
    """Read story.toml from the content folder; ContentError on the first problem."""
    try:
        raw = (directory / FILE).read_bytes()
    except FileNotFoundError:
        raise ContentError(FILE, "(file)", "not found") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ContentError(FILE, "(file)", "is not UTF-8") from None
    return parse_story_rules(text)


# --- the cross-check with the other content -----------------------------------------------


def step_options(content: Content) -> Mapping[str, frozenset[str]]:
    """The option keys each field's step offers, as the steps themselves build them."""
    steps = Steps(content)
    blank = Conversation(key="", owner="", journey="concern", state="")
    options: dict[str, frozenset[str]] = {}
    for name in FIELDS:
        keys = {key for key, _ in steps.choices(name, blank)}
        # Whom a learner may have told can depend on their group: take every group's.
        for group in content.catalogue.pathways.groups:
            keys |= {key for key, _ in steps.choices(name, blank.with_answer("group", group.key))}
        options[name] = frozenset(keys)
    return options


def check_story_rules(rules: StoryRules, content: Content) -> None:
    """Refuse rules that could propose a value its step does not offer."""
    options = step_options(content)
    for rule in rules.fields:
        for value in rule.values:
            if value.key not in options[rule.name]:
                raise ContentError(
                    FILE,
                    f"fields.{rule.name}.values.{value.key}",
                    f"not an option of the {rule.name} step",
                )
