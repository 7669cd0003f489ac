"""The journeys' machines: shape, guards, branches, and the diagrams generated from them."""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from transitions import Machine

from bot.cli import diagrams
from dialogues.bundle import load_content
from dialogues.engine import Dialogue
from dialogues.guards import Facts, Guards
from dialogues.journeys import CONCERN, JOURNEYS, PATHWAY, Journey
from dialogues.machines import build_machine, next_state, walk
from dialogues.records import Answer, Conversation
from dialogues.turns import Text
from unit.test_engine import NOW, TO_REVIEW

ROOT = Path(__file__).parents[2]


def conv(
    state: str, editing: bool = False, journey: str = "concern", **answers: Answer
) -> Conversation:
    return Conversation(
        key="k", owner="o", journey=journey, state=state, answers=answers, editing=editing
    )


def reachable(journey: Journey) -> set[str]:
    edges: dict[str, set[str]] = {}
    for t in journey.transitions:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for source in sources:
            edges.setdefault(source, set()).add(t["dest"])
    seen, todo = {journey.initial}, deque([journey.initial])
    while todo:
        for dest in edges.get(todo.popleft(), ()):
            if dest not in seen:
                seen.add(dest)
                todo.append(dest)
    return seen


@pytest.mark.parametrize("journey", JOURNEYS.values(), ids=list(JOURNEYS))
def test_every_state_is_reachable_and_every_transition_names_real_states(journey: Journey) -> None:
    assert reachable(journey) == set(journey.states)


CONCERN_MACHINE = build_machine(CONCERN)
PATHWAY_MACHINE = build_machine(PATHWAY)


FACTS = Facts(students=frozenset({"nursing_students", "ahp_students"}))


@pytest.mark.parametrize(
    ("conversation", "expected"),
    [
        (conv("danger", danger="no"), "description"),
        (conv("danger", danger="patient"), "danger_now"),
        (conv("danger", danger="learner"), "danger_now"),
        (conv("danger_now", danger="patient"), "description"),
        (conv("description"), "group"),  # nothing read from the story: nothing to check
        (conv("description", story_proposals=["topics=supervision"]), "story_check"),
        (conv("story_check", story_check="yes"), "group"),
        (
            conv(
                "story_check",
                story_check="some_wrong",
                story_proposals=["topics=supervision", "told=nobody"],
            ),
            "story_wrong",
        ),
        # With one part only, "some of it is wrong" is that part: asked, without a list.
        (
            conv("story_check", story_check="some_wrong", story_proposals=["topics=induction"]),
            "group",
        ),
        (conv("story_wrong"), "group"),
        (conv("group", group="resident_doctors"), "organisation"),
        (conv("group", group="nursing_students"), "university"),  # students: their university
        (conv("university", group="nursing_students"), "organisation"),
        (conv("organisation", organisation="other"), "organisation_other"),
        (conv("organisation", organisation="royal_papworth"), "topics"),
        (conv("controls", controls=["none"]), "likelihood"),
        (conv("controls", controls=["senior_cover", "other"]), "controls_detail"),
        (conv("impact", impact="3"), "told"),  # the rating is shown with the next question
        (conv("told", told=["nobody"]), "barrier"),
        (conv("told", told=["supervisor"]), "told_outcome"),
        (conv("identity", identity="anonymous"), "review"),
        (conv("identity", identity="named"), "name"),
        (conv("name", identity="named"), "review"),
        # What the learner confirmed from their story is passed over on the way through.
        (conv("description", from_story=["group"], story_proposals=["group=x"]), "story_check"),
        (conv("story_check", story_check="yes", from_story=["group"]), "organisation"),
        (
            conv(
                "organisation",
                from_story=["topics", "standards", "frequency"],
                organisation="west_suffolk",
            ),
            "started",
        ),
        (conv("started", from_story=["frequency", "affected"]), "patient_risk"),
        (conv("controls", told=["nobody"], from_story=["told", "barrier"]), "likelihood"),
        (conv("impact", from_story=["told", "barrier"], told=["nobody"]), "wants_team"),
        # Changing a section of the review asks the rest of that section, then the review,
        # story or not.
        (conv("group", editing=True, group="resident_doctors"), "review"),
        (conv("group", editing=True, group="nursing_students"), "university"),
        (conv("description", editing=True, from_story=["topics"]), "topics"),
        (conv("affected", editing=True), "review"),
        (conv("danger", editing=True, danger="no"), "patient_risk"),
        (conv("danger", editing=True, danger="patient"), "danger_now"),
        (conv("impact", editing=True), "actions"),  # the optional extra, from the review only
        (conv("actions", editing=True), "review"),
        (conv("told", editing=True, told=["supervisor"]), "told_outcome"),
        (conv("told", editing=True, told=["nobody"]), "barrier"),
        (conv("barrier", editing=True), "review"),
        (conv("identity", editing=True, identity="named"), "name"),
        (conv("identity", editing=True, identity="anonymous"), "review"),
        # Changing the words after the privacy check: each answer holding a detail, then the
        # review; the rest of a review section is not asked.
        (conv("privacy_check", privacy_check="keep", details_in=["description"]), "submitted"),
        (conv("privacy_check", privacy_check="replace", details_in=["actions"]), "submitted"),
        (
            conv("privacy_check", True, privacy_check="change", details_in=["description"]),
            "description",
        ),
        (conv("privacy_check", True, privacy_check="change", details_in=["actions"]), "actions"),
        (conv("description", True, privacy_check="change", details_in=["description"]), "review"),
        (
            conv(
                "description",
                True,
                privacy_check="change",
                details_in=["description", "controls_detail", "actions"],
            ),
            "controls_detail",
        ),
        (conv("controls_detail", True, privacy_check="change", details_in=["actions"]), "actions"),
        (conv("actions", True, privacy_check="change", details_in=["actions"]), "review"),
        # On the way through (as `walk` reads it), a decision left over changes nothing.
        (conv("description", privacy_check="change", details_in=["actions"]), "group"),
    ],
)
def test_concern_next_state(conversation: Conversation, expected: str) -> None:
    assert next_state(CONCERN_MACHINE, conversation, facts=FACTS) == expected


