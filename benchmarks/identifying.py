"""How well are identifying details caught? Precision, recall and speed on the corpus.

Prints, for each set of the corpus in tests/identifying (dev: used to tune the rules;
heldout and heldout2: never used to tune them) and for all of it: per kind, the findings
made, how many were right, the support (annotated findings), precision and recall; how many
annotated details some finding points out at all; then the time to read one text, p50 and
p99 over every text of the corpus and over a 4,000-character paste.
Run: python benchmarks/identifying.py [--set dev|heldout|heldout2] [--mistakes SET]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# The corpus and its scoring live with the tests (tests/identifying), as the tests import them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from identifying.scoring import SETS, Sample, Score, load_corpus, score

from dialogues.identifying import find_identifying
from dialogues.identifying_rules import KINDS, IdentifyingRules, load_identifying

PASTE_LENGTH = 4000


def _figure(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.2f}"


def _report(name: str, result: Score) -> None:
    print(f"\n{name}: {result.samples} texts, {result.without_finding} with no finding")
    heads = ("found", "correct", "support", "precision", "recall")
    print(f"{'kind':14} " + " ".join(f"{h:>9}" for h in heads))
    for kind, t in [*result.kinds.items(), ("all", result.total)]:
        print(
            f"{kind:14} {t.proposed:9} {t.correct:9} {t.support:9} "
            f"{_figure(t.precision):>9} {_figure(t.recall):>9}"
        )
    flagged, support = result.flagged, result.total.support
    print(f"annotated details pointed out by some finding: {flagged} of {support}")


def _percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {cuts[49] * 1000:6.2f} ms  p99 {cuts[98] * 1000:6.2f} ms"


def _timed(text: str, rules: IdentifyingRules) -> float:
    started = time.perf_counter()
    find_identifying(text, rules)
    return time.perf_counter() - started


def _speed(samples: list[Sample], rules: IdentifyingRules, rounds: int) -> None:
    texts = [s.text for s in samples]
    for text in texts:  # warm the caches the library fills on first use
        find_identifying(text, rules)
    per_text = [_timed(text, rules) for _ in range(rounds) for text in texts]
    runs = f"{len(texts)} texts x {rounds} rounds"
    print(f"\nspeed: one corpus text ({runs})  {_percentiles(per_text)}")
    paste = ""
    while len(paste) < PASTE_LENGTH:
        paste += " ".join(texts) + " "
    paste = paste[:PASTE_LENGTH]
    found = len(find_identifying(paste, rules))
    per_paste = [_timed(paste, rules) for _ in range(rounds * 5)]
    print(
        f"speed: a {len(paste)}-character paste ({found} findings, {rounds * 5} runs)  "
        f"{_percentiles(per_paste)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", choices=SETS, help="only this set")
    parser.add_argument("--mistakes", choices=SETS, help="list every disagreement in a set")
    parser.add_argument("--rounds", type=int, default=20, help="timing rounds over the corpus")
    args = parser.parse_args()
    rules = load_identifying()
    print(
        f"rules: dialogues/content/identifying.toml; kinds off: "
        f"{[k for k in KINDS if not rules.kinds[k].enabled] or 'none'}"
    )
    print(
        f"machine: {platform.system()} {platform.release()}, {platform.machine()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores"
    )
    everything: list[Sample] = []
    for name in args.sets or SETS:
        samples = list(load_corpus(name))
        everything += samples
        result = score(samples, rules)
        _report(name, result)
        if args.mistakes == name:
            for m in result.mistakes:
                print(f"  {m.sample}: missed {list(m.missed)} wrong {list(m.wrong)}")
    if len(args.sets or SETS) > 1:
        _report("all", score(everything, rules))
    _speed(everything, rules, args.rounds)


if __name__ == "__main__":
    main()
