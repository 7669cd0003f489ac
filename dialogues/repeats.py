"""Input that repeats what was already taken, as a learner sends it when the bot went quiet
(a restart, a slow network): a press on the buttons of a question already answered, or an
answer sent again.

Pure rules over the conversation as stored, nothing more kept: `trail[-1]` is the question
answered last, `answers` what was taken there, `updated_at` when the conversation last moved.

A press on another question's buttons changes nothing. What it is told depends on that
question: answered with this very press (the same option, Done on its ticks, Skip where it
was skipped, Continue past it), the review's Change for the answer being changed, or its
Submit at the check it led to, it was "already taken, and saved"; answered otherwise, it
changed nothing and /back changes it; never answered (a branch not taken), it changed
nothing.

Typed text is a repeat when all of these hold:
- the conversation moved at most `WINDOW` before it arrived;
- it does not fit the current question (it would be refused, or asked "which of these?");
- read at the question answered last, it gives exactly the answer stored there (the same
  option, the same ticks or Done on them, the same text, or Skip where that was skipped).
It is then answered "I already have that as your answer to ..." with the current question,
rather than "not one of the options". Text that fits the current question is its answer:
a free-text question cannot tell a repeat from an answer, nor can a choice that accepts it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from dialogues.journeys import JOURNEYS, PRIVACY_CHECK
from dialogues.readings import Action, Answered, Toggled
from dialogues.records import Conversation
from dialogues.steps import Steps
from dialogues.turns import Press, Text

# Long enough for a restart and a learner trying again; short enough that a text typed much
# later is read as what it says.
WINDOW = timedelta(minutes=10)

# What a press on another question's buttons is told (message keys).
PRESS_AGAIN = "press_again"  # the press gives the answer already stored
PRESS_ANSWERED = "press_answered"  # that question has another answer
PRESS_STALE = "stale_button"  # that question has no answer


def pressed_again(steps: Steps, conversation: Conversation, press: Press) -> str:
    """The message key for a press on a question other than the current one."""
    kind = steps.prompts.step(press.step).kind if press.step in steps.prompts.steps else None
    if press.step == "review" and press.key == "submit":  # pressed twice: at the check it led to
        return PRESS_AGAIN if conversation.state == PRIVACY_CHECK else PRESS_STALE
    if press.step == "review":  # pressed twice: the answer it opened is being changed
        section = press.key.removeprefix("edit:")
        asking = next((s.steps for s in JOURNEYS[conversation.journey].sections
                       if s.name == section), ())  # fmt: skip
        changing = conversation.editing and conversation.state in asking
        return PRESS_AGAIN if changing else PRESS_STALE
    if kind == "info":  # nothing stored: moving past it is its answer
        passed = press.step in conversation.trail and press.key == "continue"
        return PRESS_AGAIN if passed else PRESS_STALE
    key = steps.answer_key(press.step)
    if kind is None or key not in conversation.answers:
        return PRESS_STALE
    stored = conversation.answers[key]
    if kind == "multi":
        same = press.key == "done" and press.step in conversation.trail
    elif stored is None:
        same = press.key == "skip"
    else:
        same = stored == press.key
    return PRESS_AGAIN if same else PRESS_ANSWERED


def typed_again(
    steps: Steps, conversation: Conversation, text: Text, moved_at: datetime, now: datetime
) -> str | None:
    """The question whose stored answer `text` repeats, or None; call it only for text
    that does not fit the current question."""
    if not conversation.trail or now - moved_at > WINDOW:
        return None
    previous = conversation.trail[-1]
    if previous not in steps.prompts.steps or previous == "review":
        return None
    key = steps.answer_key(previous)
    if key not in conversation.answers:
        return None
    stored = conversation.answers[key]
    reading = steps.read(previous, replace(conversation, state=previous), text)
    if isinstance(reading, Answered):
        same = reading.value == stored
    elif isinstance(reading, Action):
        ticks = isinstance(stored, list) and bool(stored)
        same = (reading.name == "skip" and stored is None) or (reading.name == "done" and ticks)
    elif isinstance(reading, Toggled) and isinstance(stored, list):
        same = bool(reading.keys) and set(reading.keys) == set(stored)
    else:
        same = False
    return previous if same else None
