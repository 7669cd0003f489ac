"""Answers that follow from others: each declared dependency, alone and through the engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogues.bundle import load_content
from dialogues.dependents import GIVEN_ON, notes, tidy, value_of
from dialogues.engine import Dialogue
from dialogues.guards import Guards
from dialogues.journeys import CONCERN, FROM_STORY, JOURNEYS, PATHWAY
from dialogues.records import Answer, Conversation
from dialogues.turns import Command, Event, Outcome, Press, Text

DIALOGUE = Dialogue(load_content())
FACTS = DIALOGUE.facts
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def given_then_changed(
    answers: dict[str, Answer], **changes: Answer
) -> tuple[dict[str, Answer], frozenset[str]]:
    """Tidy the answers as given, change some, tidy again: what is left and what went."""
    first = tidy(CONCERN, answers, FACTS).answers
    tidied = tidy(CONCERN, {**first, **changes}, FACTS)
    return tidied.answers, tidied.dropped


def test_every_dependent_names_answers_and_guards_that_exist() -> None:
    for journey in JOURNEYS.values():
        for dependent in journey.dependents:
            assert dependent.on or dependent.guard, dependent
            for guard in (dependent.guard, dependent.fits):
                if guard is not None:
                    assert callable(getattr(Guards({}), guard)), guard


TOLD = {"group": "nursing_students", "told": ["placement_manager"], "told_outcome": "no_answer"}


def test_what_came_of_it_goes_when_whom_they_told_changes() -> None:
    answers, dropped = given_then_changed(TOLD, told=["placement_manager", "university_tutor"])
    assert "told_outcome" not in answers and dropped == {"told_outcome"}
    assert answers["told"] == ["placement_manager", "university_tutor"]


def test_what_came_of_it_stays_when_the_same_people_are_ticked_again_in_another_order() -> None:
    two = {**TOLD, "told": ["placement_manager", "university_tutor"]}
    answers, dropped = given_then_changed(two, told=["university_tutor", "placement_manager"])
    assert answers["told_outcome"] == "no_answer" and not dropped


def test_what_came_of_it_goes_when_nobody_was_told_after_all() -> None:
    answers, dropped = given_then_changed(TOLD, told=["nobody"])
    assert "told_outcome" not in answers and dropped == {"told_outcome"}


NAMED = {"identity": "named", "name": "Sam Patel", "contact": "sam@nhs.net"}


@pytest.mark.parametrize("identity", ["confidential", "anonymous"])
def test_name_and_contact_go_when_the_identity_changes(identity: str) -> None:
    answers, dropped = given_then_changed(NAMED, identity=identity)
    assert dropped == {"name", "contact"} and answers["identity"] == identity


def test_name_and_contact_stay_while_the_identity_does() -> None:
    answers, dropped = given_then_changed(NAMED, identity="named")
    assert answers["name"] == "Sam Patel" and answers["contact"] == "sam@nhs.net"
    assert not dropped


PLACE = {"organisation": "east_suffolk_north_essex", "site": "Ipswich, ward 12"}


def test_the_site_goes_with_the_organisation() -> None:
    answers, dropped = given_then_changed(PLACE, organisation="west_suffolk")
    assert "site" not in answers and dropped == {"site"}


def test_a_site_given_with_a_new_organisation_stays() -> None:
    first = tidy(CONCERN, PLACE, FACTS).answers
    changed = {**first, "organisation": "west_suffolk", "site": "Bury, ward F5"}
    tidied = tidy(CONCERN, changed, FACTS, given=("organisation", "site"))
    assert tidied.answers["site"] == "Bury, ward F5" and not tidied.dropped
    assert notes(tidied.answers)["site", "organisation"] == value_of("west_suffolk")


def test_the_other_organisation_goes_with_the_organisation() -> None:
    other = {"organisation": "other", "organisation_other": "St Elsewhere Hospice"}
    answers, dropped = given_then_changed(other, organisation="west_suffolk")
    assert "organisation_other" not in answers and dropped == {"organisation_other"}
    kept, _ = given_then_changed(other, organisation="other")
    assert kept["organisation_other"] == "St Elsewhere Hospice"


def test_the_university_goes_when_the_group_changes() -> None:
    student = {"group": "nursing_students", "university": "uea"}
    to_other_students, dropped = given_then_changed(student, group="midwifery_students")
    assert "university" not in to_other_students and dropped == {"university"}
    to_doctors, _ = given_then_changed(student, group="resident_doctors")
    assert "university" not in to_doctors


def test_whom_they_told_goes_when_the_new_group_is_never_offered_those_people() -> None:
    doctor: dict[str, Answer] = {"group": "resident_doctors", "told_outcome": "unresolved"}
    doctor["told"] = ["training_programme_director"]
    answers, dropped = given_then_changed(doctor, group="nursing_students")
    assert dropped == {"told", "told_outcome"}  # and what came of it, with it
    assert answers["group"] == "nursing_students"
    fits = {"group": "resident_doctors", "told": ["supervisor"], "told_outcome": "waiting"}
    kept, dropped = given_then_changed(fits, group="dental_trainees")
    assert kept["told"] == ["supervisor"] and kept["told_outcome"] == "waiting" and not dropped


def test_whom_the_confirmed_story_said_they_told_stays_whatever_group_they_give() -> None:
    story: dict[str, Answer] = {"told": ["placement_manager"], "told_outcome": "unresolved"}
    story[FROM_STORY] = ["told", "told_outcome"]
    answers, dropped = given_then_changed(story, group="resident_doctors")  # no ward manager
    assert answers["told"] == ["placement_manager"] and answers["told_outcome"] == "unresolved"
    assert not dropped
    # A group changed afterwards is a change: the new group's list has no ward manager.
    doctor = tidy(CONCERN, {**story, "group": "resident_doctors"}, FACTS).answers
    answers, dropped = given_then_changed(doctor, group="nursing_students")
    assert answers["told"] == ["placement_manager"] and not dropped  # a nurse's list has one
    answers, dropped = given_then_changed(answers, group="medical_students")
    assert dropped == {"told", "told_outcome"}


def test_the_standards_go_when_the_topics_change() -> None:
    chosen = {"topics": ["supervision"], "standards": ["3.1", "1.1"]}
    answers, dropped = given_then_changed(chosen, topics=["supervision", "induction"])
    assert "standards" not in answers and dropped == {"standards"}
    kept, _ = given_then_changed(chosen, topics=["supervision"])
    assert kept["standards"] == ["3.1", "1.1"]


def test_the_detail_of_other_controls_goes_when_the_controls_change() -> None:
    other = {"controls": ["other"], "controls_detail": "a registrar phones in"}
    answers, dropped = given_then_changed(other, controls=["other", "senior_cover"])
    assert dropped == {"controls_detail"} and answers["controls"] == ["other", "senior_cover"]
    unticked, dropped = given_then_changed(other, controls=["none"])
    assert dropped == {"controls_detail"} and "controls_detail" not in unticked
    kept, _ = given_then_changed(other, controls=["other"])
    assert kept["controls_detail"] == "a registrar phones in"


def test_the_parts_marked_wrong_go_when_the_story_check_changes() -> None:
    proposals = ["group=nursing_students", "organisation=queen_elizabeth_kings_lynn"]
    check = {"story_proposals": proposals, "story_check": "some_wrong", "story_wrong": ["where"]}
    answers, dropped = given_then_changed(check, story_check="yes")
    assert "story_wrong" not in answers and dropped == {"story_wrong"}


def test_an_answer_dropped_is_no_longer_marked_as_from_the_story() -> None:
    story = {**TOLD, FROM_STORY: ["group", "told", "told_outcome"]}
    answers, _ = given_then_changed(story, told=["placement_manager", "university_tutor"])
    assert answers[FROM_STORY] == ["group", "told"]


def test_answers_kept_before_any_note_are_taken_as_given_on_what_stands() -> None:
    tidied = tidy(CONCERN, TOLD, FACTS)
    assert tidied.answers["told_outcome"] == "no_answer" and not tidied.dropped
    assert tidied.answers[GIVEN_ON] == [
        'told<group="nursing_students"',
        'told_outcome<told=["placement_manager"]',
    ]


def test_the_pathway_question_declares_whom_they_told_and_what_came_of_it() -> None:
    first = tidy(PATHWAY, TOLD, FACTS).answers
    tidied = tidy(PATHWAY, {**first, "told": ["university_tutor"]}, FACTS)
    assert tidied.dropped == {"told_outcome"}


# -- any answers, any change: what is left always follows --------------------------------

TICKS = st.lists(st.sampled_from(["other", "nobody", "supervisor", "university_tutor"]), max_size=3)
ONE = st.sampled_from(["named", "anonymous", "other", "nursing_students", "resident_doctors"])
# Each answer a dependency reads, with values of its own shape (ticks are lists).
VALUES = {
    key: TICKS if key in ("told", "topics", "controls", "standards", "story_wrong") else ONE
    for dependent in CONCERN.dependents
    for key in (dependent.answer, *dependent.on)
}
PAIRS = st.sampled_from(sorted(VALUES)).flatmap(lambda k: st.tuples(st.just(k), VALUES[k]))
ANSWERS = st.lists(PAIRS, max_size=len(VALUES)).map(dict)


def follows(answers: dict[str, Answer]) -> bool:
    guards = Guards(answers, facts=FACTS)
    noted = notes(answers)
    for dependent in CONCERN.dependents:
        if dependent.answer not in answers:
            continue
        if dependent.guard is not None and not getattr(guards, dependent.guard)():
            return False
        for on in dependent.on:
            if noted.get((dependent.answer, on)) != value_of(answers.get(on)):
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(first=ANSWERS, changes=st.lists(ANSWERS, max_size=4))
def test_after_any_changes_every_answer_left_follows_from_the_others(
    first: dict[str, Answer], changes: list[dict[str, Answer]]
) -> None:
    answers = tidy(CONCERN, first, FACTS).answers
    assert follows(answers)
    for change in changes:
        before = answers
        tidied = tidy(CONCERN, {**answers, **change}, FACTS)
        answers = tidied.answers
        assert follows(answers)
        assert tidy(CONCERN, answers, FACTS).answers == answers  # settled: nothing more goes
        # Nothing goes that was not there, and nothing but dependents goes.
        assert tidied.dropped <= {d.answer for d in CONCERN.dependents}
        assert all(key in {**before, **change} for key in tidied.dropped)


# -- through the engine ------------------------------------------------------------------


def send(conversation: Conversation | None, event: Event) -> Outcome:
    assert conversation is not None
    return DIALOGUE.handle(conversation, event, NOW, lambda: "QC-2345-6789")


def run(*inputs: Event | str) -> Outcome:
    outcome = DIALOGUE.begin("chat/concern", "chat", "concern", NOW)
    for item in inputs:
        outcome = send(outcome.conversation, Text(item) if isinstance(item, str) else item)
    return outcome


STORY = "Nobody supervises us on the night shift at all."  # nothing the reader can tell
TO_REVIEW = (
    "3", STORY, "1", "Addenbrookes",  # nobody at risk, the story, a resident doctor, where
    "1", "done", "done",  # topics: supervision; its standards
    "1", "3", "1", "2",  # started, how often, learners affected, patients
    "2", "done", "2", "2",  # what is being done; likelihood, impact (low)
    "2", "done", "4",  # told: a consultant or senior; no answer in reasonable time
    "1", "done", "3", "named", "Sam Patel, sam@nhs.net",  # no barrier, not to the team, named
)  # fmt: skip
ASKED_AGAIN = DIALOGUE.prompts.say("asked_again", question="Who has been told")


def keys(outcome: Outcome) -> list[str]:
    return [option.key for option in outcome.replies[-1].options]


def test_the_review_is_reached_as_expected() -> None:
    review = run(*TO_REVIEW)
    assert review.conversation is not None and review.conversation.state == "review"
    assert review.conversation.answers["told_outcome"] == "no_answer"


def test_adding_someone_told_asks_what_came_of_it_again_and_the_advice_follows() -> None:
    review = run(*TO_REVIEW)
    told = send(review.conversation, Press("review", "edit:who"))
    told = send(told.conversation, Press("told", "training_programme_director"))
    outcome = send(told.conversation, Press("told", "done"))
    assert outcome.conversation is not None and outcome.conversation.state == "told_outcome"
    assert outcome.replies[-1].text.startswith(ASKED_AGAIN)
    assert "keep" not in keys(outcome) and "told_outcome" not in outcome.conversation.answers
    barrier = send(outcome.conversation, Press("told_outcome", "waiting"))
    back = send(barrier.conversation, Press("barrier", "done"))
    assert back.conversation is not None and back.conversation.state == "review"
    assert "Waiting to hear back" in back.replies[-1].text
    assert "No answer in reasonable time" not in back.replies[-1].text
    filed = send(back.conversation, Press("review", "submit")).concern
    assert filed is not None and filed.told_outcome == "waiting"
    assert filed.advice.level == 2 and filed.advice.reasons == ("waiting_2",)  # not pathway 3


def test_the_same_people_ticked_again_keep_what_came_of_it() -> None:
    review = run(*TO_REVIEW)
    told = send(review.conversation, Press("review", "edit:who"))
    outcome = send(told.conversation, Press("told", "done"))
    assert outcome.conversation is not None and outcome.conversation.state == "told_outcome"
    assert "keep" in keys(outcome) and ASKED_AGAIN not in outcome.replies[-1].text


def test_going_back_to_change_whom_they_told_asks_what_came_of_it_again() -> None:
    at_barrier = run(*TO_REVIEW[:-5])
    told = send(send(at_barrier.conversation, Command("back")).conversation, Command("back"))
    assert told.conversation is not None and told.conversation.state == "told"
    told = send(told.conversation, Press("told", "supervisor"))
    outcome = send(told.conversation, Press("told", "done"))
    assert outcome.conversation is not None and outcome.conversation.state == "told_outcome"
    assert "told_outcome" not in outcome.conversation.answers
    assert outcome.replies[-1].text.startswith(ASKED_AGAIN)


def test_what_the_story_said_came_of_it_is_asked_when_whom_they_told_changes() -> None:
    nurse = (
        "im a 2nd yr student nurse at the QEH. left on my own every night shift. told the ward "
        "manager 2 weeks ago and heard nothing back"
    )
    review = run(
        "3", nurse, "yes", "uea", "2", "1", "2", "none", "done", "2", "2", "1", "done", "3"
    )
    review = send(review.conversation, Text("anonymous"))
    assert review.conversation is not None and review.conversation.state == "review"
    assert "told_outcome" in review.conversation.answer_list(FROM_STORY)
    told = send(review.conversation, Press("review", "edit:who"))
    told = send(told.conversation, Press("told", "university_tutor"))
    outcome = send(told.conversation, Press("told", "done"))
    assert outcome.conversation is not None and outcome.conversation.state == "told_outcome"
    assert "told_outcome" not in outcome.conversation.answers
    assert "told_outcome" not in outcome.conversation.answer_list(FROM_STORY)
    assert outcome.replies[-1].text.startswith(ASKED_AGAIN)


def test_changing_the_identity_asks_for_the_name_again() -> None:
    review = run(*TO_REVIEW)
    send_section = send(review.conversation, Press("review", "edit:send"))
    identity = send(send_section.conversation, Press("wants_team", "keep"))
    outcome = send(identity.conversation, Press("identity", "confidential"))
    assert outcome.conversation is not None and outcome.conversation.state == "name"
    assert "name" not in outcome.conversation.answers
    assert "contact" not in outcome.conversation.answers
    asked = DIALOGUE.prompts.say("asked_again", question="Your identity")
    assert outcome.replies[-1].text.startswith(asked)
    done = send(outcome.conversation, Text("Sam Patel, 07700 900123"))
    assert done.conversation is not None and done.conversation.state == "review"
    assert "Sam Patel, 07700 900123" in done.replies[-1].text


def test_a_new_organisation_leaves_no_site_of_the_old_one_on_the_review() -> None:
    review = run(*TO_REVIEW)
    where = send(review.conversation, Press("review", "edit:where"))
    outcome = send(where.conversation, Press("organisation", "west_suffolk"))
    assert outcome.conversation is not None and outcome.conversation.state == "review"
    assert outcome.conversation.answers.get("site") is None  # a press names no site
    assert "Addenbrookes" not in outcome.replies[-1].text


def test_a_new_group_asks_whom_they_told_before_the_review_when_the_list_differs() -> None:
    review = run(*TO_REVIEW)
    about = send(review.conversation, Press("review", "edit:about"))
    university = send(about.conversation, Text("nursing student"))
    assert university.conversation is not None and university.conversation.state == "university"
    outcome = send(university.conversation, Text("uea"))
    # "A consultant or senior" is not on a nursing student's list: asked again, in their words.
    assert outcome.conversation is not None and outcome.conversation.state == "told"
    assert "told" not in outcome.conversation.answers
    assert "Ward or placement manager" in [o.label for o in outcome.replies[-1].options]
    told = send(outcome.conversation, Press("told", "placement_manager"))
    outcome = send(told.conversation, Press("told", "done"))
    assert outcome.conversation is not None and outcome.conversation.state == "told_outcome"
    barrier = send(outcome.conversation, Press("told_outcome", "unresolved"))
    back = send(barrier.conversation, Press("barrier", "done"))
    assert back.conversation is not None and back.conversation.state == "review"


def test_back_from_an_edit_with_changed_ticks_leaves_nothing_that_no_longer_follows() -> None:
    review = run(*TO_REVIEW)
    told = send(review.conversation, Press("review", "edit:who"))
    told = send(told.conversation, Press("told", "training_programme_director"))
    back = send(told.conversation, Command("back"))  # ticked, but no Done
    assert back.conversation is not None and back.conversation.state == "review"
    assert "told_outcome" not in back.conversation.answers
    assert "What came of it" not in back.replies[-1].text
    asked = send(back.conversation, Press("review", "submit"))
    assert asked.conversation is not None and asked.conversation.state == "told_outcome"


def test_a_confirmed_story_saying_whom_they_told_is_not_asked_again_after_the_group() -> None:
    # The tester's story: a resident doctor (whose list has no ward manager to tick) "told
    # the ward manager and nothing happened", confirmed, then asked the group.
    story = (
        "We are left alone on the night shift at Addenbrookes with no supervision at all. "
        "I told the ward manager and nothing happened."
    )
    check = run("3", story)
    assert check.conversation is not None and check.conversation.state == "story_check"
    assert "'told the ward manager'" in check.replies[-1].text
    group = send(check.conversation, Press("story_check", "yes"))
    assert group.conversation is not None and group.conversation.state == "group"
    outcome = send(group.conversation, Press("group", "resident_doctors"))
    asked: list[str] = []
    for answer in ("1", "3", "1", "2", "none", "done", "2", "2", "1", "done", "3", "anonymous"):
        assert outcome.conversation is not None
        asked.append(outcome.conversation.state)
        outcome = send(outcome.conversation, Text(answer))
    assert "told" not in asked and "told_outcome" not in asked, asked
    review = outcome.replies[-1].text
    assert outcome.conversation is not None and outcome.conversation.state == "review"
    assert "Who has been told: Ward or placement manager (from your story)" in review
    assert "What came of it: Still unresolved (from your story)" in review
    # Asked again from the review, the ward manager is still offered, so Done keeps it.
    told = send(outcome.conversation, Press("review", "edit:who"))
    assert "placement_manager" in keys(told) and "nobody" in keys(told) and len(keys(told)) <= 8
    assert [o.key for o in told.replies[-1].options if o.selected] == ["placement_manager"]
    outcome_again = send(told.conversation, Press("told", "done"))
    kept = send(outcome_again.conversation, Press("told_outcome", "keep"))
    back = send(kept.conversation, Press("barrier", "done"))
    assert back.conversation is not None and back.conversation.state == "review"
    assert "Who has been told: Ward or placement manager" in back.replies[-1].text
    filed = send(back.conversation, Press("review", "submit")).concern
    assert filed is not None and filed.told_outcome == "unresolved"
    assert filed.told == ("placement_manager",)
