"""All content in one validated bundle: the catalogue, the prompts, and their cross-checks.

`load_content` is what start-up (and `concernbot content check`) calls. Beyond each file's
own checks it makes sure the prompts fit the journeys and the policy: every step has its
words, every choice the code branches on exists, every reason the advice can give has a
text, and the story rules propose only options their steps offer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dialogues.advice import BARRIERS, NO_BARRIER, REASON_KEYS
from dialogues.catalogue import DEFAULT_CONTENT_DIR, Catalogue, ContentError, load_catalogue
from dialogues.identifying_rules import IdentifyingRules, load_identifying
from dialogues.journeys import DECISIONS, JOURNEYS, PRIVACY_CHECK
from dialogues.prompts import FILE, Prompts, load_prompts
from dialogues.synonyms import Synonyms, check_synonyms, load_synonyms

if TYPE_CHECKING:
    from dialogues.story_rules import StoryRules

# The two "are you sure?" questions, asked outside the journeys; each is answered yes or no.
CANCEL_STEP, RESTART_STEP = "_cancel", "_restart"
CONFIRMATION_KEYS = frozenset({"yes", "no"})

# Steps whose choices come from the other content files rather than from prompts.toml.
DYNAMIC_CHOICES = frozenset(
    {"story_wrong", "group", "group_more", "university", "organisation", "topics",
     "topics_more", "standards", "domain", "domain_standards", "likelihood", "impact", "told",
     "review", PRIVACY_CHECK}  # its buttons' words are identifying.toml's
)  # fmt: skip

# Choice keys the journeys and the advice branch on: a content edit must keep them.
REQUIRED_CHOICES: Mapping[str, frozenset[str]] = {
    "danger": frozenset({"patient", "learner", "no"}),
    "danger_now": frozenset({"acted", "not_yet"}),
    "story_check": frozenset({"yes", "some_wrong"}),
    "patient_risk": frozenset({"harmed", "could_be", "no", "not_sure"}),
    "controls": frozenset({"none", "other"}),
    "told_outcome": frozenset({"resolved", "waiting", "unresolved", "no_answer", "unable"}),
    "barrier": frozenset(BARRIERS) | {NO_BARRIER},
    "wants_team": frozenset({"yes", "if_advised", "no"}),
    "identity": frozenset({"named", "confidential", "anonymous"}),
}

# What kind of question each step is: the engine relies on it, so content cannot change it.
KINDS: Mapping[str, str] = {
    **dict.fromkeys(
        ("danger", "danger_now", "story_check", "group", "group_more", "university",
         "organisation", "started", "frequency", "domain", "affected", "patient_risk",
         "likelihood", "impact", "told_outcome", "wants_team", "identity", "review",
         PRIVACY_CHECK), "choice"),
    **dict.fromkeys(("story_wrong", "topics", "topics_more", "standards", "domain_standards",
                     "controls", "told", "barrier"), "multi"),
    **dict.fromkeys(("organisation_other", "description", "controls_detail", "actions",
                     "name"), "text"),
}  # fmt: skip

# Extra button labels a step needs.
REQUIRED_LABELS: Mapping[str, frozenset[str]] = {
    # What to do now when the learner is the one at risk (the prompt is for a patient).
    "danger_now": frozenset({"learner"}),
    "group": frozenset({"more"}),
    "topics": frozenset({"not_sure", "more"}),
    "topics_more": frozenset({"not_sure"}),
    "standards": frozenset({"browse", "not_sure", "none_suggested"}),
    "likelihood": frozenset({"explain"}),
    "impact": frozenset({"explain"}),
    "told": frozenset({"nobody"}),
    "story_wrong": frozenset(item for item, _ in JOURNEYS["concern"].story_items),
    "review": frozenset({"submit"} | {s.name for s in JOURNEYS["concern"].sections}),
}
# Buttons that act rather than answer, offered by a step whose content gives their label.
LABELLED_ACTIONS = ("explain", "more")
# When a question is asked again from the review, its answer can be kept as it is.
KEEP = "keep"


@dataclass(frozen=True)
class Content:
    catalogue: Catalogue
    prompts: Prompts

    version: str
    synonyms: Synonyms
    story: StoryRules
    # What in a learner's words could identify someone (dialogues.identifying).
    identifying: IdentifyingRules


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
    for reason in sorted(REASON_KEYS):
        if reason not in prompts.reasons:
            raise ContentError(FILE, f"reasons.{reason}", "missing")


def offered_keys(catalogue: Catalogue, prompts: Prompts) -> dict[str, frozenset[str]]:
    """Every key each step can offer, buttons that act included: what synonyms may name."""
    framework, pathways = catalogue.framework, catalogue.pathways
    roles = {r.key for level in pathways.levels if level.number < 3 for r in level.roles}
    sections = {s.name for journey in JOURNEYS.values() for s in journey.sections}
    standards = {s.id for s in framework.standards}
    groups = {g.key for g in pathways.groups}
    topics = {t.key for t in framework.topics} | {"not_sure"}
    dynamic = {
        "story_wrong": {item for item, _ in JOURNEYS["concern"].story_items},
        "group": groups | {"more"},
        "group_more": groups,
        "university": {u.key for u in catalogue.universities},
        "organisation": {o.key for o in catalogue.organisations},
        "topics": topics | {"more"},
        "topics_more": topics,
        "standards": standards | {"not_sure", "browse"},
        "domain": {str(d.number) for d in framework.domains},
        "domain_standards": standards,
        "likelihood": {str(level.score) for level in catalogue.risk.likelihood} | {"explain"},
        "impact": {str(level.score) for level in catalogue.risk.impact} | {"explain"},
        "told": roles | {"nobody"},
        "review": {f"edit:{section}" for section in sections} | {"submit"},
        PRIVACY_CHECK: set(DECISIONS),
    }
    offered = {CANCEL_STEP: CONFIRMATION_KEYS, RESTART_STEP: CONFIRMATION_KEYS}
    for name, step in prompts.steps.items():
        keys = dynamic.get(name, {key for key, _ in step.choices})
        actions = {
            "multi": {"done"},
            "info": {"continue"},
            "text": {"skip"} if step.optional else set(),
        }.get(step.kind, set()) | {name for name in LABELLED_ACTIONS if name in step.labels}
        if step.kind in ("choice", "text") and name != "review":
            actions.add(KEEP)
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
    # Imported here: the story rules' cross-check reads the steps, which read this bundle.
    from dialogues.story_rules import check_story_rules, load_story_rules

    story = load_story_rules(directory)
    # The version lets a filed concern say which wording it was raised against.
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.toml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    identifying = load_identifying(directory)
    content = Content(catalogue, prompts, digest.hexdigest()[:12], synonyms, story, identifying)
    check_story_rules(story, content)
    return content
