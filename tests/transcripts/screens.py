"""What counts as a screen: one message the learner must answer (a question, the check of
what their story said, a "which of these?", the review).

A multiple-choice question shown again because a box was ticked is the same screen: on
Telegram the tick edits the message in place. Shared by the transcript tests and
`benchmarks/screens.py`, which also runs it against the journey before issue 8, so it reads
only what every version's replies have: a step, and whether it is multiple choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class _Reply(Protocol):
    @property
    def step(self) -> str | None: ...

    @property
    def multi(self) -> bool: ...


def count_screens(turns: Iterable[Sequence[_Reply]]) -> int:
    """How many screens the learner had to answer, turn by turn."""
    screens = 0
    shown: str | None = None
    for replies in turns:
        questions = [r for r in replies if r.step is not None]
        ticked = len(replies) == 1 and bool(questions) and questions[0].multi
        if ticked and questions[0].step == shown:
            continue  # the same multiple-choice question, a box ticked
        screens += len(questions)
        if questions:
            shown = questions[-1].step
    return screens
