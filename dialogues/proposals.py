"""The learner's story, checked: what the story reader proposes, shown with its reasons, and
turned into answers only once the learner has confirmed it.

The engine asks this module, after each answer, whether the story changes anything
(`settle`): a story told (or told again) is read into proposals, kept with the conversation
as `field=value`; a "yes, that's right" or a list of the parts that are wrong turns the
rest into answers, and notes which steps they answer, so the journey passes over them
(`dialogues.journeys`, `prefilled`) and the review marks them. Nothing here is filed: every
proposal is on the check screen first, and on the review after. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from dialogues.bundle import Content
from dialogues.journeys import FROM_STORY, JOURNEYS, STORY_PROPOSALS
from dialogues.records import Answer, Conversation
from dialogues.steps import Steps
from dialogues.story import Proposal, read_story, word_reason

STORY_STEP, CHECK_STEP, WRONG_STEP = "description", "story_check", "story_wrong"
# The check screen's list stays within BUDGET characters: the learner's words quoted for
# each proposal are cut to the first of these lengths that fits (0: left out, for a story
# that says a great deal).
BUDGET = 440
EVIDENCE = (40, 24, 0)


class StoryCheck:
    """Proposals from the story, and the learner's check of them, over one content bundle."""

    def __init__(self, content: Content, steps: Steps) -> None:
        self.rules = content.story
        self.prompts = content.prompts
        self.steps = steps
        # A story told is read to propose, then again, in the same turn, to show the check
        # screen: the last reading is kept for the second (reading is most of that turn).
        # Kept in memory only, until the next story is read.
        self._read = lru_cache(maxsize=1)(self._read_story)

    def _read_story(self, text: str) -> tuple[Proposal, ...]:
        return read_story(text, self.rules)

    def settle(self, conversation: Conversation) -> Conversation:
        """The conversation after its current step was answered, as far as the story goes."""
        step = conversation.state
        if conversation.editing:
            # Answered again from the review: the learner's own answer now, not the story's.
            key = self.steps.answer_key(step)
            earlier = conversation.answer_list(FROM_STORY)
            if key in earlier:
                return conversation.with_answer(FROM_STORY, [k for k in earlier if k != key])
            return conversation
        if step == STORY_STEP:
            return self.propose(conversation)
        if step == CHECK_STEP and conversation.answer_text(CHECK_STEP) == "yes":
            return self.accept(conversation, wrong=())
        items = self.steps.story_items(conversation)
        if step == CHECK_STEP and len(items) == 1:
            return self.accept(conversation, wrong=items)  # the one part there is: asked
        if step == WRONG_STEP:
            return self.accept(conversation, wrong=conversation.answer_list(WRONG_STEP))
        return conversation

    # -- reading -------------------------------------------------------------------------

    def proposals(self, conversation: Conversation) -> tuple[Proposal, ...]:
        """What the story answers, among the steps the journey lets it answer."""
        journey = JOURNEYS[conversation.journey]
        found = self._read(conversation.answer_text(STORY_STEP) or "")
        kept = [p for p in found if p.field in journey.prefilled]
        proposed = next((p.value for p in kept if p.field == "group"), None)
        group = proposed or conversation.answer_text("group")
        # Whom the learner told, in their group's words: a role the group never has is dropped.
        roles = {key for key, _ in self.steps.told_roles(group)}
        kept = [p for p in kept if p.field != "told" or p.value in roles | {"nobody"}]
        if not any(p.field == "told" and p.value != "nobody" for p in kept):
            kept = [p for p in kept if p.field != "told_outcome"]
        return tuple(kept)

    def propose(self, conversation: Conversation) -> Conversation:
        """A story told (again): what it said before no longer stands; its proposals wait."""
        cleared = self._forget(conversation).without_answers(CHECK_STEP, WRONG_STEP)
        proposed = [f"{p.field}={p.value}" for p in self.proposals(cleared)]
        return cleared.with_answer(STORY_PROPOSALS, proposed)

    # -- showing -------------------------------------------------------------------------

    def lines(self, conversation: Conversation) -> str:
        """The proposals under the headings the learner can mark wrong, each with the words
        it came from: "Who knows: Ward or placement manager ('told the ward manager')"."""
        pending = set(conversation.answer_list(STORY_PROPOSALS))
        proposals = [p for p in self.proposals(conversation) if f"{p.field}={p.value}" in pending]
        journey = JOURNEYS[conversation.journey]
        wrong = self.prompts.step(WRONG_STEP)
        for evidence in EVIDENCE:
            lines = []
            for item, fields in journey.story_items:
                reasons = [
                    self._reason(p, conversation, evidence)
                    for field in fields
                    for p in proposals
                    if p.field == field
                ]
                if reasons:
                    line = self.prompts.say(
                        "story_line", heading=wrong.label(item), reasons="; ".join(reasons)
                    )
                    lines.append(line)
            text = "\n".join(lines)
            if len(text) <= BUDGET:
                break
        return text or self.prompts.say("story_none")

    def _reason(self, proposal: Proposal, conversation: Conversation, longest: int) -> str:
        label = self._label(proposal, conversation)
        if not longest:
            return label  # a story that says a great deal: its words are on the review
        evidence = " ".join(proposal.evidence.split())
        if len(evidence) > longest:
            evidence = evidence[: longest - 1].rstrip() + "…"
        shown = Proposal(proposal.field, proposal.value, evidence, 0, 0, proposal.phrase)
        return word_reason(shown, self.rules, label)

    def _label(self, proposal: Proposal, conversation: Conversation) -> str:
        group = self._value(conversation, "group")
        context = conversation.with_answer("group", group) if group else conversation
        labels = dict(self.steps.choices(proposal.field, context))
        return labels.get(proposal.value, proposal.value)

    def _value(self, conversation: Conversation, field: str) -> str | None:
        for pending in conversation.answer_list(STORY_PROPOSALS):
            name, _, value = pending.partition("=")
            if name == field:
                return value
        return conversation.answer_text(field)

    # -- accepting -----------------------------------------------------------------------

    def accept(self, conversation: Conversation, wrong: Sequence[str]) -> Conversation:
        """The proposals the learner did not mark wrong, as answers; the rest will be asked."""
        journey = JOURNEYS[conversation.journey]
        items = dict(journey.story_items)
        refused = {field for item in wrong for field in items.get(item, ())}
        answers: dict[str, Answer] = {}
        for pending in conversation.answer_list(STORY_PROPOSALS):
            field, _, value = pending.partition("=")
            if field in refused or field not in journey.prefilled:
                continue
            if self.rules.field(field).multiple:
                current = answers.get(field)
                answers[field] = [*(current if isinstance(current, list) else []), value]
            else:
                answers[field] = value
        accepted = self._forget(conversation)
        for field, given in answers.items():
            accepted = accepted.with_answer(field, given)
        if "topics" in answers and "standards" not in refused:
            answers["standards"] = list(self.steps.preticked(accepted))
            accepted = accepted.with_answer("standards", answers["standards"])
        if "organisation" in answers and accepted.answers.get("site") is None:
            # The place as the learner named it ("Broomfield"), as if typed at the question.
            place = next((p for p in self.proposals(accepted) if p.field == "organisation"), None)
            if place is not None and place.value == answers["organisation"]:
                answers["site"] = " ".join(place.evidence.split())
                accepted = accepted.with_answer("site", answers["site"])
        return accepted.with_answer(FROM_STORY, list(answers))

    def _forget(self, conversation: Conversation) -> Conversation:
        """Without the answers an earlier reading of the story gave."""
        earlier = conversation.answer_list(FROM_STORY)
        return conversation.without_answers(*earlier, FROM_STORY)
