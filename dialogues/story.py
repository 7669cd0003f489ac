"""Reading a learner's story: what their own words already answer, each with its evidence.

After the safety check the learner tells what is happening; `read_story` proposes answers
to later steps from it (topics, when it started, how often, who was told and what came of
it, patient risk, how many learners, their group, the organisation, a barrier), so that only
what the story did not answer is asked. Each `Proposal` carries the option key its step uses
and the exact span of the learner's words it came from, so the learner sees why
("I suggested Supervision because you wrote 'left on my own'") and confirms or corrects it.
Nothing here is filed: the caller shows every proposal first.

The reading is the phrase lists of story.toml (see `dialogues.story_rules`), with negation
("I haven't told anyone", "not unsafe for patients"), context ("told ... my ES" rather than
any mention of an ES) and small typos through rapidfuzz. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from dialogues.records import Answer
from dialogues.story_rules import FieldRule, Pattern, StoryRules, ValueRule, fold

# Longer than any description the bot accepts; a longer text is read up to here.
MAX_CHARS = 20_000
TOKEN = re.compile(r"[\w'&]+")
JOINER = re.compile(r"[\s\-/]+")


@dataclass(frozen=True)
class Proposal:
    """One answer the story suggests: the step, its option key, and the words behind it."""

    field: str
    value: str
    evidence: str
    start: int
    end: int
    # The phrase of story.toml that matched, for whoever tunes the rules.
    phrase: str


@dataclass(frozen=True)
class _Token:
    key: str  # lower-case, apostrophes dropped
    start: int
    end: int


@dataclass(frozen=True)
class _Story:
    text: str
    folded: str
    tokens: tuple[_Token, ...]
    starts: tuple[int, ...]
    break_starts: tuple[int, ...]
    break_ends: tuple[int, ...]
    cues: tuple[tuple[int, int, tuple[str, ...]], ...]
    fuzzy: dict[int, frozenset[str]]
    # Every phrase word some mistyped word was read as.
    corrected: frozenset[str]
    # The distinct words, sorted, and where each stands (token indexes), plain and corrected:
    # a phrase is tried only where its first word is.
    words: tuple[str, ...]
    at: dict[str, list[int]]
    corrected_at: dict[str, list[int]]
    negation_window: int


@dataclass(frozen=True)
class _Hit:
    value: str
    pattern: Pattern
    start: int
    end: int
    # Where the evidence starts and ends: the phrase plus the context words that let it count.
    shown: tuple[int, int]


def read_story(text: str, rules: StoryRules) -> tuple[Proposal, ...]:
    """Every answer the enabled rules can read from the story, in field order."""
    story = _prepare(text[:MAX_CHARS], rules)
    proposals: list[Proposal] = []
    for field in rules.fields:
        if not field.enabled:
            continue
        if field.requires is not None:
            exclusive = rules.field(field.requires).exclusive
            if not any(p.field == field.requires and p.value not in exclusive for p in proposals):
                continue
        if any(_matches(story, pattern) for pattern in field.veto):
            continue
        proposals.extend(_resolve(field, _longest(_hits(story, field)), story))
    return tuple(proposals)


def word_reason(proposal: Proposal, rules: StoryRules, label: str) -> str:
    """Why a proposal was made, in the field's words from story.toml."""
    evidence = " ".join(proposal.evidence.split())
    return rules.field(proposal.field).reason.format(label=label, evidence=evidence)


def proposed_answers(proposals: Sequence[Proposal], rules: StoryRules) -> dict[str, Answer]:
    """The proposals as answers the steps store: a list for topics and told, else a key."""
    answers: dict[str, Answer] = {}
    for proposal in proposals:
        if rules.field(proposal.field).multiple:
            current = answers.get(proposal.field)
            answers[proposal.field] = [
                *(current if isinstance(current, list) else []),
                proposal.value,
            ]
        else:
            answers[proposal.field] = proposal.value
    return answers


# --- preparing the text -------------------------------------------------------------------


