"""The guards the journeys' transitions name (`is_*`, `has_*`, `wants_*`), over the answers.

`dialogues.machines` moves a journey's one `Guards` model, handed each conversation's answers;
`dialogues.dependents` asks the same guards whether an answer still follows from the others.
`Facts` is what they need from the content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dialogues.journeys import (
    CHANGE,
    CONCERN,
    DETAILS_IN,
    PRIVACY_CHECK,
    STORY_PROPOSALS,
    proposed_items,
)
from dialogues.records import Answers


@dataclass(frozen=True)
class Facts:
    """What the guards need from the content: the learner groups that are students, and
    the roles each group is offered when asked whom they told."""

    students: frozenset[str] = frozenset()
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)


NO_FACTS = Facts()


class Guards:
    """The model a machine moves: the answers it is handed, and the guards that read them."""

    state: str

    def __init__(
        self,
        answers: Answers,
        editing: bool = False,
        intent: str | None = None,
        facts: Facts = NO_FACTS,
    ):
        self.answers = answers
        self.editing = editing
        self.intent = intent
        self.facts = facts

    def is_editing(self) -> bool:
        return self.editing

    def is_in_danger(self) -> bool:
        return self.answers.get("danger") in ("patient", "learner")

    def has_proposals(self) -> bool:
        return bool(self.answers.get(STORY_PROPOSALS))

    def is_correcting_story(self) -> bool:
        """Some of the story's reading is wrong, and there is more than one part to choose."""
        wrong = self.answers.get("story_check") == "some_wrong"
        return wrong and len(proposed_items(self.answers, CONCERN.story_items)) > 1

    def is_student(self) -> bool:
        return self.answers.get("group") in self.facts.students

    def is_other_organisation(self) -> bool:
        return self.answers.get("organisation") == "other"

    def has_other_controls(self) -> bool:
        controls = self.answers.get("controls")
        return isinstance(controls, list) and "other" in controls

    def is_not_anonymous(self) -> bool:
        return self.answers.get("identity") in ("named", "confidential")

    def has_roles_of_group(self) -> bool:
        """Everyone ticked as told is on the list the learner's group is offered (true while
        the group or its list is not known)."""
        group, told = self.answers.get("group"), self.answers.get("told")
        offered = self.facts.roles.get(group) if isinstance(group, str) else None
        if offered is None or not isinstance(told, list):
            return True
        return set(told) <= offered | {"nobody"}

    def has_told_someone(self) -> bool:
        told = self.answers.get("told")
        return isinstance(told, list) and bool(told) and "nobody" not in told

    def has_identifying_details(self) -> bool:
        """Submit found something in the learner's words that could identify someone."""
        return bool(self.answers.get(DETAILS_IN))

    def is_changing_words(self) -> bool:
        """The learner chose at the privacy check to change their words themselves."""
        return self.editing and self.answers.get(PRIVACY_CHECK) == CHANGE

    def has_details_in_description(self) -> bool:
        return self._holds_details("description")

    def has_details_in_controls_detail(self) -> bool:
        return self._holds_details("controls_detail")

    def has_details_in_actions(self) -> bool:
        return self._holds_details("actions")

    def _holds_details(self, step: str) -> bool:
        holding = self.answers.get(DETAILS_IN)
        return isinstance(holding, list) and step in holding

    def wants_browse(self) -> bool:
        return self.intent == "browse"

    def wants_more(self) -> bool:
        return self.intent == "more"
