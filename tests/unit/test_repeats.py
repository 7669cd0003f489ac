"""Input that repeats what was already taken: presses on answered questions, answers sent again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.records import Conversation
from dialogues.repeats import WINDOW, pressed_again, typed_again
from dialogues.turns import Event, Outcome, Press, Text

CONTENT = load_content()
DIALOGUE = Dialogue(CONTENT)
SAY = CONTENT.prompts.say


def title(step: str) -> str:
    return CONTENT.prompts.step(step).title


MOVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SOON = MOVED + timedelta(minutes=2)
DESCRIPTION = "Nobody supervises us on the night shift at all."


def at(state: str, trail: tuple[str, ...], **answers: object) -> Conversation:
    return Conversation(
        key="chat/concern",
        owner="chat",
        journey="concern",
        state=state,
        answers=answers,  # type: ignore[arg-type]
        trail=trail,
        created_at=MOVED,
        updated_at=MOVED,
    )


AFTER_DESCRIPTION = at(
    "started",
    ("danger", "group", "organisation", "site", "programme", "description"),
    danger="no", group="resident_doctors", organisation="cuh", site=None, programme=None,
    description=DESCRIPTION,
)  # fmt: skip
AFTER_STARTED = replace(
    AFTER_DESCRIPTION,
    state="frequency",
    trail=(*AFTER_DESCRIPTION.trail, "started"),
    answers={**AFTER_DESCRIPTION.answers, "started": "this_month"},
)


def send(conversation: Conversation, event: Event, now: datetime = SOON) -> Outcome:
    return DIALOGUE.handle(conversation, event, now, lambda: "QC-2345-6789")


def note(outcome: Outcome) -> str:
    (reply,) = outcome.replies
    return reply.text.split("\n\n")[0]


def test_a_description_sent_again_is_a_repeat_not_a_wrong_choice() -> None:
    outcome = send(AFTER_DESCRIPTION, Text(DESCRIPTION))
    assert note(outcome) == SAY("repeated_answer", question=title("description"))
    assert outcome.replies[-1].step == "started"  # the current question, in the same message
    assert outcome.conversation == replace(AFTER_DESCRIPTION, updated_at=SOON)


def test_a_choice_typed_again_is_a_repeat_whatever_words_chose_it() -> None:
    for typed in ("Within the last month", "within the last month", "last month"):
        outcome = send(AFTER_STARTED, Text(typed))
        assert note(outcome) == SAY("repeated_answer", question=title("started")), typed
        assert outcome.conversation is not None and outcome.conversation.state == "frequency"


def test_text_that_fits_the_current_question_is_its_answer() -> None:
    outcome = send(AFTER_STARTED, Text("often"))
    assert outcome.conversation is not None
    assert outcome.conversation.answers["frequency"] == "often"
    assert outcome.conversation.state != "frequency"


def test_a_repeat_after_the_window_or_of_another_answer_is_refused_as_usual() -> None:
    late = send(AFTER_DESCRIPTION, Text(DESCRIPTION), now=MOVED + WINDOW + timedelta(seconds=1))
    other = send(AFTER_DESCRIPTION, Text(DESCRIPTION + " Again."))
    changed = send(AFTER_STARTED, Text("More than 6 months ago"))  # not the stored "started"
    for outcome in (late, other, changed):
        assert outcome.replies[0].text.startswith("Sorry,")
    assert send(AFTER_DESCRIPTION, Text(DESCRIPTION), now=MOVED + WINDOW).replies[0].step


def test_ticks_done_and_skip_sent_again_are_repeats() -> None:
    standards_done = at("affected", ("topics", "standards"), topics=["supervision"],
                        standards=["3.1", "3.2"])  # fmt: skip
    assert typed_again(DIALOGUE.steps, standards_done, Text("done"), MOVED, SOON) == "standards"
    topics_done = at("standards", ("frequency", "topics"), topics=["supervision", "induction"])
    steps = DIALOGUE.steps
    assert typed_again(steps, topics_done, Text("supervision, induction"), MOVED, SOON) == "topics"
    assert typed_again(steps, topics_done, Text("supervision"), MOVED, SOON) is None
    skipped = at("likelihood", ("controls", "controls_detail"), controls=["none"],
                 controls_detail=None)  # fmt: skip
    outcome = send(skipped, Text("skip"))
    assert note(outcome) == SAY("repeated_answer", question=title("controls_detail"))


def test_nothing_to_repeat_at_the_first_question_or_after_an_edit() -> None:
    first = at("danger", ())
    assert typed_again(DIALOGUE.steps, first, Text("3"), MOVED, SOON) is None
    editing = replace(AFTER_STARTED, state="site", trail=("review",), editing=True)
    assert typed_again(DIALOGUE.steps, editing, Text("Ward 1"), MOVED, SOON) is None


@pytest.mark.parametrize(
    ("press", "key"),
    [
        (Press("danger", "no"), "press_again"),  # the answer stored: it was saved
        (Press("danger", "patient"), "press_answered"),  # another answer: changed nothing
        (Press("danger_now", "acted"), "stale_button"),  # a branch not taken
        (Press("description", "skip"), "press_answered"),
        (Press("review", "submit"), "stale_button"),
    ],
)
def test_a_press_on_another_question_says_what_became_of_it(press: Press, key: str) -> None:
    assert pressed_again(DIALOGUE.steps, AFTER_STARTED, press) == key
    outcome = send(AFTER_STARTED, press)
    assert outcome.stale and note(outcome) == SAY(key)
    assert outcome.replies[-1].step == "frequency"
    assert outcome.conversation == replace(AFTER_STARTED, updated_at=SOON)


def test_presses_on_ticks_and_answers_already_passed() -> None:
    ticked = at("likelihood", ("danger", "danger_now", "topics", "controls", "controls_detail"),
                danger="patient", danger_now="acted", topics=["supervision"], controls=["none"],
                controls_detail=None)  # fmt: skip
    steps = DIALOGUE.steps
    assert pressed_again(steps, ticked, Press("topics", "done")) == "press_again"
    assert pressed_again(steps, ticked, Press("topics", "induction")) == "press_answered"
    assert pressed_again(steps, ticked, Press("danger_now", "acted")) == "press_again"
    assert pressed_again(steps, ticked, Press("danger_now", "not_yet")) == "press_answered"
    assert pressed_again(steps, ticked, Press("controls_detail", "skip")) == "press_again"
    assert pressed_again(steps, ticked, Press("told", "done")) == "stale_button"
    assert pressed_again(steps, ticked, Press("nonsense", "x")) == "stale_button"


def test_the_reviews_change_pressed_twice_was_taken() -> None:
    # Changing the "Where" section: its question is being asked again.
    changing = replace(AFTER_STARTED, state="organisation", editing=True, trail=("review",))
    steps = DIALOGUE.steps
    assert pressed_again(steps, changing, Press("review", "edit:where")) == "press_again"
    assert pressed_again(steps, changing, Press("review", "edit:about")) == "stale_button"
    assert pressed_again(steps, AFTER_STARTED, Press("review", "edit:what")) == "stale_button"


def test_the_notes_fit_in_a_button_answer() -> None:
    # Telegram shows at most 200 characters when it answers a press.
    for key in ("press_again", "press_answered", "stale_button"):
        assert len(SAY(key)) <= 190
