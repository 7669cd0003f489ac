"""The biggest concern the journey can file: every list full, every text at its limit.

Texts are made of what costs most once escaped for Telegram's HTML (&, <, >) and of characters
Telegram counts twice (emoji), with words and line breaks between, so that a card or a
message that fits for this concern fits for any.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dialogues.bundle import Content
from dialogues.readings import EXCLUSIVE
from dialogues.records import Advice, Concern, Conversation
from dialogues.steps import Steps

PATTERN = "Night <b>cover</b> & 'bleeps' > 3 💥 «nuit» 夜勤 &amp;\n"


def worst_text(length: int, pattern: str = PATTERN) -> str:
    """Exactly `length` characters of `pattern`, over and over, ending in a letter."""
    text = (pattern * (length // len(pattern) + 1))[: length - 1]
    return text + "x"


def choices(content: Content, step: str) -> list[tuple[str, str]]:
    blank = Conversation(key="", owner="", journey="concern", state=step)
    return list(Steps(content).choices(step, blank))


def every(content: Content, step: str) -> tuple[str, ...]:
    """Every choice of a multiple-choice step that can be ticked with the others."""
    return tuple(key for key, _ in choices(content, step) if key not in EXCLUSIVE)


def longest(content: Content, step: str) -> str:
    return max(choices(content, step), key=lambda pair: len(pair[1]))[0]


# Fields no longer asked as questions of their own (the site comes with the hospital typed,
# the contact with the name, the programme from the story), at the longest they could be.
FIELD_LIMITS = {"site": 200, "contact": 200, "programme": 200}


def limit(content: Content, step: str) -> int:
    if step in FIELD_LIMITS:
        return FIELD_LIMITS[step]
    return content.prompts.step(step).max


def worst_concern(content: Content, **changes: Any) -> Concern:
    """A confidential concern at every limit; keyword arguments replace any field."""
    contact_length = limit(content, "contact")
    concern = Concern(
        reference="QC-WWWW-WWWW",
        owner="telegram:user:4242999",
        identity="confidential",
        reporter_name=worst_text(limit(content, "name")),
        reporter_contact="a" * (contact_length - len("@example.nhs.uk")) + "@example.nhs.uk",
        learner_group=longest(content, "group"),
        organisation="other",
        organisation_other=worst_text(limit(content, "organisation_other")),
        site=worst_text(limit(content, "site")),
        programme=worst_text(limit(content, "programme")),
        description=worst_text(limit(content, "description")),
        started=longest(content, "started"),
        frequency=longest(content, "frequency"),
        topics=every(content, "topics"),
        standards=tuple(s.id for s in content.catalogue.framework.standards),
        likelihood=5,
        impact=5,
        score=25,
        band="extreme",
        controls=every(content, "controls"),
        controls_detail=worst_text(limit(content, "controls_detail")),
        further_actions=worst_text(limit(content, "actions")),
        told=every(content, "told"),
        told_outcome=longest(content, "told_outcome"),
        barrier=every(content, "barrier"),
        affected=longest(content, "affected"),
        danger_now=longest(content, "danger"),
        patient_risk=longest(content, "patient_risk"),
        wants_team="yes",
        advice=Advice(level=3, reasons=("reason.extreme",), alert_team_now=True),
        queued_for_team=True,
        status="with_provider",
        content_version=content.version,
        created_at=datetime(2026, 9, 30, 23, 59, tzinfo=UTC),
    )
    return replace(concern, **changes)
