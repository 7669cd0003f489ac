"""The two journeys, declared as data, and the one shared state machine for each.

A conversation is a state name plus answers. Each turn a light `Guards` model is attached
to the journey's shared machine at the conversation's state, the `next` trigger moves it,
and it is detached again: no machine per user, nothing pickled.

For one source state, transitions are tried in the order written: branches first, then the
return to the review when an answer was being edited, then the usual next step.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from transitions import Machine
from transitions.extensions import GraphMachine

from dialogues.records import Answers, Conversation

SUBMITTED = "submitted"
ANSWERED = "answered"

T = dict[str, Any]


def _chain(states: Sequence[str]) -> list[T]:
    return [{"trigger": "next", "source": a, "dest": b} for a, b in itertools.pairwise(states)]


@dataclass(frozen=True)
class Journey:
    """A journey: its states in order, its transitions, and which answers the review shows."""

    name: str
    states: tuple[str, ...]
    transitions: tuple[T, ...]
    reviewable: tuple[str, ...] = ()
    # An answer kept only while its guard holds (say, a name only when not anonymous).
    dependent: Mapping[str, str] | None = None

    @property
    def initial(self) -> str:
        return self.states[0]

    @property
    def questions(self) -> tuple[str, ...]:
        return tuple(s for s in self.states if s not in (SUBMITTED, ANSWERED))


CONCERN_MAIN = (
    "danger", "group", "organisation", "site", "programme", "description", "started",
    "frequency", "topics", "standards", "affected", "patient_risk", "controls",
    "controls_detail", "likelihood", "impact", "score", "actions", "told", "barrier",
    "wants_team", "identity", "review",
)  # fmt: skip
CONCERN_REVIEWABLE = (
    "danger", "group", "organisation", "organisation_other", "site", "programme",
    "description", "started", "frequency", "topics", "standards", "affected",
    "patient_risk", "controls", "controls_detail", "likelihood", "impact", "actions",
    "told", "told_outcome", "barrier", "wants_team", "identity", "name", "contact",
)  # fmt: skip

CONCERN = Journey(
    name="concern",
    states=(
        "danger",
        "danger_now",
        "group",
        "organisation",
        "organisation_other",
        "site",
        "programme",
        "description",
        "started",
        "frequency",
        "topics",
        "standards",
        "domain",
        "domain_standards",
        "affected",
        "patient_risk",
        "controls",
        "controls_detail",
        "likelihood",
        "impact",
        "score",
        "actions",
        "told",
        "told_outcome",
        "barrier",
        "wants_team",
        "identity",
        "name",
        "contact",
        "review",
        SUBMITTED,
    ),
    transitions=(
        # Branches, taken whether or not an answer is being edited.
        {"trigger": "next", "source": "danger", "dest": "danger_now", "conditions": "is_in_danger"},
        {
            "trigger": "next",
            "source": "organisation",
            "dest": "organisation_other",
            "conditions": "needs_organisation_name",
        },
        {"trigger": "next", "source": "topics", "dest": "standards"},
        {"trigger": "next", "source": "standards", "dest": "domain", "conditions": "wants_browse"},
        {"trigger": "next", "source": "domain", "dest": "domain_standards"},
        {"trigger": "next", "source": "domain_standards", "dest": "standards"},
        {
            "trigger": "next",
            "source": "told",
            "dest": "told_outcome",
            "conditions": "needs_outcome",
        },
        {"trigger": "next", "source": "identity", "dest": "name", "conditions": "needs_name"},
        {"trigger": "next", "source": "name", "dest": "contact", "conditions": "needs_contact"},
        # Back to the review after changing an answer there.
        {
            "trigger": "next",
            "source": [*CONCERN_REVIEWABLE, "danger_now"],
            "dest": "review",
            "conditions": "is_editing",
        },
        # The usual way through.
        *_chain(CONCERN_MAIN),
        {"trigger": "next", "source": "danger_now", "dest": "group"},
        {"trigger": "next", "source": "organisation_other", "dest": "site"},
        {"trigger": "next", "source": "told_outcome", "dest": "barrier"},
        {"trigger": "next", "source": "contact", "dest": "review"},
        {"trigger": "submit", "source": "review", "dest": SUBMITTED},
    ),
    reviewable=CONCERN_REVIEWABLE,
    dependent={
        "organisation_other": "is_other_organisation",
        "told_outcome": "has_told_someone",
        "name": "is_not_anonymous",
        "contact": "is_not_anonymous",
    },
)

PATHWAY = Journey(
    name="pathway",
    states=("danger", "danger_now", "group", "told", "told_outcome", "barrier", ANSWERED),
    transitions=(
        {"trigger": "next", "source": "danger", "dest": "danger_now", "conditions": "is_in_danger"},
        {
            "trigger": "next",
            "source": "told",
            "dest": "told_outcome",
            "conditions": "needs_outcome",
        },
        *_chain(("danger", "group", "told", "barrier", ANSWERED)),
        {"trigger": "next", "source": "danger_now", "dest": "group"},
        {"trigger": "next", "source": "told_outcome", "dest": "barrier"},
    ),
    dependent={"told_outcome": "has_told_someone"},
)

JOURNEYS: Mapping[str, Journey] = {j.name: j for j in (CONCERN, PATHWAY)}


class Guards:
    """The model a machine moves for one turn: the answers, and the guards that read them."""

    state: str

    def __init__(self, answers: Answers, editing: bool = False, intent: str | None = None):
        self.answers = answers
        self.editing = editing
        self.intent = intent

    def _has(self, key: str) -> bool:
        return self.answers.get(key) is not None

    def is_editing(self) -> bool:
        return self.editing

    def is_in_danger(self) -> bool:
        return self.answers.get("danger") in ("patient", "learner")

    def is_other_organisation(self) -> bool:
        return self.answers.get("organisation") == "other"

    def is_not_anonymous(self) -> bool:
        return self.answers.get("identity") in ("named", "confidential")

    def has_told_someone(self) -> bool:
        told = self.answers.get("told")
        return isinstance(told, list) and bool(told) and "nobody" not in told

    def wants_browse(self) -> bool:
        return self.intent == "browse"

    # A follow-up is asked on the way through, and when editing only if it is missing.
    def needs_organisation_name(self) -> bool:
        return self.is_other_organisation() and not (
            self.editing and self._has("organisation_other")
        )

    def needs_outcome(self) -> bool:
        return self.has_told_someone() and not (self.editing and self._has("told_outcome"))

    def needs_name(self) -> bool:
        return self.is_not_anonymous() and not (self.editing and self._has("name"))

    def needs_contact(self) -> bool:
        return self.is_not_anonymous() and not (self.editing and self._has("contact"))


def build_machine(journey: Journey) -> Machine:
    """The journey's one shared machine; models are attached per turn."""
    return Machine(
        model=None,
        states=list(journey.states),
        transitions=[dict(t) for t in journey.transitions],
        initial=journey.initial,
        auto_transitions=False,
    )


