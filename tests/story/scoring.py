"""The story corpus and how the reader is scored on it, shared by the tests and the benchmark.

A proposal counts as correct only if its value is the annotated one; a proposal for a field
the story leaves absent is a false positive. Topics and told are scored value by value.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dialogues.story import read_story
from dialogues.story_rules import FIELDS, StoryRules

CORPUS_DIR = Path(__file__).parent
SETS = ("dev", "heldout", "heldout2")
ABSENT = "absent"
# Fields added after the corpus was written, which no story of it mentions (checked when the
# field was added): absent unless a story says otherwise.
UNANNOTATED = frozenset({"university"})


@dataclass(frozen=True)
class Story:
    id: str
    text: str
    # The annotated values per field; empty when the story leaves the field absent.
    expected: Mapping[str, frozenset[str]]


@dataclass
class Tally:
    proposed: int = 0
    correct: int = 0
    support: int = 0

    @property
    def precision(self) -> float | None:
        return self.correct / self.proposed if self.proposed else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None


@dataclass(frozen=True)
class Mistake:
    story: str
    field: str
    proposed: tuple[str, ...]
    expected: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass
class Score:
    fields: dict[str, Tally] = field(default_factory=lambda: {f: Tally() for f in FIELDS})
    stories: int = 0
    all_right: int = 0
    without_proposal: int = 0
    mistakes: list[Mistake] = field(default_factory=list)


def load_corpus(name: str) -> tuple[Story, ...]:
    """One set of the corpus; every story must annotate every field."""
    data = tomllib.loads((CORPUS_DIR / f"{name}.toml").read_text("utf-8"))
    stories = []
    for row in data["story"]:
        expected: dict[str, frozenset[str]] = {}
        for name_ in FIELDS:
            if name_ not in row and name_ in UNANNOTATED:
                row = {**row, name_: ABSENT}
            if name_ not in row:
                raise ValueError(f"story {row['id']}: field {name_!r} is not annotated")
            value = row[name_]
            values = [value] if isinstance(value, str) else list(value)
            expected[name_] = frozenset(v for v in values if v != ABSENT)
        stories.append(Story(row["id"], row["text"], expected))
    return tuple(stories)


def score(stories: Sequence[Story], rules: StoryRules) -> Score:
    result = Score()
    for story in stories:
        proposals = read_story(story.text, rules)
        right = True
        for name in FIELDS:
            mine = [p for p in proposals if p.field == name]
            proposed = {p.value for p in mine}
            expected = story.expected[name]
            tally = result.fields[name]
            tally.proposed += len(proposed)
            tally.correct += len(proposed & expected)
            tally.support += len(expected)
            if proposed - expected:
                right = False
            if proposed != expected:
                result.mistakes.append(
                    Mistake(
                        story.id,
                        name,
                        tuple(sorted(proposed)),
                        tuple(sorted(expected)),
                        tuple(f"{p.value}: {p.evidence!r}" for p in mine),
                    )
                )
        result.stories += 1
        result.all_right += right
        result.without_proposal += not proposals
    return result
