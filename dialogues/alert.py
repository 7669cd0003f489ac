"""A concern as the Quality team reads it: the fields of a Quality Concerns Alert.

One list of (label, value) pairs serves the alert card, the email, the QCA document and the
register, so they never disagree. For an anonymous concern nothing that identifies the
reporter is in it: no name, no contact, no channel id.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogues.bundle import Content
from dialogues.records import Concern, Conversation
from dialogues.steps import Steps

FIELDS = (
    "reference", "received", "status", "learner_group", "university", "organisation", "site",
    "programme",
    "standards", "topics", "description", "started", "frequency", "affected", "danger_now",
    "patient_risk", "likelihood", "impact", "score", "controls", "further_actions", "told",
    "told_outcome", "barrier", "advice", "identity", "reporter",
)  # fmt: skip


@dataclass(frozen=True)
class AlertField:
    """One field. A list (standards, topics, who has been told) also gives its `items` one by
    one, and `short` forms of them (a standard's number) for where room is scarce."""

    key: str
    label: str
    value: str
    items: tuple[str, ...] = ()
    short: tuple[str, ...] = ()


def alert_fields(concern: Concern, content: Content) -> tuple[AlertField, ...]:
    """Every field of the alert, in the form's order, in words."""
    return Alert(content).fields(concern)


class Alert:
    """The alert's words over one content bundle. Each step's labels are looked up once
    and kept, so a register of 100,000 rows builds them once, not once a row."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self._labels: dict[str, dict[str, str]] = {}
        self._words: dict[tuple[str, tuple[str, ...] | str | None], str] = {}
        risk = content.catalogue.risk
        self._known = {s.id: s for s in content.catalogue.framework.standards}
        self._likelihood = {v.score: v.label for v in risk.likelihood}
        self._impact = {v.score: v.label for v in risk.impact}

    def labels(self, step: str) -> dict[str, str]:
        """A step's choice labels, from the same place the questions take them, in full
        where a button shows a short form."""
        found = self._labels.get(step)
        if found is None:
            blank = Conversation(key="", owner="", journey="concern", state=step)
            steps = Steps(self.content)
            found = {
                **steps.role_labels(),
                **dict(steps.choices(step, blank)),
                **steps.long_labels(step),
            }
            self._labels[step] = found
        return found

    def words(self, step: str, keys: tuple[str, ...] | str | None) -> str:
        # Kept as found: a register's rows repeat a few answers (about 13 a row) many times.
        found = self._words.get((step, keys))
        if found is None:
            found = self._words[(step, keys)] = self._words_for(step, keys)
        return found

    def _words_for(self, step: str, keys: tuple[str, ...] | str | None) -> str:
        if keys is None or keys == ():
            return self.content.prompts.messages["nothing"]
        labels = self.labels(step)
        if isinstance(keys, str):
            return labels.get(keys, keys)
        return "; ".join(labels.get(k, k) for k in keys)

    def items(self, step: str, keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        labels = self.labels(step)
        words = tuple(labels.get(k, k) for k in keys)
        return words, words

    def fields(self, concern: Concern) -> tuple[AlertField, ...]:
        """Every field of the alert, in the form's order, in words."""
        values, standards = self._words_of(concern)
        alert = self.content.prompts.alert
        lists = {
            "standards": (standards, concern.standards),
            "topics": self.items("topics", concern.topics),
            "told": self.items("told", concern.told),
        }
        return tuple(
            AlertField(key, alert[key], values[key], *lists.get(key, ((), ()))) for key in FIELDS
        )

    def values(self, concern: Concern) -> list[str]:
        """The fields' values alone, in the form's order: a register row."""
        values, _ = self._words_of(concern)
        return [values[key] for key in FIELDS]

    def _words_of(self, concern: Concern) -> tuple[dict[str, str], tuple[str, ...]]:
        content = self.content
        alert = content.prompts.alert
        band = content.catalogue.risk.band_for(concern.score)
        words = self.words
        organisation = words("organisation", concern.organisation)
        if concern.organisation_other:
            organisation = f"{organisation}: {concern.organisation_other}"
        level = content.catalogue.pathways.level(concern.advice.level).name
        if concern.identity == "anonymous":
            reporter = alert["anonymous"]
        else:
            reporter = ", ".join(p for p in (concern.reporter_name, concern.reporter_contact) if p)
        known = self._known
        standards = tuple(known[s].label if s in known else s for s in concern.standards)
        likelihood = self._likelihood.get(concern.likelihood, "")
        impact = self._impact.get(concern.impact, "")
        values = {
            "reference": concern.reference,
            "received": concern.created_at.strftime("%d %b %Y %H:%M UTC"),
            "status": content.prompts.statuses.get(concern.status, concern.status),
            "learner_group": words("group", concern.learner_group),
            "university": words("university", concern.university)
            if concern.university
            else alert["not_given"],
            "organisation": organisation,
            "site": concern.site or alert["not_given"],
            "programme": concern.programme or alert["not_given"],
            "standards": "; ".join(standards),
            "topics": words("topics", concern.topics),
            "description": concern.description,
            "started": words("started", concern.started),
            "frequency": words("frequency", concern.frequency),
            "affected": words("affected", concern.affected),
            "danger_now": words("danger", concern.danger_now),
            "patient_risk": words("patient_risk", concern.patient_risk),
            "likelihood": f"{concern.likelihood} {likelihood}".strip(),
            "impact": f"{concern.impact} {impact}".strip(),
            "score": f"{concern.score} of 25: {band.symbol} {band.label} ({band.colour})",
            "controls": words("controls", concern.controls)
            + (f". {concern.controls_detail}" if concern.controls_detail else ""),
            "further_actions": concern.further_actions or alert["not_given"],
            "told": words("told", concern.told),
            "told_outcome": words("told_outcome", concern.told_outcome)
            if concern.told_outcome
            else alert["not_given"],
            "barrier": words("barrier", concern.barrier),
            "advice": level,
            "identity": words("identity", concern.identity),
            "reporter": reporter or alert["not_given"],
        }
        return values, standards
