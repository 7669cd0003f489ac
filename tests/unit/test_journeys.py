"""The journeys' machines: shape, guards, branches, and the diagrams generated from them."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from bot.cli import diagrams
from dialogues.journeys import (
    CONCERN,
    JOURNEYS,
    PATHWAY,
    Guards,
    Journey,
    build_machine,
    next_state,
    tidy,
    walk,
)
from dialogues.records import Answer, Conversation

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


@pytest.mark.parametrize(
    ("conversation", "expected"),
    [
        (conv("danger", danger="no"), "group"),
        (conv("danger", danger="patient"), "danger_now"),
        (conv("danger", danger="learner"), "danger_now"),
        (conv("danger_now", danger="patient"), "group"),
        (conv("organisation", organisation="other"), "organisation_other"),
        (conv("organisation", organisation="royal_papworth"), "site"),
        (conv("impact", impact="3"), "score"),
        (conv("score"), "actions"),
        (conv("told", told=["nobody"]), "barrier"),
        (conv("told", told=["clinical_supervisor"]), "told_outcome"),
        (conv("identity", identity="anonymous"), "review"),
        (conv("identity", identity="named"), "name"),
        (conv("identity", identity="confidential", name="Sam"), "name"),  # asked again on the way
        (conv("name", identity="named"), "contact"),
        # Editing from the review returns to it, unless a follow-up is now missing.
        (conv("description", editing=True), "review"),
        (conv("likelihood", editing=True), "review"),
        (conv("identity", editing=True, identity="named"), "name"),
        (conv("identity", editing=True, identity="named", name="Sam", contact="s@x.org"), "review"),
        (conv("identity", editing=True, identity="anonymous"), "review"),
        (conv("told", editing=True, told=["ward_manager"]), "told_outcome"),
        (conv("told", editing=True, told=["ward_manager"], told_outcome="resolved"), "review"),
        (conv("topics", editing=True), "standards"),  # new topics, new suggestions
        (conv("danger", editing=True, danger="patient"), "danger_now"),
        (conv("danger_now", editing=True, danger="patient"), "review"),
    ],
)
def test_concern_next_state(conversation: Conversation, expected: str) -> None:
    assert next_state(CONCERN_MACHINE, conversation) == expected


def test_browsing_standards_goes_through_the_domains_and_back() -> None:
    assert next_state(CONCERN_MACHINE, conv("standards"), intent="browse") == "domain"
    assert next_state(CONCERN_MACHINE, conv("standards")) == "affected"
    assert next_state(CONCERN_MACHINE, conv("domain")) == "domain_standards"
    assert next_state(CONCERN_MACHINE, conv("domain_standards", editing=True)) == "standards"


def test_review_submits() -> None:
    assert next_state(CONCERN_MACHINE, conv("review"), trigger="submit") == "submitted"


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


def test_one_shared_machine_keeps_no_models_between_turns() -> None:
    for _ in range(200):
        next_state(CONCERN_MACHINE, conv("danger", danger="no"))
    assert CONCERN_MACHINE.models == []


def test_tidy_drops_answers_that_no_longer_apply() -> None:
    answers: dict[str, Answer] = {
        "identity": "anonymous",
        "name": "Sam",
        "contact": "s@x.org",
        "organisation": "royal_papworth",
        "organisation_other": "Hospice",
        "told": ["nobody"],
        "told_outcome": "resolved",
        "description": "kept as it is",
    }
    assert tidy(CONCERN, answers) == {
        "identity": "anonymous",
        "organisation": "royal_papworth",
        "told": ["nobody"],
        "description": "kept as it is",
    }
    named = {**answers, "identity": "named"}
    assert tidy(CONCERN, named)["name"] == "Sam"


def test_walk_follows_the_answers() -> None:
    anonymous = walk(
        CONCERN_MACHINE,
        CONCERN,
        conv("review", identity="anonymous", danger="no", told=["nobody"]),
        "review",
    )
    assert anonymous[-1] == "identity"
    assert "danger_now" not in anonymous and "told_outcome" not in anonymous
    named = walk(
        CONCERN_MACHINE,
        CONCERN,
        conv("review", identity="named", danger="patient", told=["tpd"]),
        "review",
    )
    assert named[-3:] == ("identity", "name", "contact")
    assert "danger_now" in named and "told_outcome" in named


def test_guards_read_answers() -> None:
    assert Guards({"told": ["a", "b"]}).has_told_someone()
    assert not Guards({"told": ["nobody"]}).has_told_someone()
    assert not Guards({}).is_not_anonymous()


def test_diagrams_in_docs_are_current() -> None:
    """Regenerate with: concernbot diagram --write docs/journeys.md"""
    on_disk = (ROOT / "docs" / "journeys.md").read_text(encoding="utf-8")
    assert on_disk == diagrams(), (
        "docs/journeys.md is stale: run concernbot diagram --write docs/journeys.md"
    )
    for journey in JOURNEYS.values():
        for state in journey.states:
            assert f'state "{state}" as {state}' in on_disk
