"""Answers that follow from others, dropped when what they followed from no longer holds.

A journey declares its dependents beside its transitions (`dialogues.journeys.Dependent`).
Beside the answers, the conversation keeps a short note of what each dependent was given on
("told_outcome<told=..."), so a change is seen however it came about: a review section
changed, /back, a story read again. A dependent whose guard fails, or whose answers have
changed since it was given, is dropped, with its note and its mark as read from the story;
the journey then asks it again, and the review never shows it. One declared to `fits` is
kept through a change while it still fits, and through the first answer to what it is given
on (an answer given for the first time changes nothing that follows). Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from dialogues.guards import NO_FACTS, Facts, Guards
from dialogues.journeys import FROM_STORY, Dependent, Journey
from dialogues.records import Answer, Answers

# Where the notes are kept among the answers: "answer<on=value", one per answer it is given on.
GIVEN_ON = "given_on"
# How an answer not yet given is noted.
UNANSWERED = "null"


@dataclass(frozen=True)
class Tidied:
    """The answers that still follow, and the ones dropped because they no longer did."""

    answers: dict[str, Answer]
    dropped: frozenset[str]


def value_of(answer: Answer) -> str:
    """An answer as noted: ticks in any order are the same answer."""
    return json.dumps(sorted(answer) if isinstance(answer, list) else answer)


def notes(answers: Answers) -> dict[tuple[str, str], str]:
    """What each dependent was given on, as noted: (answer, on) -> value."""
    noted = answers.get(GIVEN_ON)
    found: dict[tuple[str, str], str] = {}
    for note in noted if isinstance(noted, list) else []:
        answer, _, rest = note.partition("<")
        on, _, value = rest.partition("=")
        found[answer, on] = value
    return found


def _stands(
    dependent: Dependent,
    answers: Mapping[str, Answer],
    noted: Mapping[tuple[str, str], str],
    guards: Guards,
) -> bool:
    if dependent.guard is not None and not getattr(guards, dependent.guard)():
        return False
    changed = False
    for on in dependent.on:
        now = value_of(answers.get(on))
        was = noted.get((dependent.answer, on), now)
        # Given before what it is given on was answered: that first answer is no change.
        changed |= was != now and not (dependent.fits is not None and was == UNANSWERED)
    if not changed:
        return True
    return dependent.fits is not None and getattr(guards, dependent.fits)()


def tidy(
    journey: Journey, answers: Answers, facts: Facts = NO_FACTS, given: Collection[str] = ()
) -> Tidied:
    """The answers without those that no longer follow from the others.

    `given` are the answers given just now: they are taken as given on the answers as they
    stand (the site typed with a new organisation follows from it).
    """
    kept = dict(answers)
    noted = {key: value for key, value in notes(answers).items() if key[0] not in given}
    guards = Guards(kept, facts=facts)  # reads `kept` as answers leave it
    dropped: set[str] = set()
    changed = True
    while changed:  # a dropped answer may take others with it (told, then what came of it)
        changed = False
        for dependent in journey.dependents:
            if dependent.answer in kept and not _stands(dependent, kept, noted, guards):
                del kept[dependent.answer]
                dropped.add(dependent.answer)
                changed = True
    given_on = sorted(
        f"{dependent.answer}<{on}={value_of(kept.get(on))}"
        for dependent in journey.dependents
        if dependent.answer in kept
        for on in dependent.on
    )
    kept.pop(GIVEN_ON, None)
    if given_on:
        kept[GIVEN_ON] = given_on
    from_story = kept.get(FROM_STORY)
    if dropped and isinstance(from_story, list):
        kept[FROM_STORY] = [key for key in from_story if key not in dropped]
    return Tidied(kept, frozenset(dropped))
