"""The journeys' machines: one shared transitions machine per journey, moving conversations.

Each journey's machine is built once with its one model, a `Guards` over whatever answers it
is handed, decorated by transitions once, there. A move sets the model's answers and its
state directly (`machine.set_state`), fires the trigger and reads where the model went:
nothing is attached or detached per move (attaching binds a method per trigger and state,
and a walk to the review makes some twenty moves), no machine per user, nothing pickled. A
lock makes one machine's moves take turns, as turns run in threads. `next_state` also
applies what the journeys declare beside their transitions: steps the learner's story
answered are passed over, and a review section being changed is asked to its end before the
review.
"""

from __future__ import annotations

import threading

from transitions import Machine
from transitions.extensions import GraphMachine

from dialogues.guards import NO_FACTS, Facts, Guards
from dialogues.journeys import FROM_STORY, JOURNEYS, Journey
from dialogues.records import Answers, Conversation

# States a "next" can leave: every question (the review and the ends are left otherwise).
_ONWARD = frozenset(s for j in JOURNEYS.values() for s in j.questions if s != "review")


class JourneyMachine:
    """A journey's one shared transitions machine and the one model it moves."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.model = Guards({})  # decorated by the machine once, here
        self.machine = Machine(
            model=self.model,
            states=list(journey.states),
            transitions=[dict(t) for t in journey.transitions],
            initial=journey.initial,
            auto_transitions=False,
        )
        self._moving = threading.Lock()

    def move(
        self,
        answers: Answers,
        state: str,
        trigger: str = "next",
        editing: bool = False,
        intent: str | None = None,
        facts: Facts = NO_FACTS,
    ) -> str:
        """Where `trigger` takes a conversation with these answers from `state`."""
        model = self.model
        with self._moving:
            model.answers, model.editing = answers, editing
            model.intent, model.facts = intent, facts
            self.machine.set_state(state, model)
            try:
                model.trigger(trigger)  # type: ignore[attr-defined]  # added by transitions
                return model.state
            finally:
                model.answers, model.facts = {}, NO_FACTS  # nothing kept past the move


def build_machine(journey: Journey) -> JourneyMachine:
    """The journey's one shared machine, with its one model."""
    return JourneyMachine(journey)


def next_state(
    machine: JourneyMachine,
    conversation: Conversation,
    trigger: str = "next",
    intent: str | None = None,
    facts: Facts = NO_FACTS,
) -> str:
    """Where the journey goes from the conversation's state on `trigger`.

    On the way through, steps the learner confirmed from their story are passed over. When a
    review section is being changed, the rest of that section is asked, then the review
    (unless the journey's `edit_follows` guard holds: then the transitions lead).
    """
    return _onward(
        machine,
        JOURNEYS[conversation.journey],
        conversation.answers,
        conversation.state,
        trigger,
        conversation.editing,
        intent,
        facts,
    )


def _onward(
    machine: JourneyMachine,
    journey: Journey,
    answers: Answers,
    state: str,
    trigger: str = "next",
    editing: bool = False,
    intent: str | None = None,
    facts: Facts = NO_FACTS,
) -> str:
    """`next_state` for a conversation's parts (a walk has no conversation at each step)."""
    moved = machine.move(answers, state, trigger, editing, intent, facts)
    if trigger != "next":
        return moved
    guards = Guards(answers, editing, intent, facts)
    if journey.edit_follows is not None and getattr(guards, journey.edit_follows)():
        return moved
    if editing:
        section = journey.section_of(state)
        while section is not None and moved not in section.steps and moved in _ONWARD:
            moved = machine.move(answers, moved, facts=facts, editing=True)
        return moved if section is not None and moved in section.steps else "review"
    from_story = answers.get(FROM_STORY)
    told_by_story = from_story if isinstance(from_story, list) else []
    while moved in journey.prefilled and moved in told_by_story:
        moved = machine.move(answers, moved, facts=facts)
    return moved


def walk(
    machine: JourneyMachine,
    journey: Journey,
    conversation: Conversation,
    stop: str,
    facts: Facts = NO_FACTS,
) -> tuple[str, ...]:
    """The states the usual way through passes, given these answers, before reaching `stop`."""
    path: list[str] = []
    state = journey.initial
    while state != stop and len(path) < len(journey.states):
        path.append(state)
        state = _onward(machine, journey, conversation.answers, state, facts=facts)
    return tuple(path)


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
