"""The check of the learner's words before sending, turn by turn through the engine: what is
found is shown, and nothing is filed until the learner has replaced, kept or changed it."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.console import render
from dialogues.identifying import apply_replacements, find_identifying
from dialogues.journeys import PRIVACY_CHECK
from dialogues.records import Conversation
from dialogues.turns import Command, Outcome, Press, Text
from unit.test_engine import DIALOGUE, TO_REVIEW, run, send

RULES = DIALOGUE.content.identifying
WORDS = RULES.words
NAMED = "Nobody supervises us on the night shift at all. The consultant John Smith never answers."
CLEAN = "Nobody supervises us on the night shift at all, and nobody answers the phone."
# TO_REVIEW, answered with the learner's own words in place of its story.
STORY_AT = 1
IDENTITY_AT = len(TO_REVIEW) - 1


def to_review(description: str = NAMED, identity: str = "anonymous") -> Conversation:
    inputs = list(TO_REVIEW)
    inputs[STORY_AT], inputs[IDENTITY_AT] = description, identity
    if identity != "anonymous":
        inputs.append("Sam Patel, sam.patel@nhs.net")
    outcome = run(*inputs)
    assert outcome.conversation is not None and outcome.conversation.state == "review"
    return outcome.conversation


def at_check(description: str = NAMED, identity: str = "anonymous") -> Outcome:
    outcome = send(to_review(description, identity), Press("review", "submit"))
    assert outcome.conversation is not None and outcome.conversation.state == PRIVACY_CHECK
    assert outcome.concern is None  # nothing is filed before the learner decides
    return outcome


def conversation(outcome: Outcome) -> Conversation:
    assert outcome.conversation is not None
    return outcome.conversation


def test_what_is_found_is_quoted_with_the_words_that_would_replace_it_and_three_buttons() -> None:
    [check] = at_check().replies
    assert check.step == PRIVACY_CHECK
    assert '• a name: "The consultant John Smith" → [a consultant]' in check.text
    assert check.text.startswith(WORDS.heading.format(count=1))
    assert [(o.key, o.label) for o in check.options] == [
        ("replace", WORDS.replace),
        ("keep", WORDS.keep),
        ("change", WORDS.change),
    ]
    assert "I can miss things" in check.text  # the check does not promise more than it does


def test_replacing_files_the_neutral_words_and_not_the_name() -> None:
    filed = send(conversation(at_check()), Press(PRIVACY_CHECK, "replace"))
    assert filed.concern is not None
    assert filed.concern.description == (
        "Nobody supervises us on the night shift at all. [a consultant] never answers."
    )
    assert "John Smith" not in filed.concern.description
    assert conversation(filed).state == "submitted"
    assert dict(conversation(filed).answers) == {"reference": "QC-2345-6789"}
    assert "Your reference is QC-2345-6789" in filed.replies[0].text


def test_keeping_files_the_words_as_typed() -> None:
    filed = send(conversation(at_check()), Text("keep them"))
    assert filed.concern is not None and filed.concern.description == NAMED


def test_changing_asks_the_words_again_then_the_review_where_submit_checks_again() -> None:
    asked = send(conversation(at_check()), Press(PRIVACY_CHECK, "change"))
    assert conversation(asked).state == "description" and asked.concern is None
    [question] = asked.replies
    assert question.text.startswith(f"Your answer was: {NAMED}")
    assert "keep" in [o.key for o in question.options]  # as any answer asked again
    # Still a name: the review, then Submit checks again and shows it.
    still = send(conversation(asked), Text("Nobody supervises us at night, ask Dr Patel."))
    assert conversation(still).state == "review" and still.concern is None
    again = send(conversation(still), Press("review", "submit"))
    assert conversation(again).state == PRIVACY_CHECK and again.concern is None
    assert '"Dr Patel" → [a doctor]' in again.replies[0].text
    assert "John Smith" not in again.replies[0].text
    # Changed again, without a name: Submit files it at once.
    asked = send(conversation(again), Text("3"))
    clean = send(conversation(asked), Text(CLEAN))
    assert conversation(clean).state == "review"
    filed = send(conversation(clean), Text("submit"))
    assert filed.concern is not None and filed.concern.description == CLEAN


def test_back_from_the_check_or_from_changing_the_words_returns_to_the_review() -> None:
    check = at_check()
    back = send(conversation(check), Command("back"))
    assert conversation(back).state == "review" and back.concern is None
    asked = send(conversation(check), Press(PRIVACY_CHECK, "change"))
    back = send(conversation(asked), Command("back"))
    assert conversation(back).state == "review"
    assert conversation(back).answers["description"] == NAMED


def test_after_changing_the_words_a_change_from_the_review_asks_its_whole_section() -> None:
    asked = send(conversation(at_check()), Press(PRIVACY_CHECK, "change"))
    review = send(conversation(asked), Text(CLEAN))
    assert conversation(review).state == "review"
    editing = send(conversation(review), Press("review", "edit:what"))
    assert conversation(editing).state == "description"
    onward = send(conversation(editing), Text("keep"))
    assert conversation(onward).state == "topics"  # the section goes on, as any edit does
    assert PRIVACY_CHECK not in conversation(onward).answers


def test_an_anonymous_learner_is_told_plainly_what_could_show_who_they_are() -> None:
    [anonymous] = at_check(identity="anonymous").replies
    assert WORDS.anonymous in anonymous.text
    [confidential] = at_check(identity="confidential").replies
    assert WORDS.anonymous not in confidential.text
    assert '"The consultant John Smith"' in confidential.text


def test_nothing_found_files_at_once_with_no_extra_step_or_screen() -> None:
    filed = send(to_review(CLEAN), Press("review", "submit"))
    assert filed.concern is not None and filed.concern.description == CLEAN
    assert all(reply.step is None for reply in filed.replies)  # no question: nothing to answer
    assert conversation(filed).state == "submitted"


def test_the_learner_s_own_name_and_contact_are_not_checked() -> None:
    filed = send(to_review(CLEAN, identity="confidential"), Text("submit"))
    assert filed.concern is not None
    assert filed.concern.reporter_name == "Sam Patel"
    assert filed.concern.reporter_contact == "sam.patel@nhs.net"


def test_details_in_other_answers_are_asked_in_turn_passing_over_the_clean_ones() -> None:
    review = to_review(CLEAN).with_answer("controls", ["senior_cover", "other"])
    review = review.with_answer("controls_detail", "Dr Okafor is on call by phone")
    review = review.with_answer("actions", "Email me at sam.patel@nhs.net")
    check = send(review, Text("submit"))
    assert conversation(check).state == PRIVACY_CHECK
    assert check.replies[0].text.startswith(WORDS.heading.format(count=2))
    asked = send(conversation(check), Text("change"))
    assert conversation(asked).state == "controls_detail"  # the story is clean: not asked
    asked = send(conversation(asked), Text("A registrar is on call by phone"))
    assert conversation(asked).state == "actions"
    review_again = send(conversation(asked), Text("A named supervisor on nights"))
    assert conversation(review_again).state == "review"
    filed = send(conversation(review_again), Text("submit"))
    assert filed.concern is not None
    assert filed.concern.controls_detail == "A registrar is on call by phone"
    assert filed.concern.further_actions == "A named supervisor on nights"


def test_replacing_puts_neutral_words_in_every_answer_checked() -> None:
    review = to_review(NAMED).with_answer("actions", "Ring me on 07700 900461")
    filed = send(conversation(send(review, Text("submit"))), Text("1"))
    assert filed.concern is not None
    assert filed.concern.further_actions == "Ring me on [a phone number]"
    assert "John Smith" not in filed.concern.description


def test_submit_pressed_twice_is_already_taken_and_a_check_button_after_filing_files_nothing() -> (
    None
):
    check = at_check()
    twice = send(conversation(check), Press("review", "submit"))
    assert twice.stale and twice.concern is None
    assert twice.replies[-1].text.startswith(DIALOGUE.prompts.say("press_again"))
    assert twice.replies[-1].step == PRIVACY_CHECK
    filed = send(conversation(check), Press(PRIVACY_CHECK, "keep"))
    late = send(conversation(filed), Press(PRIVACY_CHECK, "replace"))
    assert late.concern is None and conversation(late).state == "submitted"


def test_a_text_full_of_details_fits_a_phone_screen_and_counts_what_it_cannot_list() -> None:
    many = " ".join(
        f"Dr {name} rang 0{7700 + n} 900{461 + n} on {n + 1}st March."
        for n, name in enumerate(["Patel", "Okafor", "Jones", "Hughes", "Smith", "Baxter"])
    )
    review = to_review(CLEAN).with_answer("description", many)
    [check] = send(review, Text("submit")).replies
    shown = render(check, DIALOGUE.prompts)
    assert len(shown) <= 600 and len(check.options) <= 8
    found = len(find_identifying(many, RULES))
    listed = check.text.count("\n• ") - check.text.count("• and ")
    assert 0 < listed < found
    assert WORDS.more.format(count=found - listed) in check.text


NAMES = ("Dr Patel", "Sister O'Brien", "the registrar, Tom Hughes,", "jo.bloggs@nhs.net")


@settings(max_examples=60, deadline=None)
@given(
    before=st.sampled_from(["Nobody teaches us.", "I was left alone on nights.", ""]),
    name=st.sampled_from(NAMES),
    after=st.sampled_from(["said nothing.", "knows about it.", "was there."]),
    decision=st.sampled_from(["replace", "keep"]),
)
def test_what_is_filed_is_what_the_learner_chose(
    before: str, name: str, after: str, decision: str
) -> None:
    story = f"{before} {name} {after}".strip()
    check = send(to_review(CLEAN).with_answer("description", story), Text("submit"))
    assert check.concern is None  # every one of these names is caught
    filed = send(conversation(check), Press(PRIVACY_CHECK, decision))
    assert filed.concern is not None
    expected = (
        story if decision == "keep" else apply_replacements(story, find_identifying(story, RULES))
    )
    assert filed.concern.description == expected
    if decision == "replace":
        assert find_identifying(filed.concern.description, RULES) == ()


def test_a_paused_check_is_shown_again_on_resume() -> None:
    paused = send(conversation(at_check()), Command("pause"))
    resumed = send(replace(conversation(paused)), Command("resume"))
    assert resumed.replies[-1].step == PRIVACY_CHECK
    assert "John Smith" in resumed.replies[-1].text
