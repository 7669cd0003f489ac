"""Composed texts: an answer as the person would read it, the review, the score, the advice."""

from __future__ import annotations

from dialogues.advice import related_routes
from dialogues.bundle import Content
from dialogues.filing import rating
from dialogues.records import Advice, Conversation
from dialogues.steps import Steps

REVIEW_EXCERPT = 300


class Wording:
    def __init__(self, content: Content, steps: Steps) -> None:
        self.content = content
        self.prompts = content.prompts
        self.steps = steps

    def answer(self, step: str, conversation: Conversation, excerpt: int | None = None) -> str:
        """A given answer in words: labels for choices, the text itself for typed answers."""
        say = self.prompts.say
        if step not in conversation.answers:
            return say("nothing")
        value = conversation.answers[step]
        if value is None:
            return say("skipped")
        labels = dict(self.steps.choices(step, conversation))
        if isinstance(value, list):
            return "; ".join(labels.get(k, k) for k in value) or say("nothing")
        text = labels.get(str(value), str(value))
        if excerpt is not None and len(text) > excerpt:
            return text[: excerpt - 1].rstrip() + "…"
        return text

    def review(self, conversation: Conversation) -> str:
        lines = [self.prompts.step("review").prompt, ""]
        for step in self.steps.reviewable(conversation):
            title = self.prompts.step(step).title
            answer = self.answer(step, conversation, excerpt=REVIEW_EXCERPT)
            lines.append(self.prompts.say("review_line", title=title, answer=answer))
        rated = rating(self.content, conversation)
        if rated is not None:
            lines.append(self.score(conversation))
        return "\n".join(lines)

    def score(self, conversation: Conversation) -> str:
        rated = rating(self.content, conversation)
        if rated is None:
            return self.prompts.say("score_unknown")
        band = self.content.catalogue.risk.band_for(rated[0])
        return self.prompts.step("score").prompt.format(
            likelihood=conversation.answer_text("likelihood"),
            impact=conversation.answer_text("impact"),
            score=rated[0],
            symbol=band.symbol,
            band=band.label,
            explanation=band.explanation,
        )

    def advice(self, advice: Advice, group_key: str | None) -> str:
        """The advice: level, reasons, whom to contact, and the safety and risk notes."""
        say = self.prompts.say
        pathways = self.content.catalogue.pathways
        level = pathways.level(advice.level)
        email = pathways.quality_team_email
        lines = []
        if advice.act_now:
            lines += [say("advice_act_now"), ""]
        lines.append(say("advice_heading", level=level.name))
        lines.append(level.summary)
        lines += ["", say("advice_why")]
        lines += [f"• {self.prompts.reasons[r]}" for r in advice.reasons]
        group = next((g for g in pathways.groups if g.key == group_key), None)
        contacts = group.contacts[advice.level] if group else tuple(r.label for r in level.roles)
        lines += ["", say("advice_contacts")]
        lines += [f"• {c}" for c in contacts]
        lines.append(
            "• " + say("advice_speak_up", name=pathways.speak_up_name, text=pathways.speak_up_text)
        )
        notes = [pathways.related[key] for key in related_routes(advice, group_key)]
        if advice.incident_reminder:
            notes.append(say("advice_incident", text=pathways.incident_reporting))
        if advice.alert_team_now:
            notes.append(say("advice_alert_now", email=email))
        if advice.team_would_expect:
            notes.append(say("advice_team_expects", email=email))
        if not pathways.confirmed:
            notes.append(say("advice_unconfirmed"))
        if notes:
            lines += ["", *notes]
        return "\n".join(lines)