def _prepare(text: str, rules: StoryRules) -> _Story:
    folded = fold(text)
    tokens = tuple(
        _Token(m.group().replace("'", ""), m.start(), m.end()) for m in TOKEN.finditer(folded)
    )
    breaks = [(m.start(), m.end()) for m in rules.breaks.finditer(folded) if m.end() > m.start()]
    pseudo = [
        (m.start(), m.end())
        for pattern in rules.negation_pseudo
        for m in pattern.regex.finditer(folded)
    ]
    cues = tuple(
        sorted(
            (m.start(), m.end(), tuple(w.replace("'", "") for w in m.group().split()))
            for pattern in rules.negation_cues
            for m in pattern.regex.finditer(folded)
            if not any(s <= m.start() and m.end() <= e for s, e in pseudo)
        )
    )
    fuzzy = _fuzzy_words(tokens, rules)
    return _Story(
        text=text,
        folded=folded,
        tokens=tokens,
        starts=tuple(token.start for token in tokens),
        break_starts=tuple(start for start, _ in breaks),
        break_ends=tuple(end for _, end in breaks),
        cues=cues,
        fuzzy=fuzzy,
        corrected=frozenset().union(*fuzzy.values()),
        words=tuple(sorted({token.key for token in tokens})),
        at=_index((token.key,) for token in tokens),
        corrected_at=_index(fuzzy.get(index, ()) for index in range(len(tokens))),
        negation_window=rules.negation_window,
    )


