"""The plain records the core hands out and takes back: conversations, concerns, advice.

Everything here is serialisable to JSON through `to_dict`/`from_dict`, so storage keeps
only names and answers, never a pickled machine. Answers hold str, int, bool, None or
lists of str.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeAlias

Answer: TypeAlias = str | int | bool | list[str] | None
Answers: TypeAlias = Mapping[str, Answer]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


BARRIER = "barrier"
# Before issue 9 a learner chose one barrier, and "fear" meant fear of raising it locally:
# answers and rows kept then read as this version asks the question.
LEGACY_BARRIERS = {"fear": "fear_local"}


def barrier_keys(value: object) -> tuple[str, ...]:
    """The barriers however they were kept: a list, one key, or keys joined by commas (the
    concerns table keeps them so, in the text column of the single key they replaced)."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = [str(item) for item in value]
    else:
        return ()
    keys = (LEGACY_BARRIERS.get(item.strip(), item.strip()) for item in items)
    return tuple(dict.fromkeys(key for key in keys if key))


def _frozen(answers: Mapping[str, Answer]) -> Mapping[str, Answer]:
    """A read-only copy, with lists copied so nobody shares them."""
    copied = {k: list(v) if isinstance(v, list) else v for k, v in answers.items()}
    if BARRIER in copied and copied[BARRIER] is not None:
        copied[BARRIER] = list(barrier_keys(copied[BARRIER]))
    return MappingProxyType(copied)


@dataclass(frozen=True)
class Conversation:
    """Where one chat is in one journey: a state name plus the answers given so far."""

    key: str
    owner: str
    journey: str
    state: str
    answers: Answers = field(default_factory=dict)
    trail: tuple[str, ...] = ()
    editing: bool = False
    paused: bool = False
    interrupt: str | None = None
    version: int = 0
    created_at: datetime = EPOCH
    updated_at: datetime = EPOCH

    def __post_init__(self) -> None:
        object.__setattr__(self, "answers", _frozen(self.answers))
        object.__setattr__(self, "trail", tuple(self.trail))

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def with_answer(self, key: str, value: Answer) -> Conversation:
        return replace(self, answers={**self.answers, key: value})

    def without_answers(self, *keys: str) -> Conversation:
        return replace(self, answers={k: v for k, v in self.answers.items() if k not in keys})

    def answer_text(self, key: str) -> str | None:
        value = self.answers.get(key)
        return value if isinstance(value, str) else None

    def answer_list(self, key: str) -> list[str]:
        value = self.answers.get(key)
        return list(value) if isinstance(value, list) else []


FINAL_STATES = frozenset({"submitted", "answered", "cancelled"})


@dataclass(frozen=True)
class Advice:
    """What the learner is told to do next, and why (reasons are content keys)."""

    level: int
    reasons: tuple[str, ...]
    act_now: bool = False
    incident_reminder: bool = False
    alert_team_now: bool = False
    team_would_expect: bool = False
    skipped_levels: tuple[int, ...] = ()
    # Who is at risk now: "patient", "learner" or "no"; each has its own act-now text.
    danger: str = "no"
    # Level 1 is unsuitable (the people there are involved, or the learner fears raising it
    # there): no line may tell this learner to act locally.
    local_unsuitable: bool = False
    # The school or education provider is itself involved, feared, or has failed to act: the
    # regulator becomes a fitting "also" contact.
    provider_involved: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reasons": list(self.reasons),
            "act_now": self.act_now,
            "incident_reminder": self.incident_reminder,
            "alert_team_now": self.alert_team_now,
            "team_would_expect": self.team_would_expect,
            "skipped_levels": list(self.skipped_levels),
            "danger": self.danger,
            "local_unsuitable": self.local_unsuitable,
            "provider_involved": self.provider_involved,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Advice:
        return cls(
            level=int(data["level"]),
            reasons=tuple(data["reasons"]),
            act_now=bool(data.get("act_now", False)),
            incident_reminder=bool(data.get("incident_reminder", False)),
            alert_team_now=bool(data.get("alert_team_now", False)),
            team_would_expect=bool(data.get("team_would_expect", False)),
            skipped_levels=tuple(data.get("skipped_levels", ())),
            danger=str(data.get("danger", "patient" if data.get("act_now") else "no")),
            local_unsuitable=bool(data.get("local_unsuitable", False)),
            provider_involved=bool(data.get("provider_involved", False)),
        )


@dataclass(frozen=True)
class Concern:
    """A submitted concern: the fields of a Quality Concerns Alert plus what the bot advised.

    `owner` is the channel's key for the reporter, kept only so replies can travel back
    through the bot; it is never shown to the Quality team.
    """

    reference: str
    owner: str
    identity: str  # named | confidential | anonymous
    reporter_name: str | None
    reporter_contact: str | None
    learner_group: str
    organisation: str
    organisation_other: str | None
    site: str | None
    programme: str | None
    description: str
    started: str
    frequency: str
    topics: tuple[str, ...]
    standards: tuple[str, ...]
    likelihood: int
    impact: int
    score: int
    band: str
    controls: tuple[str, ...]
    controls_detail: str | None
    further_actions: str | None
    told: tuple[str, ...]
    told_outcome: str | None
    # Why a level is unsuitable: "none", or barrier keys (see `dialogues.advice.BARRIERS`).
    barrier: tuple[str, ...]
    affected: str
    danger_now: str
    patient_risk: str
    wants_team: str
    advice: Advice
    queued_for_team: bool
    status: str
    content_version: str
    created_at: datetime
    # A student's university (their level-2 contact), by key; None for other learners.
    university: str | None = None

    def __post_init__(self) -> None:
        for name in ("topics", "standards", "controls", "told", "barrier"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


CONCERN_FIELDS = tuple(f.name for f in fields(Concern))
