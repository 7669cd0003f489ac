"""The dialogue engine, turn by turn: buttons, ticks, interruptions, filing and privacy."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.filing import REFERENCE_ALPHABET, make_reference, read_reference
from dialogues.records import Advice, Conversation
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


STORY = "Nobody supervises us on the night shift at all."  # nothing the reader can tell
TO_TOPICS = ("3", STORY, "1", "Addenbrookes")
TO_REVIEW = (
    *TO_TOPICS,
    "1", "done",  # topics: tick supervision, then Done
    "done",  # standards: keep the suggestions
    "1", "3", "1", "2",  # started, how often, learners affected, patients
    "2", "done",  # what is being done: a senior I can call on
    "4", "3",  # likelihood, impact
    "7", "done",  # told: nobody yet
    "1", "done", "3", "anonymous",  # barriers: none; send to the team, identity
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


def test_more_topics_are_on_a_second_page_that_adds_to_the_first() -> None:
    outcome = run(*TO_TOPICS, "1", Press("topics", "more"), Press("topics_more", "wellbeing"))
    assert outcome.conversation is not None and outcome.conversation.state == "topics_more"
    assert outcome.conversation.answers["topics"] == ["supervision", "wellbeing"]
    done = send(outcome.conversation, Text("done"))
    assert done.conversation is not None and done.conversation.state == "standards"


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
    outcome = run("3", STORY)
    assert outcome.conversation is not None
    stale = send(outcome.conversation, Press("danger", "patient"))
    assert stale.conversation == replace(outcome.conversation, updated_at=NOW)
    assert stale.replies[-1].step == "group"


def test_submitting_files_the_concern_and_keeps_only_the_reference() -> None:
    outcome = run(*TO_REVIEW, "submit")
    concern = outcome.concern
    assert concern is not None
    assert (concern.likelihood, concern.impact, concern.score, concern.band) == (4, 3, 12, "high")
    assert concern.reference == "QC-2345-6789"
    assert concern.identity == "anonymous" and concern.reporter_name is None
    assert concern.description == STORY
    assert concern.organisation == "cambridge_university_hospitals"
    assert concern.site == "Addenbrookes"  # what the learner typed, kept as the site
    assert concern.advice.team_would_expect and concern.advice.level == 1
    assert outcome.conversation is not None
    assert outcome.conversation.state == "submitted"
    assert dict(outcome.conversation.answers) == {"reference": "QC-2345-6789"}
    assert "QC-2345-6789" in outcome.replies[0].text


NURSE = (
    "im a 2nd yr student nurse at the QEH. left on my own every night shift. told the ward "
    "manager 2 weeks ago and heard nothing back"
)


def test_what_the_story_says_is_shown_with_reasons_and_passed_over_once_confirmed() -> None:
    check = run("3", NURSE)
    assert check.conversation is not None and check.conversation.state == "story_check"
    text = check.replies[-1].text
    assert "• What it is about: Supervision ('left on my own')" in text
    assert "• About you: Nursing student" in text and "• Where: QEH King's Lynn ('QEH')" in text
    assert (
        "• Who knows: Ward or placement manager ('told the ward manager'); "
        "No answer in reasonable time ('nothing back')"
    ) in text
    assert [o.label for o in check.replies[-1].options] == [
        "Yes, that's right",
        "Some of it is wrong",
    ]
    assert "group" not in check.conversation.answers  # nothing is an answer until checked
    confirmed = send(check.conversation, Text("yes"))
    assert confirmed.conversation is not None
    answers = confirmed.conversation.answers
    assert answers["group"] == "nursing_students" and answers["told"] == ["placement_manager"]
    assert answers["told_outcome"] == "no_answer" and answers["frequency"] == "constant"
    assert answers["standards"] == ["1.1", "3.1"]  # the topics' standards
    # Only what the story did not say is asked: the university, then when it started.
    assert confirmed.conversation.state == "university"
    started = send(confirmed.conversation, Text("uea"))
    assert started.conversation is not None and started.conversation.state == "started"


def test_parts_marked_wrong_are_asked_and_the_rest_kept() -> None:
    outcome = run("3", NURSE, "some of it is wrong")
    assert outcome.conversation is not None and outcome.conversation.state == "story_wrong"
    labels = [o.label for o in outcome.replies[-1].options]
    assert labels == [
        "About you",
        "Where",
        "What it is about",
        "When and how often",
        "Who knows",
        "Done",
    ]
    outcome = send(outcome.conversation, Press("story_wrong", "told"))
    outcome = send(outcome.conversation, Press("story_wrong", "done"))  # type: ignore[arg-type]
    assert outcome.conversation is not None
    answers = outcome.conversation.answers
    assert "told" not in answers and "told_outcome" not in answers
    assert answers["group"] == "nursing_students" and "told" not in answers["from_story"]
    walk = run(
        "3", NURSE, "wrong", "who knows", "done", "uea", "2", "1", "2", "none", "done", "4", "3"
    )
    assert walk.conversation is not None and walk.conversation.state == "told"  # asked after all


def test_a_story_told_again_replaces_what_the_first_one_said() -> None:
    outcome = run("3", NURSE, "yes", Command("back"), Command("back"))
    assert outcome.conversation is not None and outcome.conversation.state == "description"
    retold = send(outcome.conversation, Text("FY2 here, my consultant shouts at me most days."))
    assert retold.conversation is not None and retold.conversation.state == "story_check"
    answers = retold.conversation.answers
    assert "told" not in answers and "group" not in answers and "from_story" not in answers
    assert "Resident doctor" in retold.replies[-1].text


def test_the_rating_comes_with_the_next_question() -> None:
    outcome = run(*TO_REVIEW[:-6])
    assert outcome.conversation is not None and outcome.conversation.state == "told"
    (reply,) = outcome.replies
    assert reply.text.startswith("Your rating: Likely \u00d7 Moderate = 12 of 25, 🟧 High.")
    assert "Who have you raised it with" in reply.text


def test_what_the_levels_mean_is_shown_on_request() -> None:
    outcome = run(*TO_REVIEW[:-8], "What do these mean?")
    assert outcome.conversation is not None and outcome.conversation.state == "likelihood"
    explained, question = outcome.replies
    assert "• Rare: Not expected to happen or recur" in explained.text
    assert [o.label for o in question.options][:2] == ["Rare", "Unlikely"]


def test_a_typed_place_with_a_ward_finds_the_hospital_and_keeps_the_ward_as_the_site() -> None:
    outcome = run("3", STORY, "1", "Ipswich hospital, ward 12")
    assert outcome.conversation is not None and outcome.conversation.state == "topics"
    assert outcome.conversation.answers["organisation"] == "east_suffolk_north_essex"
    assert outcome.conversation.answers["site"] == "Ipswich hospital, ward 12"
    unknown = run("3", STORY, "1", "the moon")
    assert unknown.conversation is not None and unknown.conversation.state == "organisation"
    assert "could not find" in unknown.replies[0].text


def test_name_and_contact_are_one_answer() -> None:
    outcome = run(*TO_REVIEW[:-1], "confidential", "Dr Sam Example")
    assert outcome.conversation is not None and outcome.conversation.state == "name"
    assert "email address or a phone number" in outcome.replies[0].text
    done = send(outcome.conversation, Text("Dr Sam Example, sam@nhs.net"))
    assert done.conversation is not None and done.conversation.state == "review"
    assert done.conversation.answers["name"] == "Dr Sam Example"
    assert done.conversation.answers["contact"] == "sam@nhs.net"


def test_the_review_is_sections_with_one_change_each_and_submit_first() -> None:
    outcome = run(*TO_REVIEW)
    review = outcome.replies[-1]
    labels = [o.label for o in review.options]
    assert labels == [
        "Submit", "Change: About you", "Change: Where", "Change: What happened",
        "Change: Risk", "Change: Who knows", "Change: Sending and privacy",
    ]  # fmt: skip
    assert "• Standards: 1.1 Safe, effective care; 3.1 Support and supervision" in review.text
    assert outcome.conversation is not None
    # A section's Change asks its questions again, each with a way to keep the answer.
    what = send(outcome.conversation, Text("Change: What happened"))
    assert what.conversation is not None and what.conversation.state == "description"
    assert "Keep it as it is" in [o.label for o in what.replies[-1].options]
    steps = []
    conversation = what.conversation
    for typed in ("keep", "done", "done", "2", "3", "1"):
        reply = send(conversation, Text(typed))
        assert reply.conversation is not None
        conversation = reply.conversation
        steps.append(conversation.state)
    assert steps == ["topics", "standards", "started", "frequency", "affected", "review"]
    assert conversation.answers["started"] == "this_month"
    assert conversation.answers["description"] == STORY


def test_an_answer_typed_into_a_paused_conversation_is_taken() -> None:
    outcome = run("3", Command("pause"))
    assert outcome.conversation is not None and outcome.conversation.paused
    description = "Days later: nobody supervises us on the night shift at all."
    resumed = send(outcome.conversation, Text(description))
    assert resumed.conversation is not None and not resumed.conversation.paused
    assert resumed.conversation.answers["description"] == description
    assert resumed.conversation.state == "group"


def test_input_that_does_not_fit_a_paused_conversation_shows_where_it_was() -> None:
    outcome = run("3", STORY, Command("pause"))
    assert outcome.conversation is not None
    resumed = send(outcome.conversation, Text("hello again"))
    assert resumed.conversation is not None and not resumed.conversation.paused
    assert "group" not in resumed.conversation.answers
    assert "Welcome back. Answers so far: 2." in resumed.replies[-1].text
    assert resumed.replies[-1].step == "group"


def test_a_bare_slash_is_an_unknown_command_not_a_crash() -> None:
    for text in ("/", "//", "  /  "):
        outcome = run("3", text)
        assert outcome.conversation is not None and outcome.conversation.state == "description"
        assert "I don't know the command" in outcome.replies[0].text


def test_submit_after_an_unfinished_edit_asks_for_what_is_missing() -> None:
    outcome = run(*TO_REVIEW, "Change: Who knows", "1", "done", Command("back"))
    assert outcome.conversation is not None and outcome.conversation.state == "review"
    assert "told_outcome" not in outcome.conversation.answers
    asked = send(outcome.conversation, Text("submit"))
    assert asked.concern is None
    assert asked.conversation is not None and asked.conversation.state == "told_outcome"
    assert "still needed" in asked.replies[0].text
    barrier = send(asked.conversation, Text("3"))
    assert barrier.conversation is not None and barrier.conversation.state == "barrier"
    back_to_review = send(barrier.conversation, Text("done"))  # "none" is still ticked
    assert back_to_review.conversation is not None
    assert back_to_review.conversation.state == "review"
    filed = send(back_to_review.conversation, Text("submit"))
    assert filed.concern is not None and filed.concern.told_outcome == "unresolved"
    assert filed.concern.advice.level == 2


def test_typing_the_number_of_skip_skips() -> None:
    outcome = run(*TO_REVIEW[:-10], "6", "done")  # what is being done: something else
    assert outcome.conversation is not None and outcome.conversation.state == "controls_detail"
    skipped = send(outcome.conversation, Text("1"))
    assert skipped.conversation is not None
    assert skipped.conversation.answers["controls_detail"] is None
    assert skipped.conversation.state == "likelihood"


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
    assert outcome.conversation is not None and outcome.conversation.state == "started"
    question = DIALOGUE.question(replace(stale, state="review"))
    assert question.step == "review"


def test_new_while_in_progress_asks_before_discarding() -> None:
    outcome = run("3", STORY, "1", Command("new"))
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


@pytest.mark.parametrize("word", ["pause", "Pause", "PAUSE.", "/pause", " pause! "])
def test_a_bare_command_word_is_the_command_at_every_step(word: str) -> None:
    on_choice = run("3", "back")
    assert on_choice.conversation is not None and on_choice.conversation.state == "danger"
    on_text = run("3", word)  # the story: free text
    assert on_text.conversation is not None
    assert "description" not in on_text.conversation.answers and on_text.conversation.paused
    back = run("3", "Back.")
    assert back.conversation is not None and back.conversation.state == "danger"
    assert "description" not in back.conversation.answers
    in_a_sentence = run("3", "back office staff never let students in to the teaching")
    assert in_a_sentence.conversation is not None
    assert in_a_sentence.conversation.answers["description"].startswith("back office")


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


def pathway(*inputs: str) -> Outcome:
    outcome = DIALOGUE.begin("chat/pathway", "chat", "pathway", NOW)
    for text in inputs:
        assert outcome.conversation is not None
        outcome = send(outcome.conversation, Text(text))
    return outcome


# Nobody at risk now, a resident doctor, likelihood and impact, then whom they told.
PATHWAY_TOLD_SUPERVISOR = ("1", "done", "3", "1", "done")  # the supervisor; unresolved; no barrier


def test_pathway_journey_gives_advice_and_leaves_no_conversation() -> None:
    outcome = pathway("3", "1", "2", "2", *PATHWAY_TOLD_SUPERVISOR)
    assert outcome.conversation is None  # deleted: nothing of it is kept
    assert "Pathway 2" in outcome.replies[0].text  # raised at level 1, unresolved: move up
    advice = outcome.replies[0].text
    assert "Quality team now" not in advice and "would expect" not in advice  # 4 of 25: low
    assert "deleted" in outcome.replies[-1].text and outcome.concern is None


def test_the_pathway_question_asks_how_likely_then_how_serious_and_shows_the_score() -> None:
    asked = pathway("3", "1")
    assert asked.replies[-1].step == "likelihood"
    serious = pathway("3", "1", "4")
    assert serious.replies[-1].step == "impact"
    told = pathway("3", "1", "4", "4")
    assert told.replies[-1].step == "told"
    assert "16 of 25" in told.replies[-1].text and "Extreme" in told.replies[-1].text


@pytest.mark.parametrize(
    ("likelihood", "impact", "alert_now", "team_expects"),
    [
        ("4", "4", True, False),
        ("5", "5", True, False),
        ("3", "3", False, True),
        ("1", "2", False, False),
    ],
)
def test_the_pathway_question_applies_the_risk_overlay(
    likelihood: str, impact: str, alert_now: bool, team_expects: bool
) -> None:
    advice = pathway("3", "1", likelihood, impact, *PATHWAY_TOLD_SUPERVISOR).replies[0].text
    email = DIALOGUE.content.catalogue.pathways.quality_team_email
    assert ("alert the Quality team now" in advice) is alert_now
    assert ("would expect to hear of it" in advice) is team_expects
    assert (email in advice) is (alert_now or team_expects)


def test_references_are_unambiguous() -> None:
    rng = random.Random(1)
    references = {make_reference(rng.randrange) for _ in range(2000)}
    assert len(references) == 2000
    for reference in references:
        prefix, a, b = reference.split("-")
        assert prefix == "QC" and len(a) == len(b) == 4
        assert set(a + b) <= set(REFERENCE_ALPHABET)
        assert not set(a + b) & set("01OILUV")
    assert read_reference(" qc 7kmx 3rta ") == "QC-7KMX-3RTA"
    assert read_reference("7kmx-3rta") == read_reference("QC\u20137KMX\u20133RTA") == "QC-7KMX-3RTA"
    assert read_reference("QCAB-2345") == "QC-QCAB-2345"  # eight characters: no prefix to drop
    # Not a reference's shape: None, never a garbled "QC-NOPE-" to look up and name.
    for typed in ("QC-NOPE", "nope", "", "QC-7KMX-3RTA-X", "QC-7KMX-3RT", "QC-\uff17KMX-3RTA"):
        assert read_reference(typed) is None


@pytest.mark.parametrize("step", ["danger", "group", "topics", "likelihood", "review"])
def test_every_question_carries_its_step_and_options(step: str) -> None:
    conversation = Conversation(
        key="k", owner="o", journey="concern", state=step, answers={"danger": "no"}
    )
    reply = DIALOGUE.question(conversation)
    assert reply.step == step and reply.options


@pytest.mark.parametrize("level", [1, 2, 3])
def test_advice_for_an_allied_health_student_names_only_their_contacts(level: int) -> None:
    advice = Advice(level=level, reasons=("start_1",), incident_reminder=True)
    text = DIALOGUE.wording.advice(advice, "ahp_students", "uea")
    assert "Guardian of Safe Working" not in text and "Medical Education" not in text
    assert "exception reporting" not in text.casefold()
    if level == 1:
        assert "practice educator" in text
    if level == 2:
        assert "Your university: University of East Anglia" in text


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


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_line_at_a_choice_is_not_quoted_back_as_an_answer(empty: str) -> None:
    at_choice = run("3", STORY_FOR_EMPTY)  # the story read: its check is a choice
    assert at_choice.conversation is not None
    state = at_choice.conversation.state
    outcome = send(at_choice.conversation, Text(empty))
    assert outcome.conversation is not None and outcome.conversation.state == state
    assert outcome.replies[0].text.startswith("I did not get an answer there")
    assert 'Sorry, ""' not in outcome.replies[0].text


STORY_FOR_EMPTY = "no supervision on nights on the ward, I am a student nurse"
