"""The dialogue engine, turn by turn: buttons, ticks, interruptions, filing and privacy."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.filing import REFERENCE_ALPHABET, make_reference, normalise_reference
from dialogues.records import Conversation
from dialogues.turns import Command, Event, Outcome, Press, Text

DIALOGUE = Dialogue(load_content())
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def send(conversation: Conversation, event: Event) -> Outcome:
    return DIALOGUE.handle(conversation, event, NOW, lambda: "QC-2345-6789")


def run(*inputs: Event | str) -> Outcome:
    outcome = DIALOGUE.begin("chat/concern", "chat", "concern", NOW)
    for item in inputs:
        assert outcome.conversation is not None
        outcome = send(outcome.conversation, Text(item) if isinstance(item, str) else item)
    return outcome


TO_TOPICS = (
    "3",
    "1",
    "1",
    "skip",
    "skip",
    "Nobody supervises us on the night shift at all.",
    "1",
    "1",
)
TO_REVIEW = (
    *TO_TOPICS,
    "1", "done",  # topics: tick supervision, then Done
    "done",  # standards: keep the suggestions
    "1", "3", "1", "done", "skip", "4", "3", "continue", "skip", "14", "done", "1", "3",
    "anonymous",
)  # fmt: skip


def test_ticks_toggle_and_done_moves_on() -> None:
    outcome = run(
        *TO_TOPICS,
        Press("topics", "supervision"),
        Press("topics", "induction"),
        Press("topics", "supervision"),
    )
    assert outcome.conversation is not None
    assert outcome.conversation.answers["topics"] == ["induction"]
    ticked = [o.key for o in outcome.replies[-1].options if o.selected]
    assert ticked == ["induction"]
    assert outcome.replies[-1].multi
    done = send(outcome.conversation, Press("topics", "done"))
    assert done.conversation is not None and done.conversation.state == "standards"
    assert done.conversation.answers["standards"] == ["3.4", "3.5"]  # induction's standards


def test_browsing_a_domain_adds_standards() -> None:
    outcome = run(
        *TO_TOPICS,
        "1",
        "done",
        Press("standards", "browse"),
        Press("domain", "6"),
        Press("domain_standards", "6.2"),
        Press("domain_standards", "done"),
    )
    assert outcome.conversation is not None
    assert outcome.conversation.state == "standards"
    assert "6.2" in outcome.conversation.answers["standards"]
    assert "3.1" in outcome.conversation.answers["standards"]  # the suggestion is still ticked


def test_a_stale_button_changes_nothing_and_shows_the_question() -> None:
    outcome = run("3", "1")
    assert outcome.conversation is not None
    stale = send(outcome.conversation, Press("danger", "patient"))
    assert stale.conversation == replace(outcome.conversation, updated_at=NOW)
    assert stale.replies[-1].step == "organisation"


def test_submitting_files_the_concern_and_keeps_only_the_reference() -> None:
    outcome = run(*TO_REVIEW, "submit")
    concern = outcome.concern
    assert concern is not None
    assert (concern.likelihood, concern.impact, concern.score, concern.band) == (4, 3, 12, "high")
    assert concern.reference == "QC-2345-6789"
    assert concern.identity == "anonymous" and concern.reporter_name is None
    assert concern.description == "Nobody supervises us on the night shift at all."
    assert concern.advice.team_would_expect and concern.advice.level == 1
    assert outcome.conversation is not None
    assert outcome.conversation.state == "submitted"
    assert dict(outcome.conversation.answers) == {"reference": "QC-2345-6789"}
    assert "QC-2345-6789" in outcome.replies[0].text


def test_an_answer_typed_into_a_paused_conversation_is_taken() -> None:
    outcome = run("3", "1", "1", "skip", "skip", Command("pause"))
    assert outcome.conversation is not None and outcome.conversation.paused
    description = "Days later: nobody supervises us on the night shift at all."
    resumed = send(outcome.conversation, Text(description))
    assert resumed.conversation is not None and not resumed.conversation.paused
    assert resumed.conversation.answers["description"] == description
    assert resumed.conversation.state == "started"


def test_input_that_does_not_fit_a_paused_conversation_shows_where_it_was() -> None:
    outcome = run("3", "1", Command("pause"))
    assert outcome.conversation is not None
    resumed = send(outcome.conversation, Text("hello again"))
    assert resumed.conversation is not None and not resumed.conversation.paused
    assert "organisation" not in resumed.conversation.answers
    assert "Welcome back" in resumed.replies[-1].text
    assert resumed.replies[-1].step == "organisation"


def test_a_bare_slash_is_an_unknown_command_not_a_crash() -> None:
    for text in ("/", "//", "  /  "):
        outcome = run("3", text)
        assert outcome.conversation is not None and outcome.conversation.state == "group"
        assert "I don't know the command" in outcome.replies[0].text


def test_submit_after_an_unfinished_edit_asks_for_what_is_missing() -> None:
    outcome = run(*TO_REVIEW, "Change: Who has been told", "14", "1", "done", Command("back"))
    assert outcome.conversation is not None and outcome.conversation.state == "review"
    assert "told_outcome" not in outcome.conversation.answers
    asked = send(outcome.conversation, Text("submit"))
    assert asked.concern is None
    assert asked.conversation is not None and asked.conversation.state == "told_outcome"
    assert "still needed" in asked.replies[0].text
    back_to_review = send(asked.conversation, Text("3"))
    assert back_to_review.conversation is not None
    assert back_to_review.conversation.state == "review"
    filed = send(back_to_review.conversation, Text("submit"))
    assert filed.concern is not None and filed.concern.told_outcome == "unresolved"
    assert filed.concern.advice.level == 2


def test_typing_the_number_of_skip_skips() -> None:
    outcome = run("3", "1", "1", "1")
    assert outcome.conversation is not None
    assert outcome.conversation.answers["site"] is None
    assert outcome.conversation.state == "programme"


def test_a_saved_conversation_survives_content_that_renamed_its_keys() -> None:
    stale = Conversation(
        key="k",
        owner="o",
        journey="concern",
        state="standards",
        answers={
            "topics": ["a_topic_since_renamed"],
            "standards": ["3.1"],
            "group": "gone_group",
            "told": ["gone_role"],
            "description": "Nobody supervises us on the night shift at all.",
        },
    )
    outcome = send(stale, Press("standards", "done"))
    assert outcome.conversation is not None and outcome.conversation.state == "affected"
    question = DIALOGUE.question(replace(stale, state="review"))
    assert question.step == "review"


def test_new_while_in_progress_asks_before_discarding() -> None:
    outcome = run("3", "1", Command("new"))
    assert outcome.conversation is not None and outcome.conversation.interrupt is not None
    kept = send(outcome.conversation, Text("no"))
    assert (
        kept.conversation is not None and kept.conversation.answers["group"] == "resident_doctors"
    )
    again = send(kept.conversation, Command("new"))
    assert again.conversation is not None
    fresh = send(again.conversation, Press(again.conversation.interrupt or "", "yes"))
    assert fresh.conversation is not None
    assert dict(fresh.conversation.answers) == {} and fresh.conversation.state == "danger"


def test_cancel_confirmed_deletes() -> None:
    outcome = run("3", Command("cancel"), "yes")
    assert outcome.conversation is None


def test_bare_command_words_work_on_choice_steps_but_are_text_on_text_steps() -> None:
    on_choice = run("3", "back")
    assert on_choice.conversation is not None and on_choice.conversation.state == "danger"
    on_text = run("3", "1", "1", "pause")
    assert on_text.conversation is not None
    assert on_text.conversation.answers["site"] == "pause" and not on_text.conversation.paused


def test_telegram_style_commands_in_text() -> None:
    outcome = run("3", "/back@concernbot")
    assert outcome.conversation is not None and outcome.conversation.state == "danger"


def test_back_at_the_first_question_says_so() -> None:
    outcome = run(Command("back"))
    assert outcome.conversation is not None and outcome.conversation.state == "danger"
    assert "first question" in outcome.replies[0].text


def test_finished_conversation_answers_with_its_reference() -> None:
    outcome = run(*TO_REVIEW, "submit", "anything")
    assert "QC-2345-6789" in outcome.replies[0].text and outcome.concern is None


def test_pathway_journey_gives_advice_and_keeps_nothing() -> None:
    outcome = DIALOGUE.begin("chat/pathway", "chat", "pathway", NOW)
    for text in ("3", "1", "1", "done", "3", "1"):
        assert outcome.conversation is not None
        outcome = send(outcome.conversation, Text(text))
    assert outcome.conversation is not None and outcome.conversation.state == "answered"
    assert dict(outcome.conversation.answers) == {}
    assert "Pathway 2" in outcome.replies[0].text  # raised at level 1, unresolved: move up


def test_references_are_unambiguous() -> None:
    rng = random.Random(1)
    references = {make_reference(rng.randrange) for _ in range(2000)}
    assert len(references) == 2000
    for reference in references:
        prefix, a, b = reference.split("-")
        assert prefix == "QC" and len(a) == len(b) == 4
        assert set(a + b) <= set(REFERENCE_ALPHABET)
        assert not set(a + b) & set("01OILUV")
    assert normalise_reference(" qc 7kmx 3rta ") == "QC-7KMX-3RTA"


@pytest.mark.parametrize("step", ["danger", "group", "topics", "likelihood", "review"])
def test_every_question_carries_its_step_and_options(step: str) -> None:
    conversation = Conversation(
        key="k", owner="o", journey="concern", state=step, answers={"danger": "no"}
    )
    reply = DIALOGUE.question(conversation)
    assert reply.step == step and reply.options


@pytest.mark.parametrize("text", ["\u00b2", "\u2460", "\u2082", "\u1369", "/\u00b3", "1" * 5000])
def test_digits_int_cannot_read_at_are_you_sure_keep_the_conversation(text: str) -> None:
    outcome = run("3", Command("cancel"), text)
    assert outcome.conversation is not None and outcome.conversation.interrupt is None
    assert outcome.conversation.answers["danger"] == "no"


def test_browse_loops_do_not_grow_the_trail_and_back_still_leads_to_the_start() -> None:
    outcome = run(*TO_TOPICS, "1", "done")
    assert outcome.conversation is not None and outcome.conversation.state == "standards"
    at_standards = outcome.conversation.trail
    conversation = outcome.conversation
    for _ in range(500):
        for event in (
            Press("standards", "browse"),
            Press("domain", "6"),
            Press("domain_standards", "done"),
        ):
            conversation = send(conversation, event).conversation or conversation
    # Back at a step already in the trail: the trail is cut back to where it first was.
    assert conversation.state == "standards" and conversation.trail == at_standards
    back = send(conversation, Command("back")).conversation
    assert back is not None and back.state == "topics"
    presses = 1
    while back.trail:
        back = send(back, Command("back")).conversation
        assert back is not None
        presses += 1
    assert back.state == "danger" and presses == len(at_standards)
