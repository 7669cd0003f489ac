"""Fuzz profiles, chosen by CONCERNBOT_FUZZ: `ci` (the default, about half a minute) or
`long` (10,000 sequences, for a run in the background; its figures go in benchmarks/RESULTS.md).

The CI profile is derandomised: every run tries the same sequences, so CI cannot flake on a
lucky draw and the coverage of every state is asserted on the same walk each time. The long
profile draws afresh each run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings

PROFILE_ENV = "CONCERNBOT_FUZZ"
# Sequences of up to this many turns; the walk to a filed concern takes about 30 that fit.
MAX_TURNS = {"ci": 90, "long": 90}
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("CONCERNBOT_FUZZ_EXAMPLES", "10000")),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)


def profile() -> str:
    name = os.environ.get(PROFILE_ENV, "ci")
    if name not in MAX_TURNS:
        raise pytest.UsageError(f"{PROFILE_ENV}={name!r}: use one of {', '.join(MAX_TURNS)}")
    return name


@dataclass
class Figures:
    """What a run did, printed at the end of the session."""

    sequences: int = 0
    cut_short: int = 0  # hypothesis stops drawing past about 8 KB of choices a sequence
    turns: int = 0
    duplicates: int = 0
    filed: int = 0
    answered: int = 0
    seconds: float = 0.0
    visited: Counter[tuple[str, str]] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)


FIGURES = Figures()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES.sequences:
        return
    f = FIGURES
    terminalreporter.write_line(
        f"fuzz ({profile()}): {f.sequences} sequences ({f.cut_short} cut short), {f.turns} turns "
        f"({f.duplicates} repeated update ids), {f.filed} concerns filed, "
        f"{f.answered} pathway questions answered, {len(f.visited)} journey states visited, "
        f"in {f.seconds:.1f} s"
    )