def test_browsing_standards_goes_through_the_domains_and_back() -> None:
    assert next_state(CONCERN_MACHINE, conv("standards"), intent="browse") == "domain"
    assert next_state(CONCERN_MACHINE, conv("standards")) == "started"
    assert next_state(CONCERN_MACHINE, conv("domain")) == "domain_standards"
    assert next_state(CONCERN_MACHINE, conv("domain_standards")) == "standards"


def test_a_second_page_of_groups_and_topics() -> None:
    assert next_state(CONCERN_MACHINE, conv("group"), intent="more") == "group_more"
    assert next_state(CONCERN_MACHINE, conv("group_more", group="apprentices")) == "organisation"
    assert next_state(CONCERN_MACHINE, conv("topics"), intent="more") == "topics_more"
    assert next_state(CONCERN_MACHINE, conv("topics_more")) == "standards"


def test_review_submits_or_checks_the_words_first() -> None:
    assert next_state(CONCERN_MACHINE, conv("review"), trigger="submit") == "submitted"
    found = conv("review", details_in=["description"])
    assert next_state(CONCERN_MACHINE, found, trigger="submit") == "privacy_check"


def test_the_story_can_answer_only_steps_of_the_journey() -> None:
    assert CONCERN.prefilled <= set(CONCERN.states)
    items = {field for _, fields in CONCERN.story_items for field in fields}
    assert items == CONCERN.prefilled
    # Every question is in one review section, but for the checks of the story and the words.
    sections = [step for section in CONCERN.sections for step in section.steps]
    assert len(sections) == len(set(sections))
    unsectioned = {"story_check", "story_wrong", "review", "privacy_check"}
    assert set(CONCERN.questions) - set(sections) == unsectioned


@pytest.mark.parametrize(
    ("state", "answers", "expected"),
    [
        ("danger", {"danger": "no"}, "group"),
        ("told", {"told": ["nobody"]}, "barrier"),
        ("told", {"told": ["tpd"]}, "told_outcome"),
        ("barrier", {}, "answered"),
    ],
)
def test_pathway_next_state(state: str, answers: dict[str, Answer], expected: str) -> None:
    conversation = conv(state, journey="pathway", **answers)
    assert next_state(PATHWAY_MACHINE, conversation) == expected


