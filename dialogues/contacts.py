"""Whom the advice names and where it points the learner for support: a pure choice of
content lines for one learner's advice.

Contacts fit the learner's group and the advised level. The Quality team is named with its
address at level 3. A regulator is named only at level 3, as an "also", and only where
patients may be at risk or the education provider itself is involved: a trainee whose
teaching is cancelled is not sent to a regulator. The Freedom to Speak Up Guardian is
named at every level. Routes beside the pathway come with their conditions from
pathways.toml, and the support for the person, from support.toml, ends every advice.
Every line is a `Fact`, so the wording can mark the unconfirmed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from dialogues.advice import TOP_LEVEL
from dialogues.catalogue import Catalogue
from dialogues.content_files import Fact
from dialogues.pathways import OTHER_ORGANISATION, LearnerGroup, Route
from dialogues.records import Advice

# A level's own roles, for a learner whose group is not known; these few are said apart.
SHARED_ROLES = frozenset({"speak_up_guardian", "quality_team", "regulator", "cqc"})
LEVELS_SOURCE = "levels"  # the pathways file's own source and flag, at its top


def patient_safety(advice: Advice) -> bool:
    """A patient was or could be harmed, or is at risk now."""
    return advice.incident_reminder or advice.danger == "patient"


def not_urgent(advice: Advice) -> bool:
    """Nobody is at risk now and the risk is not extreme: the yearly surveys fit."""
    return not (advice.act_now or advice.alert_team_now)


# When each route beside the pathway is named (pathways.toml `when`).
WHEN: Mapping[str, Callable[[Advice], bool]] = {
    "always": lambda advice: True,
    "patient_safety": patient_safety,
    "not_urgent": not_urgent,
}

# Why a regulator becomes an "also" contact at level 3, by wording key; the first that holds.
REGULATOR_REASONS: tuple[tuple[str, Callable[[Advice], bool]], ...] = (
    ("also_patient_safety", patient_safety),
    ("also_provider", lambda advice: advice.provider_involved),
)


@dataclass(frozen=True)
class AdviceLines:
    """The fact lines of one advice, by section, in the order they are shown."""

    contacts: tuple[Fact, ...]
    routes: tuple[Fact, ...]
    support: tuple[Fact, ...]

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self.contacts + self.routes + self.support


def advice_lines(
    catalogue: Catalogue, advice: Advice, group_key: str | None, university_key: str | None
) -> AdviceLines:
    return AdviceLines(
        contact_lines(catalogue, advice, group_key),
        tuple(route.fact for route in related_routes(catalogue, advice, group_key)),
        support_lines(catalogue, group_key, university_key, advice.local_unsuitable),
    )


def _safe(facts: Iterable[Fact], local_unsuitable: bool) -> list[Fact]:
    """The lines a learner can use: none based at their placement when it is not safe for
    them to go there (the people there are involved, or they fear raising it there)."""
    return [fact for fact in facts if not (local_unsuitable and fact.placement)]


def contact_lines(catalogue: Catalogue, advice: Advice, group_key: str | None) -> tuple[Fact, ...]:
    """Whom to contact at the advised level: the group's own people, the Quality team at
    level 3, the Freedom to Speak Up Guardian, and a regulator where it fits."""
    pathways = catalogue.pathways
    group = _group(catalogue, group_key)
    if group is not None:
        lines = _safe(group.contacts[advice.level], advice.local_unsuitable)
    else:
        level = pathways.level(advice.level)
        lines = [
            Fact(role.label, LEVELS_SOURCE, pathways.confirmed)
            for role in level.roles
            if role.key not in SHARED_ROLES
        ]
    if advice.level == TOP_LEVEL:
        lines.append(quality_team_line(catalogue))
    lines.append(pathways.speak_up)
    regulator = regulator_line(catalogue, advice, group)
    if regulator is not None:
        lines.append(regulator)
    return tuple(lines)


def quality_team_line(catalogue: Catalogue) -> Fact:
    """The Quality team by name, with its address."""
    pathways = catalogue.pathways
    email = quality_team_email(catalogue)
    text = catalogue.support.say("quality_team", name=pathways.quality_team_name, email=email.text)
    return Fact(text, email.source, email.confirmed)


def quality_team_email(catalogue: Catalogue) -> Fact:
    pathways = catalogue.pathways
    return Fact(
        pathways.quality_team_email, pathways.quality_team_source, pathways.quality_team_confirmed
    )


def regulator_line(catalogue: Catalogue, advice: Advice, group: LearnerGroup | None) -> Fact | None:
    """The group's regulator as an "also" at level 3, where patient safety or the education
    provider itself is in question; otherwise none."""
    if group is None or advice.level != TOP_LEVEL:
        return None
    for key, applies in REGULATOR_REASONS:
        if applies(advice):
            text = catalogue.support.say(key, regulator=group.regulator.text)
            return Fact(text, group.regulator.source, group.regulator.confirmed)
    return None


def related_routes(
    catalogue: Catalogue, advice: Advice, group_key: str | None
) -> tuple[Route, ...]:
    """Routes beside the pathway for this group whose condition holds, in content order."""
    return tuple(
        route
        for route in catalogue.pathways.routes
        if route.for_group(group_key)
        and WHEN[route.when](advice)
        and _safe((route.fact,), advice.local_unsuitable)
    )


def support_lines(
    catalogue: Catalogue,
    group_key: str | None,
    university_key: str | None,
    local_unsuitable: bool = False,
) -> tuple[Fact, ...]:
    """Support for the person: the lines for their group and for everyone, in content order,
    leaving out those based at the placement when the learner cannot safely go there."""
    support = catalogue.support
    university = next(
        (u.name for u in catalogue.universities if u.key == university_key != OTHER_ORGANISATION),
        support.say("your_university"),
    )
    lines = (line.fact for line in support.lines if line.for_group(group_key))
    return tuple(fact.filled(university=university) for fact in _safe(lines, local_unsuitable))


def _group(catalogue: Catalogue, group_key: str | None) -> LearnerGroup | None:
    return next((g for g in catalogue.pathways.groups if g.key == group_key), None)