def _index(keys_per_token: Iterable[Iterable[str]]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for position, keys in enumerate(keys_per_token):
        for key in keys:
            index.setdefault(key, []).append(position)
    return index


def _fuzzy_words(tokens: Sequence[_Token], rules: StoryRules) -> dict[int, frozenset[str]]:
    """For each mistyped long word, the phrase words it is a small typo of."""
    vocabulary = sorted(rules.vocabulary)
    found: dict[int, frozenset[str]] = {}
    seen: dict[str, frozenset[str]] = {}
    for index, token in enumerate(tokens):
        key = token.key
        # A word that is itself in some phrase is never read as another one.
        if len(key) < rules.fuzzy_min_length or key in rules.vocabulary or not key.isalpha():
            continue
        if key not in seen:
            # Imported at the first typo, not at start-up: all its metrics are 3.5 MiB.
            from rapidfuzz import fuzz, process

            matches = process.extract(
                key, vocabulary, scorer=fuzz.ratio, score_cutoff=rules.fuzzy_score, limit=None
            )
            seen[key] = frozenset(str(choice) for choice, _, _ in matches)
        if seen[key]:
            found[index] = seen[key]
    return found


# --- finding phrases ----------------------------------------------------------------------


def _hits(story: _Story, field: FieldRule) -> list[_Hit]:
    hits: list[_Hit] = []
    for value in field.values:
        if not value.enabled:
            continue
        negation = field.negation if value.negation is None else value.negation
        unless = (*field.unless_before, *value.unless_before)
        for pattern, alone in _phrases(value):
            for start, end in _matches(story, pattern):
                if unless and _right_before(story, unless, start):
                    continue
                shown = (start, end) if alone else _context(story, field, start, end)
                if shown is None:
                    continue
                chosen = value.key
                cue = _negation(story, pattern, start, end) if negation else None
                if cue is not None:
                    if value.when_negated is None:
                        continue
                    # The evidence shows the negation too: "not unsafe", not "unsafe".
                    chosen, shown = value.when_negated, (min(cue, shown[0]), shown[1])
                hits.append(_Hit(chosen, pattern, start, end, shown))
    return hits


def _right_before(story: _Story, patterns: Sequence[Pattern], start: int) -> bool:
    """Whether one of the phrases ends just before `start`, with only spaces between."""
    low, _ = _clause(story, start, start)
    left = _words_before(story, start, 4, low)
    for pattern in patterns:
        for match in pattern.regex.finditer(story.folded, left, start):
            if match.end() > match.start() and not story.folded[match.end() : start].strip():
                return True
    return False


def _phrases(value: ValueRule) -> list[tuple[Pattern, bool]]:
    return [(p, False) for p in value.phrases] + [(p, True) for p in value.standalone]


def _matches(story: _Story, pattern: Pattern) -> list[tuple[int, int]]:
    spans = []
    for start in _starts(story, pattern):
        match = pattern.regex.match(story.folded, start)
        if match is not None and match.end() > match.start():
            spans.append((match.start(), match.end()))
    if pattern.literal and story.corrected.intersection(pattern.words):
        spans.extend(s for s in _fuzzy_matches(story, pattern.words) if s not in spans)
    return spans


def _starts(story: _Story, pattern: Pattern) -> list[int]:
    """Where the phrase may start: where its first word is (most phrases are nowhere)."""
    if pattern.anchor is None:
        return [m.start() for m in pattern.regex.finditer(story.folded)]
    if not pattern.anchor_is_stem:
        return [story.tokens[i].start for i in story.at.get(pattern.anchor, ())]
    starts: list[int] = []
    index = bisect_left(story.words, pattern.anchor)
    while index < len(story.words) and story.words[index].startswith(pattern.anchor):
        starts.extend(story.tokens[i].start for i in story.at[story.words[index]])
        index += 1
    return sorted(starts)


def _fuzzy_matches(story: _Story, words: tuple[str, ...]) -> list[tuple[int, int]]:
    spans = []
    tokens = story.tokens
    first_at = sorted({*story.at.get(words[0], ()), *story.corrected_at.get(words[0], ())})
    for first in first_at:
        run = tokens[first : first + len(words)]
        if len(run) < len(words):
            continue
        fits = all(
            t.key == w or first + i in story.corrected_at.get(w, ())
            for i, (t, w) in enumerate(zip(run, words, strict=True))
        )
        joined = all(JOINER.fullmatch(story.folded, a.end, b.start) for a, b in pairwise(run))
        if fits and joined:
            spans.append((run[0].start, run[-1].end))
    return spans


# --- context and negation -----------------------------------------------------------------


def _clause(story: _Story, start: int, end: int) -> tuple[int, int]:
    """The stretch between the clause breaks around a span."""
    before = bisect_right(story.break_ends, start)
    after = bisect_left(story.break_starts, end)
    low = story.break_ends[before - 1] if before else 0
    high = story.break_starts[after] if after < len(story.break_starts) else len(story.folded)
    return low, high


def _words_before(story: _Story, position: int, count: int, low: int) -> int:
    index = bisect_left(story.starts, position)
    first = max(0, index - count)
    return max(story.starts[first], low) if index > first else position


def _words_after(story: _Story, position: int, count: int, high: int) -> int:
    index = bisect_left(story.starts, position)
    last = min(len(story.tokens), index + count) - 1
    return min(story.tokens[last].end, high) if last >= index else position


def _context(story: _Story, field: FieldRule, start: int, end: int) -> tuple[int, int] | None:
    """The evidence span if the phrase counts here, None if its context is missing."""
    if not (field.before or field.after or field.at_start):
        return start, end
    low, high = _clause(story, start, end)
    left = _words_before(story, start, field.window, low)
    for pattern in field.before:
        found = [
            m for m in pattern.regex.finditer(story.folded, left, start) if m.end() > m.start()
        ]
        if found:
            return found[0].start(), end
    right = _words_after(story, end, field.window, high)
    for pattern in field.after:
        match = pattern.regex.search(story.folded, end, right)
        if match is not None and match.end() > match.start():
            return start, match.end()
    if field.at_start and low == 0 and bisect_left(story.starts, start) < field.window:
        return start, end
    return None


def _negation(story: _Story, pattern: Pattern, start: int, end: int) -> int | None:
    """Where a negation word governing the phrase starts (just before it or in its gaps)."""
    low, _ = _clause(story, start, end)
    left = _words_before(story, start, story.negation_window, low)
    for cue_start, cue_end, words in story.cues:
        if cue_start < left or cue_end > end:
            continue
        inside = cue_start >= start
        # The phrase's own negation ("haven't told anyone") is what it means, not a negation.
        if inside and (not pattern.words or all(w in pattern.words for w in words)):
            continue
        return cue_start
    return None


# --- choosing among the hits --------------------------------------------------------------


def _longest(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit lying inside a longer one ("practice supervisor" over "supervisor")."""
    return [
        hit
        for hit in hits
        if not any(
            o.start <= hit.start and hit.end <= o.end and (o.end - o.start) > (hit.end - hit.start)
            for o in hits
        )
    ]


def _resolve(field: FieldRule, hits: list[_Hit], story: _Story) -> list[Proposal]:
    if not hits:
        return []
    order = [value.key for value in field.values]
    hits = sorted(hits, key=lambda hit: (hit.start, hit.end))
    found = {hit.value for hit in hits}
    if found - field.exclusive:
        hits = [hit for hit in hits if hit.value not in field.exclusive]
        found -= field.exclusive
    if field.resolve == "all":
        chosen = [next(h for h in hits if h.value == key) for key in order if key in found]
    elif field.resolve == "priority":
        best = min(found, key=order.index)
        chosen = [next(h for h in hits if h.value == best)]
    elif field.resolve == "last":
        chosen = [hits[-1]]
    else:
        chosen = [hits[0]] if len(found) == 1 else []
    return [_proposal(field, hit, story) for hit in chosen]


def _proposal(field: FieldRule, hit: _Hit, story: _Story) -> Proposal:
    start, end = hit.shown
    return Proposal(field.name, hit.value, story.text[start:end], start, end, hit.pattern.text)
