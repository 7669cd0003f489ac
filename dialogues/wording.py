"""Composed texts: an answer as the person would read it, the score, the advice."""

from __future__ import annotations

from dialogues.bundle import Content
from dialogues.contacts import advice_lines, quality_team_email
from dialogues.filing import advice_for, rating
from dialogues.records import Advice, Conversation
from dialogues.steps import Steps

# The first lines of the advice when someone is at risk now, by who is at risk and whether
# the learner's placement is a place they can act (message keys).
ACT_NOW = {
    ("patient", False): "advice_act_now",
    ("patient", True): "advice_act_now_not_local",
    ("learner", False): "advice_act_now_learner",
    ("learner", True): "advice_act_now_learner",
}


class Wording:
    def __init__(self, content: Content, steps: Steps) -> None:
        self.content = content
        self.prompts = content.prompts
        self.steps = steps

    def answer(self, step: str, conversation: Conversation, excerpt: int | None = None) -> str:
        """A given answer in words: labels for choices, the text itself for typed answers."""
        say = self.prompts.say
        key = self.steps.answer_key(step)
        if key not in conversation.answers:
            return say("nothing")
        value = conversation.answers[key]
        if value is None:
            return say("skipped")
        # The full names where buttons show short ones; whom a learner told in their group's
        # words, or the role's own where the group does not name it.
        labels = {
            **self.steps.role_labels(),
            **dict(self.steps.choices(step, conversation)),
            **self.steps.long_labels(step),
        }
        if step in ("standards", "domain_standards"):
            framework = self.content.catalogue.framework
            labels |= {s.id: s.button for s in framework.standards}
        if isinstance(value, list):
            return "; ".join(labels.get(k, k) for k in value) or say("nothing")
        text = labels.get(str(value), str(value))
        if excerpt is not None and len(text) > excerpt:
            return text[: excerpt - 1].rstrip() + "…"
        return text

    def score(self, conversation: Conversation) -> str:
        """The risk rating in words, once likelihood and impact are both given."""
        rated = rating(self.content, conversation)
        if rated is None:
            return self.prompts.say("score_unknown")
        band = self.content.catalogue.risk.band_for(rated[0])
        # Where the learner cannot act at their placement, the band says whom to go to instead.
        not_local = advice_for(self.content, conversation).local_unsuitable
        explanation = band.explanation_not_local if not_local else band.explanation
        return self.prompts.say(
            "score",
            likelihood=self.answer("likelihood", conversation),
            impact=self.answer("impact", conversation),
            score=rated[0],
            symbol=band.symbol,
            band=band.label,
            explanation=explanation.rstrip("."),
        )

    def explain(self, step: str) -> str:
        """What a step's options mean, on request: the risk levels' descriptions."""
        risk = self.content.catalogue.risk
        lines = [
            self.prompts.say("explain_line", label=level.label, description=level.description)
            for level in getattr(risk, step, ())
        ]
        if step == "impact":
            lines.append(risk.guidance_note)
        return "\n".join(lines) or self.prompts.step(step).help

    def advice(
        self, advice: Advice, group_key: str | None, university_key: str | None = None
    ) -> str:
        """The advice: level, reasons, whom to contact, and the safety and risk notes."""
        say = self.prompts.say
        pathways = self.content.catalogue.pathways
        level = pathways.level(advice.level)
        email = self.content.catalogue.support.mark(quality_team_email(self.content.catalogue))
        lines = []
        if advice.act_now:
            act_now = ACT_NOW[advice.danger, advice.local_unsuitable]
            lines += [say(act_now, email=email), ""]
        lines.append(say("advice_heading", level=level.name))
        lines.append(level.summary)
        lines += ["", say("advice_why")]
        lines += [f"• {self.prompts.reasons[r]}" for r in advice.reasons]
        notes = []
        if advice.alert_team_now and advice.local_unsuitable:
            notes.append(say("advice_alert_now_not_local", email=email, pathway=advice.level))
        elif advice.alert_team_now and advice.level > 1:
            # Advised above the placement: "in parallel with local action" would send the
            # learner back to a level the advice has moved past.
            notes.append(say("advice_alert_now_above", email=email, pathway=advice.level))
        elif advice.alert_team_now:
            notes.append(say("advice_alert_now", email=email))
        if advice.team_would_expect:
            notes.append(say("advice_team_expects", email=email))
        lines += ["", *self._contacts_and_support(advice, group_key, university_key, notes)]
        return "\n".join(lines)

    def _contacts_and_support(
        self,
        advice: Advice,
        group_key: str | None,
        university_key: str | None,
        notes: list[str],
    ) -> list[str]:
        """From "Whom to contact" to the end: the contacts, the routes beside the pathway and
        `notes`, then support for the person, always last. Unconfirmed lines are marked."""
        catalogue = self.content.catalogue
        support = catalogue.support
        chosen = advice_lines(catalogue, advice, group_key, university_key)
        # The notes above name the Quality team's address, itself a fact with a flag.
        email = quality_team_email(catalogue)
        marked = any(not fact.confirmed for fact in chosen.facts) or (
            bool(notes) and not email.confirmed
        )
        lines = [support.say("contacts_marked" if marked else "contacts")]
        university = next((u for u in catalogue.universities if u.key == university_key), None)
        if advice.level == 2 and university is not None and university.key != "other":
            lines.append("• " + self.prompts.say("advice_university", university=university.name))
        lines += [f"• {support.mark(fact)}" for fact in chosen.contacts]
        notes = [support.mark(fact) for fact in chosen.routes] + notes
        if notes:
            lines += ["", *notes]
        lines += ["", support.say("support")]
        lines += [f"• {support.mark(fact)}" for fact in chosen.support]
        return lines
