"""The learner's own words, checked for identifying details before the concern is sent.

When the learner presses Submit, `check` reads the free-text answers the journey names
(`CHECKED_WORDS`: what happened, what else is being done, what would put it right; not the
name and contact, which the learner gives on purpose) with `dialogues.identifying`, and
notes which of them hold a detail. The journey then shows the check, or files the concern at
once when nothing was found. Nothing is filed before the learner decides at the check:

- replace: `settle` puts the neutral words in place of every detail, and that is filed;
- keep: the words are filed as typed;
- change: each answer holding a detail is asked again, as an edit (so /back returns to the
  review), then the review, where Submit checks the words again.

At the review no decision stands (`reset`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from dialogues.bundle import Content
from dialogues.identifying import Finding, apply_replacements, find_identifying, review_lines
from dialogues.journeys import CHANGE, CHECKED_WORDS, DETAILS_IN, PRIVACY_CHECK, REPLACE
from dialogues.records import Conversation

REVIEW = "review"
# The list of findings, with its heading, stays within BUDGET characters (the rest are
# counted, not listed), so that the whole check fits a phone's screen (600 characters with
# its question and buttons); each finding is quoted up to QUOTE characters.
BUDGET = 300
QUOTE = 40


class PrivacyCheck:
    """The check of the learner's words, over one content bundle."""

    def __init__(self, content: Content) -> None:
        self.rules = content.identifying
        self.prompts = content.prompts

    def findings(self, conversation: Conversation) -> tuple[tuple[str, Finding], ...]:
        """Each detail found, with the step whose answer holds it, in the journey's order."""
        return tuple(
            (step, finding)
            for step in CHECKED_WORDS
            for finding in find_identifying(conversation.answer_text(step) or "", self.rules)
        )

    def check(self, conversation: Conversation) -> Conversation:
        """Submit pressed: the answers that hold a detail, noted for the journey's guards."""
        holding = list(dict.fromkeys(step for step, _ in self.findings(conversation)))
        checked = conversation.without_answers(PRIVACY_CHECK, DETAILS_IN)
        return checked.with_answer(DETAILS_IN, holding) if holding else checked

    def settle(self, conversation: Conversation) -> Conversation:
        """The learner's decision at the check, carried out before the journey moves on."""
        if conversation.state != PRIVACY_CHECK:
            return conversation
        decision = conversation.answer_text(PRIVACY_CHECK)
        if decision == REPLACE:
            return self.replaced(conversation)
        if decision == CHANGE:
            # Asked again as from the review: the answer shown, Keep offered, /back to it.
            return replace(conversation, editing=True)
        return conversation

    def reset(self, conversation: Conversation) -> Conversation:
        """At the review no decision about the words stands: Submit checks them again."""
        if conversation.state != REVIEW:
            return conversation
        if PRIVACY_CHECK not in conversation.answers and DETAILS_IN not in conversation.answers:
            return conversation
        return conversation.without_answers(PRIVACY_CHECK, DETAILS_IN)

    def replaced(self, conversation: Conversation) -> Conversation:
        """Every checked answer with the neutral words in place of each detail in it."""
        for step in CHECKED_WORDS:
            text = conversation.answer_text(step)
            if text:
                found = find_identifying(text, self.rules)
                conversation = conversation.with_answer(step, apply_replacements(text, found))
        return conversation

    def text(self, conversation: Conversation) -> str:
        """The check's message: each detail quoted from the learner's words, what would take
        its place, the plain warning for an anonymous learner, and the question."""
        anonymous = conversation.answer_text("identity") == "anonymous"
        found = [finding for _, finding in self.findings(conversation)]
        shown = [replace(f, text=_quoted(f.text)) for f in found]
        lines = list(review_lines(shown, self.rules, anonymous=anonymous))
        items = len(shown)
        lines = _within_budget(lines, items, self.rules.words.more)
        return self.prompts.step(PRIVACY_CHECK).prompt.format(findings="\n".join(lines))


def _quoted(text: str) -> str:
    """A finding as quoted to the learner: on one line, and short."""
    text = " ".join(text.split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1].rstrip() + "…"


def _within_budget(lines: Sequence[str], items: int, more: str) -> list[str]:
    """The heading lines, then as many items as fit the budget, the rest counted (the line
    that counts them fits the budget too)."""
    head, rest = list(lines[: len(lines) - items]), list(lines[len(lines) - items :])
    if sum(len(line) for line in lines) <= BUDGET:
        return [*head, *rest]
    room = BUDGET - sum(len(line) for line in head) - len(more.format(count=len(rest)))
    kept: list[str] = []
    for line in rest:
        if len(line) > room and kept:
            break
        kept.append(line)
        room -= len(line)
    return [*head, *kept, more.format(count=len(rest) - len(kept))]
