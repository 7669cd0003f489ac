"""The two journeys, declared as data; the guards their transitions name are in
`dialogues.guards`.

A conversation is a state name plus answers; `dialogues.machines` moves it along these
declarations with one shared transitions machine per journey.

For one source state, transitions are tried in the order written: branches first, then the
usual next step. Three things are declared here as data beside the transitions, not drawn:
the steps a learner's story may answer (`prefilled`, passed over once the learner has
confirmed what the story said), the review's sections (a section's Change asks that
section's questions again, in journey order, then returns to the review), and the answers
that follow from others (`dependents`, applied by `dialogues.dependents`: a changed answer
has those that follow from it asked again).

The concern ends with the privacy check (`dialogues.privacy_check`): Submit goes to it when
the learner's own words hold a detail that could identify someone, and straight to filing
otherwise; "change it myself" asks each answer holding a detail again, then the review.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialogues.records import Answers

SUBMITTED = "submitted"
ANSWERED = "answered"
# Where the steps the story answered are listed, and where its proposals wait to be checked.
FROM_STORY = "from_story"
STORY_PROPOSALS = "story_proposals"
# The check of the learner's words before sending: its step (whose answer is the learner's
# decision), the decisions in the order offered, the answers it reads (the name and contact
# are the learner's to give, and are not checked), and where Submit notes which of them hold
# a detail.
PRIVACY_CHECK = "privacy_check"
REPLACE, KEEP_WORDS, CHANGE = "replace", "keep", "change"
DECISIONS = (REPLACE, KEEP_WORDS, CHANGE)
CHECKED_WORDS = ("description", "controls_detail", "actions")
DETAILS_IN = "details_in"

T = dict[str, Any]


def _chain(states: Sequence[str]) -> list[T]:
    return [{"trigger": "next", "source": a, "dest": b} for a, b in itertools.pairwise(states)]


def _changing_words(*sources: str) -> list[T]:
    """From the privacy check, "change it myself": each answer holding a detail in turn,
    then the review, where Submit checks the words again. From each of `sources`, the
    checked answers after it (all of them from the check), then the review."""
    transitions: list[T] = []
    for source in sources:
        later = (
            CHECKED_WORDS[CHECKED_WORDS.index(source) + 1 :]
            if source in CHECKED_WORDS
            else CHECKED_WORDS
        )
        transitions += [
            {
                "trigger": "next",
                "source": source,
                "dest": step,
                "conditions": ["is_changing_words", f"has_details_in_{step}"],
            }
            for step in later
        ]
        transitions.append(
            {
                "trigger": "next",
                "source": source,
                "dest": "review",
                "conditions": "is_changing_words",
            }
        )
    return transitions


@dataclass(frozen=True)
class Section:
    """A part of the review: its steps, re-asked in journey order by its one Change button."""

    name: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Dependent:
    """An answer that follows from others, and is asked again when they no longer hold it up.

    It stands while `guard` holds (a name only while not anonymous) and while each answer it
    is given `on` is as it was when it was given (what came of it, only for those it was
    said of). Otherwise it is dropped, and the journey asks it again.

    With `fits`, a change of what it is given `on` is asked whether the answer still fits
    the new one, and it stays if so (whom they told, while the new group's list has them
    all); and the first answer to what it is given on is no change at all (whom the story
    said they told, confirmed before the group was asked, stays whatever group is given).
    """

    answer: str
    on: tuple[str, ...] = ()
    guard: str | None = None
    fits: str | None = None


@dataclass(frozen=True)
class Journey:
    """A journey: its states in order, its transitions, and how the review groups them."""

    name: str
    states: tuple[str, ...]
    transitions: tuple[T, ...]
    sections: tuple[Section, ...] = ()
    # The answers that follow from others, in the order they are checked.
    dependents: tuple[Dependent, ...] = ()
    # Steps the learner's story may answer: once the learner has confirmed what the story
    # said, they are passed over on the way through (and asked again only from the review).
    prefilled: frozenset[str] = frozenset()
    # The proposals a learner checks, one item each: the steps each item answers.
    story_items: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A note shown with the next question after a step ("12 of 25: High" after impact).
    notes_after: Mapping[str, str] | None = None
    # While this guard holds, an answer asked again goes where the transitions lead, rather
    # than on through its review section: the learner changing their words after the check.
    edit_follows: str | None = None

    @property
    def initial(self) -> str:
        return self.states[0]

    @property
    def questions(self) -> tuple[str, ...]:
        return tuple(s for s in self.states if s not in (SUBMITTED, ANSWERED))

    @property
    def reviewable(self) -> tuple[str, ...]:
        return tuple(step for section in self.sections for step in section.steps)

    def section_of(self, step: str) -> Section | None:
        return next((s for s in self.sections if step in s.steps), None)


CONCERN_MAIN = (
    "danger", "description", "group", "university", "organisation", "topics", "standards",
    "started", "frequency", "affected", "patient_risk", "controls", "likelihood", "impact",
    "told", "barrier", "wants_team", "identity", "review",
)  # fmt: skip

CONCERN = Journey(
    name="concern",
    states=(
        "danger",
        "danger_now",
        "description",
        "story_check",
        "story_wrong",
        "group",
        "group_more",
        "university",
        "organisation",
        "organisation_other",
        "topics",
        "topics_more",
        "standards",
        "domain",
        "domain_standards",
        "started",
        "frequency",
        "affected",
        "patient_risk",
        "controls",
        "controls_detail",
        "likelihood",
        "impact",
        "actions",
        "told",
        "told_outcome",
        "barrier",
        "wants_team",
        "identity",
        "name",
        "review",
        PRIVACY_CHECK,
        SUBMITTED,
    ),
    transitions=(
        # Branches first: for one source, transitions are tried in the order written.
        {"trigger": "next", "source": "danger", "dest": "danger_now", "conditions": "is_in_danger"},
        {"trigger": "next", "source": "danger_now", "dest": "description"},
        *_changing_words("description"),
        {
            "trigger": "next",
            "source": "description",
            "dest": "story_check",
            "conditions": "has_proposals",
        },
        {
            "trigger": "next",
            "source": "story_check",
            "dest": "story_wrong",
            "conditions": "is_correcting_story",
        },
        {"trigger": "next", "source": ["story_check", "story_wrong"], "dest": "group"},
        {"trigger": "next", "source": "group", "dest": "group_more", "conditions": "wants_more"},
        {
            "trigger": "next",
            "source": ["group", "group_more"],
            "dest": "university",
            "conditions": "is_student",
        },
        {"trigger": "next", "source": "group_more", "dest": "organisation"},
        {"trigger": "next", "source": "group", "dest": "organisation"},
        {
            "trigger": "next",
            "source": "organisation",
            "dest": "organisation_other",
            "conditions": "is_other_organisation",
        },
        {"trigger": "next", "source": "organisation_other", "dest": "topics"},
        {"trigger": "next", "source": "topics", "dest": "topics_more", "conditions": "wants_more"},
        {"trigger": "next", "source": "topics_more", "dest": "standards"},
        {"trigger": "next", "source": "standards", "dest": "domain", "conditions": "wants_browse"},
        {"trigger": "next", "source": "domain", "dest": "domain_standards"},
        {"trigger": "next", "source": "domain_standards", "dest": "standards"},
        {
            "trigger": "next",
            "source": "controls",
            "dest": "controls_detail",
            "conditions": "has_other_controls",
        },
        *_changing_words("controls_detail"),
        {"trigger": "next", "source": "controls_detail", "dest": "likelihood"},
        # What would put it right: an optional extra, asked from the review's Risk section.
        {"trigger": "next", "source": "impact", "dest": "actions", "conditions": "is_editing"},
        *_changing_words("actions"),
        {"trigger": "next", "source": "actions", "dest": "told"},
        {
            "trigger": "next",
            "source": "told",
            "dest": "told_outcome",
            "conditions": "has_told_someone",
        },
        {"trigger": "next", "source": "told_outcome", "dest": "barrier"},
        {"trigger": "next", "source": "identity", "dest": "name", "conditions": "is_not_anonymous"},
        {"trigger": "next", "source": "name", "dest": "review"},
        # The usual way through.
        *[t for t in _chain(CONCERN_MAIN) if t["source"] != "group"],
        # Submit: the learner's words are checked first, and filed at once if nothing is found.
        {
            "trigger": "submit",
            "source": "review",
            "dest": PRIVACY_CHECK,
            "conditions": "has_identifying_details",
        },
        {"trigger": "submit", "source": "review", "dest": SUBMITTED},
        *_changing_words(PRIVACY_CHECK),
        # Replaced with neutral words, or kept as typed: filed.
        {"trigger": "next", "source": PRIVACY_CHECK, "dest": SUBMITTED},
    ),
    sections=(
        Section("about", ("group", "group_more", "university")),
        Section("where", ("organisation", "organisation_other")),
        Section(
            "what",
            (
                "description",
                "topics",
                "topics_more",
                "standards",
                "domain",
                "domain_standards",
                "started",
                "frequency",
                "affected",
            ),
        ),
        Section(
            "risk",
            (
                "danger",
                "danger_now",
                "patient_risk",
                "controls",
                "controls_detail",
                "likelihood",
                "impact",
                "actions",
            ),
        ),
        Section("who", ("told", "told_outcome", "barrier")),
        Section("send", ("wants_team", "identity", "name")),
    ),
    dependents=(
        # Whether the learner could act on the danger yet: asked again when the danger changes.
        Dependent("danger_now", on=("danger",), guard="is_in_danger"),
        Dependent("story_wrong", on=("story_check",), guard="is_correcting_story"),
        Dependent("university", on=("group",), guard="is_student"),
        # Whom the learner told is chosen from their group's own list: a changed group keeps
        # it only while every role ticked is on the new group's list too. A group given for
        # the first time changes nothing: whom the confirmed story said they told stays.
        Dependent("told", on=("group",), fits="has_roles_of_group"),
        # The site is a side answer of the organisation (typed with it, or read from the
        # story with it): a new organisation gives its own, or none.
        Dependent("site", on=("organisation",)),
        Dependent("organisation_other", on=("organisation",), guard="is_other_organisation"),
        # The standards are ticked on arrival from the topics: new topics tick them anew.
        Dependent("standards", on=("topics",)),
        Dependent("controls_detail", on=("controls",), guard="has_other_controls"),
        Dependent("told_outcome", on=("told",), guard="has_told_someone"),
        # Who sees a name depends on the identity chosen: a new choice asks for it again.
        Dependent("name", on=("identity",), guard="is_not_anonymous"),
        Dependent("contact", on=("identity",), guard="is_not_anonymous"),
    ),
    prefilled=frozenset(
        {
            "university",
            "group",
            "organisation",
            "topics",
            "standards",
            "started",
            "frequency",
            "affected",
            "patient_risk",
            "told",
            "told_outcome",
            "barrier",
        }
    ),
    story_items=(
        ("you", ("group", "university")),
        ("where", ("organisation",)),
        ("topics", ("topics", "standards")),
        ("when", ("started", "frequency")),
        ("affected", ("affected",)),
        ("patients", ("patient_risk",)),
        ("told", ("told", "told_outcome", "barrier")),
    ),
    notes_after={"impact": "score"},
    edit_follows="is_changing_words",
)

PATHWAY = Journey(
    name="pathway",
    states=(
        "danger",
        "danger_now",
        "group",
        "group_more",
        "likelihood",
        "impact",
        "told",
        "told_outcome",
        "barrier",
        ANSWERED,
    ),
    transitions=(
        {"trigger": "next", "source": "danger", "dest": "danger_now", "conditions": "is_in_danger"},
        {"trigger": "next", "source": "group", "dest": "group_more", "conditions": "wants_more"},
        {
            "trigger": "next",
            "source": "told",
            "dest": "told_outcome",
            "conditions": "has_told_someone",
        },
        *_chain(("danger", "group", "likelihood", "impact", "told", "barrier", ANSWERED)),
        {"trigger": "next", "source": "danger_now", "dest": "group"},
        {"trigger": "next", "source": "group_more", "dest": "likelihood"},
        {"trigger": "next", "source": "told_outcome", "dest": "barrier"},
    ),
    dependents=(
        Dependent("danger_now", on=("danger",), guard="is_in_danger"),
        Dependent("told", on=("group",), fits="has_roles_of_group"),
        Dependent("told_outcome", on=("told",), guard="has_told_someone"),
    ),
    # How serious it is, as the concern's review shows it, before whom it was raised with.
    notes_after={"impact": "score"},
)

JOURNEYS: Mapping[str, Journey] = {j.name: j for j in (CONCERN, PATHWAY)}


def proposed_items(
    answers: Answers, items: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[str, ...]:
    """The parts of the story's reading that hold a proposal, in the order they are checked."""
    pending = answers.get(STORY_PROPOSALS)
    fields = {p.partition("=")[0] for p in pending} if isinstance(pending, list) else set()
    return tuple(item for item, steps in items if fields & set(steps))
