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


def _labels(content: Content, step: str) -> dict[str, str]:
    """A step's choice labels, from the same place the questions take them, in full where a
    button shows a short form."""
    blank = Conversation(key="", owner="", journey="concern", state=step)
    steps = Steps(content)
    return {**steps.role_labels(), **dict(steps.choices(step, blank)), **steps.long_labels(step)}


def _words(content: Content, step: str, keys: tuple[str, ...] | str | None) -> str:
    if keys is None or keys == ():
        return content.prompts.messages["nothing"]
    labels = _labels(content, step)
    if isinstance(keys, str):
        return labels.get(keys, keys)
    return "; ".join(labels.get(k, k) for k in keys)


def alert_fields(concern: Concern, content: Content) -> tuple[AlertField, ...]:
    """Every field of the alert, in the form's order, in words."""
    alert = content.prompts.alert
    risk = content.catalogue.risk
    framework = content.catalogue.framework
    known = {s.id: s for s in framework.standards}
    band = risk.band_for(concern.score)
    likelihood = {v.score: v.label for v in risk.likelihood}
    impact = {v.score: v.label for v in risk.impact}
    organisation = _words(content, "organisation", concern.organisation)
    if concern.organisation_other:
        organisation = f"{organisation}: {concern.organisation_other}"
    level = content.catalogue.pathways.level(concern.advice.level).name
    if concern.identity == "anonymous":
        reporter = alert["anonymous"]
    else:
        reporter = ", ".join(p for p in (concern.reporter_name, concern.reporter_contact) if p)
    standards = tuple(known[s].label if s in known else s for s in concern.standards)
    values = {
        "reference": concern.reference,
        "received": concern.created_at.strftime("%d %b %Y %H:%M UTC"),
        "status": content.prompts.statuses.get(concern.status, concern.status),
        "learner_group": _words(content, "group", concern.learner_group),
        "university": _words(content, "university", concern.university)
        if concern.university
        else alert["not_given"],
        "organisation": organisation,
        "site": concern.site or alert["not_given"],
        "programme": concern.programme or alert["not_given"],
        "standards": "; ".join(standards),
        "topics": _words(content, "topics", concern.topics),
        "description": concern.description,
        "started": _words(content, "started", concern.started),
        "frequency": _words(content, "frequency", concern.frequency),
        "affected": _words(content, "affected", concern.affected),
        "danger_now": _words(content, "danger", concern.danger_now),
        "patient_risk": _words(content, "patient_risk", concern.patient_risk),
        "likelihood": f"{concern.likelihood} {likelihood.get(concern.likelihood, '')}".strip(),
        "impact": f"{concern.impact} {impact.get(concern.impact, '')}".strip(),
        "score": f"{concern.score} of 25: {band.symbol} {band.label} ({band.colour})",
        "controls": _words(content, "controls", concern.controls)
        + (f". {concern.controls_detail}" if concern.controls_detail else ""),
        "further_actions": concern.further_actions or alert["not_given"],
        "told": _words(content, "told", concern.told),
        "told_outcome": _words(content, "told_outcome", concern.told_outcome)
        if concern.told_outcome
        else alert["not_given"],
        "barrier": _words(content, "barrier", concern.barrier),
        "advice": level,
        "identity": _words(content, "identity", concern.identity),
        "reporter": reporter or alert["not_given"],
    }
    lists = {
        "standards": (standards, concern.standards),
        "topics": _items(content, "topics", concern.topics),
        "told": _items(content, "told", concern.told),
    }
    return tuple(
        AlertField(key, alert[key], values[key], *lists.get(key, ((), ()))) for key in FIELDS
    )


def _items(
    content: Content, step: str, keys: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    labels = _labels(content, step)
    words = tuple(labels.get(k, k) for k in keys)
    return words, words
