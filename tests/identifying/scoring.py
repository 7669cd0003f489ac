"""The identifying-details corpus and how the detector is scored on it, for tests and benchmark.

A finding is correct when its kind and its text are exactly the annotated ones; any other
finding is a false positive, and an annotated one not found is a miss. `flagged` counts the
annotated details that some finding covers at least in part, whatever its kind or bounds:
what the learner would see pointed out.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from story.scoring import Tally  # the same precision and recall counts as the story's

from dialogues.identifying import find_identifying
from dialogues.identifying_rules import KINDS, IdentifyingRules, Kind

CORPUS_DIR = Path(__file__).parent
SETS = ("dev", "heldout", "heldout2")


@dataclass(frozen=True)
class Sample:
    id: str
    text: str
    # (kind, text) of each annotated finding, in order.
    expected: tuple[tuple[Kind, str], ...]


@dataclass(frozen=True)
class Mistake:
    sample: str
    missed: tuple[tuple[str, str], ...]
    wrong: tuple[tuple[str, str], ...]


@dataclass
class Score:
    kinds: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    total: Tally = field(default_factory=Tally)
    samples: int = 0
    without_finding: int = 0
    flagged: int = 0
    mistakes: list[Mistake] = field(default_factory=list)


def load_corpus(name: str) -> tuple[Sample, ...]:
    """One set; every annotated text must occur in its sample, every kind must exist."""
    data = tomllib.loads((CORPUS_DIR / f"{name}.toml").read_text("utf-8"))
    samples = []
    for row in data["text"]:
        expected = []
        for item in row["findings"]:
            if item["kind"] not in KINDS:
                raise ValueError(f"{row['id']}: unknown kind {item['kind']!r}")
            if item["text"] not in row["text"]:
                raise ValueError(f"{row['id']}: {item['text']!r} is not in the text")
            expected.append((item["kind"], item["text"]))
        samples.append(Sample(row["id"], row["text"], tuple(expected)))
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name}: duplicate ids")
    return tuple(samples)


def score(samples: Sequence[Sample], rules: IdentifyingRules) -> Score:
    result = Score()
    for sample in samples:
        findings = find_identifying(sample.text, rules)
        found = Counter((f.kind, f.text) for f in findings)
        expected = Counter(sample.expected)
        right = found & expected
        for kind in KINDS:
            tally = result.kinds[kind]
            tally.proposed += sum(n for (k, _), n in found.items() if k == kind)
            tally.correct += sum(n for (k, _), n in right.items() if k == kind)
            tally.support += sum(n for (k, _), n in expected.items() if k == kind)
        for _, text in sample.expected:
            start = sample.text.find(text)
            end = start + len(text)
            result.flagged += any(f.start < end and start < f.end for f in findings)
        if found != expected:
            result.mistakes.append(
                Mistake(
                    sample.id,
                    tuple(sorted((expected - found).elements())),
                    tuple(sorted((found - expected).elements())),
                )
            )
        result.samples += 1
        result.without_finding += not findings
    result.total = Tally(
        sum(t.proposed for t in result.kinds.values()),
        sum(t.correct for t in result.kinds.values()),
        sum(t.support for t in result.kinds.values()),
    )
    return result