def test_one_shared_machine_moves_one_model_never_attached_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Entering the review and submitting walk the journey (some twenty moves): none of
    them attaches or detaches a model, which cost half of those turns."""
    dialogue = Dialogue(load_content())  # its machines built, their models attached, here
    models = {name: list(m.machine.models) for name, m in dialogue.machines.items()}
    calls: list[str] = []
    for method in ("add_model", "remove_model"):
        original = getattr(Machine, method)

        def counted(self: Machine, *args: Any, _name: str = method, _original: Any = original,
                    **kwargs: Any) -> Any:  # fmt: skip
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Machine, method, counted)
    outcome = dialogue.begin("chat/concern", "chat", "concern", NOW)
    states = []
    for item in TO_REVIEW:
        assert outcome.conversation is not None
        outcome = dialogue.handle(outcome.conversation, Text(item), NOW, lambda: "QC-2345-6789")
        states.append(outcome.conversation.state if outcome.conversation else None)
    assert outcome.conversation is not None
    outcome = dialogue.handle(outcome.conversation, Text("submit"), NOW, lambda: "QC-2345-6789")
    assert states[-1] == "review" and outcome.concern is not None  # the walk was taken
    assert calls == []
    assert {name: list(m.machine.models) for name, m in dialogue.machines.items()} == models
    assert all(len(found) == 1 for found in models.values())
    # The model keeps no conversation's answers once a move is done.
    assert all(m.model.answers == {} for m in dialogue.machines.values())


def test_moves_in_many_threads_at_once_each_follow_their_own_answers() -> None:
    """Turns run in threads; the one model is handed each move's answers under a lock."""
    cases = [
        (conv("danger", danger="no"), "description"),
        (conv("danger", danger="patient"), "danger_now"),
        (conv("identity", identity="anonymous"), "review"),
        (conv("identity", identity="named"), "name"),
    ]
    wrong: list[tuple[str, str]] = []

    def moves(case: int) -> None:
        conversation, expected = cases[case % len(cases)]
        for _ in range(300):
            found = next_state(CONCERN_MACHINE, conversation, facts=FACTS)
            if found != expected:
                wrong.append((expected, found))

    threads = [threading.Thread(target=moves, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_walk_follows_the_answers() -> None:
    anonymous = walk(
        CONCERN_MACHINE,
        CONCERN,
        conv("review", identity="anonymous", danger="no", told=["nobody"]),
        "review",
        FACTS,
    )
    assert anonymous[-1] == "identity"
    assert "danger_now" not in anonymous and "told_outcome" not in anonymous
    assert "actions" not in anonymous and "university" not in anonymous
    named = walk(
        CONCERN_MACHINE,
        CONCERN,
        conv(
            "review",
            identity="named",
            danger="patient",
            told=["tpd"],
            group="nursing_students",
            from_story=["topics", "standards"],
        ),
        "review",
        FACTS,
    )
    assert named[-2:] == ("identity", "name")
    assert "danger_now" in named and "told_outcome" in named and "university" in named
    assert "topics" not in named and "standards" not in named


def test_guards_read_answers() -> None:
    assert Guards({"told": ["a", "b"]}).has_told_someone()
    assert not Guards({"told": ["nobody"]}).has_told_someone()
    assert not Guards({}).is_not_anonymous()
    assert Guards({"group": "ahp_students"}, facts=FACTS).is_student()
    assert not Guards({"group": "resident_doctors"}, facts=FACTS).is_student()


def test_diagrams_in_docs_are_current() -> None:
    """Regenerate with: concernbot diagram --write docs/journeys.md"""
    on_disk = (ROOT / "docs" / "journeys.md").read_text(encoding="utf-8")
    assert on_disk == diagrams(), (
        "docs/journeys.md is stale: run concernbot diagram --write docs/journeys.md"
    )
    for journey in JOURNEYS.values():
        for state in journey.states:
            assert f'state "{state}" as {state}' in on_disk
