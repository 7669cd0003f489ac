"""How well does the bot read a learner's story? Precision and recall per field on the corpus.

Prints, for the development set (used to tune the rules) and the held-out set (written
before the rules and never used to tune them): per field, the proposals made, how many were
right, the support (annotated values), precision and recall; and the share of stories in
which every proposal was right. Fields switched off in story.toml are shown too, marked
"off", with the figures they would have if switched on.
Run: python benchmarks/story.py [--set dev|heldout] [--mistakes dev|heldout]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# The corpus and its scoring live with the tests (tests/story), as the tests import them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from story.scoring import SETS, Score, load_corpus, score

from dialogues.bundle import load_content
from dialogues.story import read_story
from dialogues.story_rules import FIELDS, check_story_rules, load_story_rules


def _figure(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.2f}"


def _report(name: str, result: Score, full: Score, enabled: set[str]) -> None:
    print(f"\n{name}: {result.stories} stories")
    heads = ("proposed", "correct", "support", "precision", "recall")
    print(f"{'field':14} {'':3} " + " ".join(f"{h:>8}" for h in heads))
    for field in FIELDS:
        # A field that is off proposes nothing: show what it would do if switched on.
        t = result.fields[field] if field in enabled else full.fields[field]
        mark = "" if field in enabled else "off"
        print(
            f"{field:14} {mark:3} {t.proposed:8} {t.correct:8} {t.support:8} "
            f"{_figure(t.precision):>8} {_figure(t.recall):>8}"
        )
    share = result.all_right / result.stories if result.stories else 0.0
    print(
        f"every proposal right in {result.all_right} of {result.stories} stories ({share:.0%}); "
        f"{result.without_proposal} stories with no proposal"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mistakes", choices=SETS, help="list every disagreement in a set")
    parser.add_argument("--set", dest="sets", action="append", choices=SETS, help="only this set")
    args = parser.parse_args()
    rules = load_story_rules()
    check_story_rules(rules, load_content())
    enabled = {f.name for f in rules.fields if f.enabled}
    everything = rules.with_everything_enabled()
    print(
        "rules: dialogues/content/story.toml; fields off:", sorted(set(FIELDS) - enabled) or "none"
    )
    for name in args.sets or SETS:
        stories = load_corpus(name)
        result = score(stories, rules)
        _report(name, result, score(stories, everything), enabled)
        if args.mistakes == name:
            for m in result.mistakes:
                wrong = f"proposed {list(m.proposed)} expected {list(m.expected)}"
                print(f"  {m.story} {m.field}: {wrong} {list(m.evidence)}")
    text = " ".join(s.text for s in load_corpus("dev"))[:3500]
    started = time.perf_counter()
    runs = 20
    for _ in range(runs):
        read_story(text, rules)
    took = (time.perf_counter() - started) / runs * 1000
    print(f"\nspeed: a {len(text)}-character story read in {took:.1f} ms (mean of {runs})")


if __name__ == "__main__":
    main()