def next_state(
    machine: Machine, conversation: Conversation, trigger: str = "next", intent: str | None = None
) -> str:
    """Where the journey goes from the conversation's state on `trigger`."""
    guards = Guards(conversation.answers, conversation.editing, intent)
    machine.add_model(guards, initial=conversation.state)
    try:
        guards.trigger(trigger)  # type: ignore[attr-defined]  # added by transitions
        return guards.state
    finally:
        machine.remove_model(guards)


def walk(
    machine: Machine, journey: Journey, conversation: Conversation, stop: str
) -> tuple[str, ...]:
    """The states the usual way through passes, given these answers, before reaching `stop`."""
    path: list[str] = []
    state = journey.initial
    plain = replace(conversation, editing=False)
    while state != stop and len(path) < len(journey.states):
        path.append(state)
        state = next_state(machine, replace(plain, state=state))
    return tuple(path)


def tidy(journey: Journey, answers: Answers) -> dict[str, Any]:
    """The answers without any that no longer apply, such as a name after choosing anonymity."""
    guards = Guards(answers)
    dependent = journey.dependent or {}
    return {
        key: value
        for key, value in answers.items()
        if key not in dependent or getattr(guards, dependent[key])()
    }


def mermaid(journey: Journey) -> str:
    """The journey as a Mermaid state diagram, generated from the same declaration."""
    graph_machine = GraphMachine(
        model=Guards({}),
        states=list(journey.states),
        transitions=[dict(t) for t in journey.transitions],
        initial=journey.initial,
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title=f"The {journey.name} journey",
    )
    source: str = graph_machine.get_graph().draw(None)
    title = f"The {journey.name} journey"
    # transitions writes the bare title as front matter; Mermaid wants `title:`, and a long
    # journey reads better top to bottom.
    source = source.replace(f"---\n{title}\n---", f"---\ntitle: {title}\n---", 1)
    source = source.replace("direction LR", "direction TB", 1)
    return source.rstrip() + "\n"
