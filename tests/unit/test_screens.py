"""Every screen a learner meets is short: at most 600 characters (but the review and the
advice), at most 8 buttons, and no button longer than fits on a phone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.channels.console import render
from bot.channels.telegram_render import render as telegram
from dialogues.bundle import load_content
from dialogues.catalogue import MAX_BUTTON_LENGTH
from dialogues.engine import Dialogue
from dialogues.journeys import JOURNEYS
from dialogues.records import Answer, Conversation
from dialogues.turns import Text

CONTENT = load_content()
DIALOGUE = Dialogue(CONTENT)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LONGEST = 600
MOST_BUTTONS = 8
# A story that answers nearly everything: the longest check screen a learner plausibly sees.
RICH_STORY = (
    "Im a 2nd year student nurse at UEA, on placement at the Norfolk and Norwich on a surgical "
    "ward. Since I started I have been left on my own every night shift with no practice "
    "supervisor, I have had no induction, and the nurse in charge shouts at us in front of "
    "patients. Me and 3 other students are affected. I told my practice assessor and the ward "
    "manager two weeks ago and heard nothing back. Its not safe for patients and im worried it "
    "will affect my sign off."
)
GROUPS = [g.key for g in CONTENT.catalogue.pathways.groups]
# Words full of details that could identify someone: the longest check before sending.
DETAILED = " ".join(
    f"On {n + 1}st March the registrar, {name} Baxter-Reid, rang 0{7700 + n} 900{461 + n}."
    for n, name in enumerate(["Joanna", "Christopher", "Alexandra", "Maximilian"])
)


def _checked(story: str) -> Conversation:
    outcome = DIALOGUE.begin("k", "o", "concern", NOW)
    for text in ("3", story):
        assert outcome.conversation is not None
        outcome = DIALOGUE.handle(outcome.conversation, Text(text), NOW, lambda: "QC-1")
    assert outcome.conversation is not None and outcome.conversation.state == "story_check"
    return outcome.conversation


def _everything(group: str) -> dict[str, Answer]:
    """Answers that make each step offer its most and longest options."""
    return {
        "danger": "no", "group": group, "organisation": "other", "university": "uea",
        "description": RICH_STORY, "topics": ["supervision", "bullying_harassment"],
        "standards": ["1.2", "2.4", "3.3", "5.2", "5.3"], "domain": "1",
        "controls": ["other"], "told": ["practice_supervisor"], "identity": "named",
        "likelihood": "4", "impact": "4",
    }  # fmt: skip


def screens() -> list[tuple[str, str, Conversation]]:
    """Every question of both journeys, for every learner group, as it is asked."""
    found = []
    checked = _checked(RICH_STORY)
    for journey in JOURNEYS.values():
        for group in GROUPS:
            answers = {**_everything(group), **checked.answers}
            for step in journey.questions:
                if step == "review":
                    continue
                conversation = Conversation(
                    key="k", owner="o", journey=journey.name, state=step, answers=answers
                )
                if step == "privacy_check":  # shown only when the words hold details
                    conversation = conversation.with_answer("description", DETAILED)
                    conversation = conversation.with_answer("identity", "anonymous")
                found.append((journey.name, step, conversation))
                if step == "danger_now":  # the learner at risk has words of their own
                    at_risk = conversation.with_answer("danger", "learner")
                    found.append((journey.name, step, at_risk))
                # Asked again from the review: with a Keep button where the step offers one.
                found.append((journey.name, step, replace(conversation, editing=True)))
    return found


SCREENS = screens()


def test_the_rich_story_is_read_into_many_proposals() -> None:
    proposed = _checked(RICH_STORY).answer_list("story_proposals")
    fields = {p.split("=")[0] for p in proposed}
    assert len(proposed) >= 9 and len(fields) >= 7, proposed


@pytest.mark.parametrize("step", sorted({step for _, step, _ in SCREENS}))
def test_no_question_is_longer_than_600_characters(step: str) -> None:
    for _, _, conversation in (s for s in SCREENS if s[1] == step):
        reply = DIALOGUE.question(conversation)
        shown = render(reply, CONTENT.prompts)
        assert len(shown) <= LONGEST, f"{step}: {len(shown)} characters\n{shown}"
        for message in telegram(reply):
            assert len(message.html) <= LONGEST + 100  # escaping adds a little


@pytest.mark.parametrize("step", sorted({step for _, step, _ in SCREENS}))
def test_no_keyboard_has_more_than_8_buttons_or_a_button_too_long(step: str) -> None:
    for _, _, conversation in (s for s in SCREENS if s[1] == step):
        options = DIALOGUE.question(conversation).options
        assert len(options) <= MOST_BUTTONS, f"{step}: {[o.label for o in options]}"
        for option in options:
            assert len(option.label) <= MAX_BUTTON_LENGTH, f"{step}: {option.label!r}"


def test_choices_offered_to_typing_fit_a_button_too() -> None:
    """A "which of these?" list shows them as buttons."""
    for _, step, conversation in SCREENS:
        for option in DIALOGUE.steps.typed_options(step, conversation):
            assert len(option.label) <= MAX_BUTTON_LENGTH, f"{step}: {option.label!r}"


def test_the_review_has_one_change_button_per_section_and_submit_first() -> None:
    conversation = Conversation(
        key="k",
        owner="o",
        journey="concern",
        state="review",
        answers=_everything("nursing_students"),
    )
    options = DIALOGUE.question(conversation).options
    assert options[0].label == "Submit" and len(options) <= MOST_BUTTONS
