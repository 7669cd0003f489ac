"""All content in one validated bundle: the catalogue, the prompts, and their cross-checks.

`load_content` is what start-up calls. Beyond each file's own checks it makes sure the
prompts fit the journeys and the policy: every step has its words, every choice the code
branches on exists, every reason the advice can give has a text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dialogues.advice import BARRIERS, REASON_KEYS, RELATED_KEYS, RESIDENT_DOCTORS
from dialogues.catalogue import DEFAULT_CONTENT_DIR, Catalogue, ContentError, load_catalogue
from dialogues.journeys import JOURNEYS
from dialogues.prompts import FILE, Prompts, load_prompts
from dialogues.synonyms import Synonyms, check_synonyms, load_synonyms

# The two "are you sure?" questions, asked outside the journeys; each is answered yes or no.
CANCEL_STEP, RESTART_STEP = "_cancel", "_restart"
CONFIRMATION_KEYS = frozenset({"yes", "no"})

# Steps whose choices come from the other content files rather than from prompts.toml.
DYNAMIC_CHOICES = frozenset(
    {"group", "organisation", "topics", "standards", "domain", "domain_standards",
     "likelihood", "impact", "told", "review"}
)  # fmt: skip

# Choice keys the journeys and the advice branch on: a content edit must keep them.
REQUIRED_CHOICES: Mapping[str, frozenset[str]] = {
    "danger": frozenset({"patient", "learner", "no"}),
    "patient_risk": frozenset({"harmed", "could_be", "no", "not_sure"}),
    "controls": frozenset({"none"}),
    "told_outcome": frozenset({"resolved", "waiting", "unresolved", "no_answer", "unable"}),
    "barrier": frozenset(BARRIERS),
    "wants_team": frozenset({"yes", "if_advised", "no"}),
    "identity": frozenset({"named", "confidential", "anonymous"}),
}

# What kind of question each step is: the engine relies on it, so content cannot change it.
KINDS: Mapping[str, str] = {
    **dict.fromkeys(
        ("danger", "group", "organisation", "started", "frequency", "domain", "affected",
         "patient_risk", "likelihood", "impact", "told_outcome", "barrier", "wants_team",
         "identity", "review"), "choice"),
    **dict.fromkeys(("topics", "standards", "domain_standards", "controls", "told"), "multi"),
    **dict.fromkeys(("organisation_other", "site", "programme", "description",
                     "controls_detail", "actions", "name", "contact"), "text"),
    **dict.fromkeys(("danger_now", "score"), "info"),
}  # fmt: skip

# Extra button labels a step needs.
REQUIRED_LABELS: Mapping[str, frozenset[str]] = {
    "danger_now": frozenset({"continue"}),
    "score": frozenset({"continue"}),
    "topics": frozenset({"not_sure"}),
    "standards": frozenset({"browse", "not_sure", "none_suggested"}),
    "told": frozenset({"nobody"}),
    "review": frozenset({"submit"}),
}


@dataclass(frozen=True)
class Content:
    catalogue: Catalogue
    prompts: Prompts

    version: str
    synonyms: Synonyms


def _check(catalogue: Catalogue, prompts: Prompts) -> None:
    for journey in JOURNEYS.values():
        for state in journey.questions:
            if state not in prompts.steps:
                raise ContentError(
                    FILE, f"steps.{state}", f"missing (used by the {journey.name} journey)"
                )
    for name, step in prompts.steps.items():
        if name in KINDS and step.kind != KINDS[name]:
            raise ContentError(FILE, f"steps.{name}.kind", f"must be {KINDS[name]!r} for this step")
        keys = {key for key, _ in step.choices}
        if name in DYNAMIC_CHOICES and keys:
            raise ContentError(
                FILE, f"steps.{name}.choices", "comes from other content files; remove it"
            )
        if step.kind in ("choice", "multi") and name not in DYNAMIC_CHOICES and not keys:
            raise ContentError(FILE, f"steps.{name}.choices", "missing")
        missing = REQUIRED_CHOICES.get(name, frozenset()) - keys
        if missing:
            raise ContentError(FILE, f"steps.{name}.choices.{sorted(missing)[0]}", "missing")
        missing = REQUIRED_LABELS.get(name, frozenset()) - set(step.labels)
        if missing:
            raise ContentError(FILE, f"steps.{name}.{sorted(missing)[0]}", "missing")
    for route in sorted(RELATED_KEYS - set(catalogue.pathways.related)):
        raise ContentError("pathways.toml", f"related.{route}", "missing")
    if not any(group.key == RESIDENT_DOCTORS for group in catalogue.pathways.groups):
        raise ContentError("pathways.toml", "groups", f"no group with key {RESIDENT_DOCTORS!r}")
    for reason in sorted(REASON_KEYS):
        if reason not in prompts.reasons:
            raise ContentError(FILE, f"reasons.{reason}", "missing")


def offered_keys(catalogue: Catalogue, prompts: Prompts) -> dict[str, frozenset[str]]:
    """Every key each step can offer, buttons that act included: what synonyms may name."""
    framework, pathways = catalogue.framework, catalogue.pathways
    roles = {r.key for level in pathways.levels if level.number < 3 for r in level.roles}
    reviewable = {step for journey in JOURNEYS.values() for step in journey.reviewable}
    standards = {s.id for s in framework.standards}
    dynamic = {
        "group": {g.key for g in pathways.groups},
        "organisation": {o.key for o in catalogue.organisations},
        "topics": {t.key for t in framework.topics} | {"not_sure"},
        "standards": standards | {"not_sure", "browse"},
        "domain": {str(d.number) for d in framework.domains},
        "domain_standards": standards,
        "likelihood": {str(level.score) for level in catalogue.risk.likelihood},
        "impact": {str(level.score) for level in catalogue.risk.impact},
        "told": roles | {"nobody"},
        "review": {f"edit:{step}" for step in reviewable} | {"submit"},
    }
    offered = {CANCEL_STEP: CONFIRMATION_KEYS, RESTART_STEP: CONFIRMATION_KEYS}
    for name, step in prompts.steps.items():
        keys = dynamic.get(name, {key for key, _ in step.choices})
        actions = {
            "multi": {"done"},
            "info": {"continue"},
            "text": {"skip"} if step.optional else set(),
        }.get(step.kind, set())
        if keys or actions:
            offered[name] = frozenset(keys | actions)
    return offered


def load_content(directory: Path = DEFAULT_CONTENT_DIR) -> Content:
    """Load and validate every content file; ContentError names the file and key at fault."""
    catalogue = load_catalogue(directory)
    prompts = load_prompts(directory)
    _check(catalogue, prompts)
    synonyms = load_synonyms(directory)
    check_synonyms(synonyms, offered_keys(catalogue, prompts))
    # The version lets a filed concern say which wording it was raised against.
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return Content(catalogue, prompts, digest.hexdigest()[:12], synonyms)
