"""The journeys' machines: one shared transitions machine per journey, moving conversations.

Each turn a light `Guards` model is attached to the journey's shared machine at the
conversation's state, the `next` trigger moves it, and it is detached again: no machine per
user, nothing pickled. `next_state` also applies what the journeys declare beside their
transitions: steps the learner's story answered are passed over, and a review section being
changed is asked to its end before the review.
"""

from __future__ import annotations

from dataclasses import replace

from transitions import Machine
from transitions.extensions import GraphMachine

from dialogues.guards import NO_FACTS, Facts, Guards
from dialogues.journeys import FROM_STORY, JOURNEYS, Journey
from dialogues.records import Conversation

# States a "next" can leave: every question (the review and the ends are left otherwise).
_ONWARD = frozenset(s for j in JOURNEYS.values() for s in j.questions if s != "review")


def build_machine(journey: Journey) -> Machine:
    """The journey's one shared machine; models are attached per turn."""
    return Machine(
        model=None,
        states=list(journey.states),
        transitions=[dict(t) for t in journey.transitions],
        initial=journey.initial,
        auto_transitions=False,
    )


def _move(
    machine: Machine,
    conversation: Conversation,
    state: str,
    trigger: str = "next",
    intent: str | None = None,
    facts: Facts = NO_FACTS,
) -> str:
    guards = Guards(conversation.answers, conversation.editing, intent, facts)
    machine.add_model(guards, initial=state)
    try:
        guards.trigger(trigger)  # type: ignore[attr-defined]  # added by transitions
        return guards.state
    finally:
        machine.remove_model(guards)


def next_state(
    machine: Machine,
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
    journey = JOURNEYS[conversation.journey]
    state = _move(machine, conversation, conversation.state, trigger, intent, facts)
    if trigger != "next":
        return state
    guards = Guards(conversation.answers, conversation.editing, intent, facts)
    if journey.edit_follows is not None and getattr(guards, journey.edit_follows)():
        return state
    if conversation.editing:
        section = journey.section_of(conversation.state)
        while section is not None and state not in section.steps and state in _ONWARD:
            state = _move(machine, conversation, state, facts=facts)
        return state if section is not None and state in section.steps else "review"
    from_story = conversation.answers.get(FROM_STORY)
    told_by_story = from_story if isinstance(from_story, list) else []
    while state in journey.prefilled and state in told_by_story:
        state = _move(machine, conversation, state, facts=facts)
    return state


def walk(
    machine: Machine,
    journey: Journey,
    conversation: Conversation,
    stop: str,
    facts: Facts = NO_FACTS,
) -> tuple[str, ...]:
    """The states the usual way through passes, given these answers, before reaching `stop`."""
    path: list[str] = []
    state = journey.initial
    plain = replace(conversation, editing=False)
    while state != stop and len(path) < len(journey.states):
        path.append(state)
        state = next_state(machine, replace(plain, state=state), facts=facts)
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
