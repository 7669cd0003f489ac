"""Each step asked as a reply: its words, its buttons, and how it is answered.

Most steps say their prompt. A few say more, each worded by the module that owns it: the
review (`dialogues.review`), the check of what the story said (`dialogues.proposals`), the
check of the learner's words before sending (`dialogues.privacy_check`), and the learner at
risk, who reads about their own safety rather than a patient's.
"""

from __future__ import annotations

from dialogues.bundle import Content
from dialogues.journeys import PRIVACY_CHECK
from dialogues.privacy_check import PrivacyCheck
from dialogues.proposals import StoryCheck
from dialogues.records import Conversation
from dialogues.review import Review
from dialogues.steps import Steps
from dialogues.turns import Reply


class Questions:
    def __init__(
        self,
        content: Content,
        steps: Steps,
        review: Review,
        story: StoryCheck,
        privacy: PrivacyCheck,
    ) -> None:
        self.prompts = content.prompts
        self.steps = steps
        self.review = review
        self.story = story
        self.privacy = privacy

    def ask(self, conversation: Conversation, note: str | None = None) -> Reply:
        """The current step asked as a reply, with its options; `note` comes first."""
        step = conversation.state
        text = self.prompts.step(step)
        if step == "review":
            body = self.review.text(conversation)
        elif step == "story_check":
            body = text.prompt.format(items=self.story.lines(conversation))
        elif step == PRIVACY_CHECK:
            body = self.privacy.text(conversation)
        elif step == "danger_now" and conversation.answer_text("danger") == "learner":
            body = text.label("learner")  # the learner's own safety, not the patient's
        else:
            body = text.prompt
        if step == "standards" and not self.steps.standard_candidates(conversation):
            body += "\n" + text.label("none_suggested")
        if note:
            body = note + "\n\n" + body
        return Reply(
            text=body,
            step=step,
            options=self.steps.options(step, conversation),
            multi=text.kind == "multi",
            expects_text=text.kind == "text",
            typed=self.steps.shown(step, conversation) == 1 and text.kind == "choice",
        )
