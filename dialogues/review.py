"""The review: the whole concern as a short summary in sections, before anything is sent.

Each section (About you, Where, What happened, Risk, Who knows, Sending and privacy) shows
its answers in words; its one Change button asks that section's questions again. What the
learner's story answered is marked, so nothing inferred is filed unseen.
"""

from __future__ import annotations

from dialogues.bundle import Content
from dialogues.journeys import FROM_STORY, JOURNEYS
from dialogues.records import Conversation
from dialogues.steps import Steps
from dialogues.wording import Wording

# Typed free text is shown in part; the whole stays in the concern.
EXCERPT = 200
# Answers given in the same words as a step's own: shown after it.
ALSO = {"organisation": ("site",)}


class Review:
    def __init__(self, content: Content, steps: Steps, wording: Wording) -> None:
        self.prompts = content.prompts
        self.alert = content.prompts.alert
        self.steps = steps
        self.wording = wording

    def text(self, conversation: Conversation) -> str:
        """The review message: the prompt, then each section with an answer, in order."""
        prompts = self.prompts
        review = prompts.step("review")
        lines = [review.prompt]
        for name in self.steps.review_sections(conversation):
            section = next(s for s in JOURNEYS[conversation.journey].sections if s.name == name)
            lines += ["", review.label(name)]
            lines += self._lines(section.steps, conversation)
        return "\n".join(lines)

    def _lines(self, steps: tuple[str, ...], conversation: Conversation) -> list[str]:
        say = self.prompts.say
        from_story = set(conversation.answer_list(FROM_STORY))
        shown: set[str] = set()
        lines = []
        for step in steps:
            key = self.steps.answer_key(step)
            if key in shown or key not in conversation.answers:
                continue
            shown.add(key)
            title = self.prompts.step(step).title
            answer = self.wording.answer(step, conversation, excerpt=EXCERPT)
            if step == "name":
                contact = conversation.answer_text("contact")
                answer = ", ".join(part for part in (answer, contact) if part)
            mark = f" {say('review_from_story')}" if key in from_story else ""
            lines.append(f"• {say('review_line', title=title, answer=answer)}{mark}")
            for extra in ALSO.get(step, ()):
                value = conversation.answer_text(extra)
                if value:
                    line = say("review_line", title=self.alert[extra], answer=value)
                    mark = f" {say('review_from_story')}" if extra in from_story else ""
                    lines.append(f"• {line}{mark}")
            if step == "impact":
                lines.append(f"• {self.wording.score(conversation)}")
        return lines
