"""Pathway advice: one pure function over decision tables that encode the bot's policy.

The policy (DOMAIN.md 1-4, 6 and 7): immediate danger first, for a patient or for the
learner; start at pathway 1 and move one level up when a level did not resolve it or did not
answer; skip every level that is unsuitable for this learner (the people there are involved,
or the learner fears what raising it there would do to them), saying why; extreme risk means
alerting the Quality team now, high risk means the team would expect to hear if it is not
resolved quickly.

Every reason speaks for one level (`REASON_LEVELS`) or rules one out (`BARRIERS`), so the
advice can be checked: it never gives a reason for a level it skipped or for a level below
the one advised, a level ruled out is never recommended, and every barrier the learner named
is answered. Each table row is tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dialogues.records import Advice

TOP_LEVEL = 3
LOCAL, PROVIDER = 1, 2

# The ladder: (highest level raised, what came of it) -> (how far to move, reason family).
# 0 means "not raised with anyone yet"; None matches any outcome.
STAY, UP = 0, 1
LADDER: tuple[tuple[int | None, str | None, int, str], ...] = (
    (0, None, UP, "start"),
    (None, "resolved", STAY, "resolved"),
    (None, "waiting", STAY, "waiting"),
    (None, "unresolved", UP, "unresolved"),
    (None, "no_answer", UP, "no_answer"),
    (None, "unable", UP, "unable"),
    (None, None, STAY, "waiting"),  # raised, outcome not recorded: wait, then move up
)
# Families that move up argue for any level above the one raised, so where the next level is
# skipped they are given for the level advised. Families that stay speak for the level
# raised only: where that level is skipped they are dropped, and `instead` speaks for the
# level advised.
MOVING = frozenset({"start", "unresolved", "no_answer", "unable"})
INSTEAD = "instead"
# Raised at the top and still not put right: stay there.
TOP = "top_level"
# Advised at pathway 1 with pathway 2 unsuitable: where to go next, past the school.
LATER = "later"


@dataclass(frozen=True)
class Barrier:
    """A reason a level is unsuitable for this learner: the level, and the reason key."""

    level: int
    reason: str


NO_BARRIER = "none"
BARRIERS: Mapping[str, Barrier] = {
    "involves_local": Barrier(LOCAL, "involves_local"),
    "involves_school": Barrier(PROVIDER, "involves_school"),
    "fear_local": Barrier(LOCAL, "fear_local"),
    "fear_school": Barrier(PROVIDER, "fear_school"),
}

# The level each reason speaks for: the one it recommends. `{family}_{level}`.
REASON_LEVELS: Mapping[str, int] = {
    "start_1": 1,
    "start_2": 2,
    "start_3": 3,
    "resolved_1": 1,
    "resolved_2": 2,
    "resolved_3": 3,
    "waiting_1": 1,
    "waiting_2": 2,
    "waiting_3": 3,
    "unresolved_2": 2,
    "unresolved_3": 3,
    "no_answer_2": 2,
    "no_answer_3": 3,
    "unable_2": 2,
    "unable_3": 3,
    "instead_2": 2,
    "instead_3": 3,
    "later_3": 3,
    TOP: 3,
}

# The risk overlay by band key: alert the team now, or the team would expect to hear.
RISK_OVERLAY: Mapping[str, tuple[bool, bool]] = {
    "extreme": (True, False),
    "high": (False, True),
}

DANGER_NOW = frozenset({"patient", "learner"})
PATIENT_HARM = frozenset({"harmed", "could_be"})


@dataclass(frozen=True)
class Situation:
    """What the advice depends on, in the answers' own terms."""

    raised_level: int = 0
    outcome: str | None = None
    barriers: frozenset[str] = frozenset()
    band: str | None = None
    danger_now: str = "no"
    patient_risk: str = "no"


def _ladder(raised: int, outcome: str | None) -> tuple[int, str]:
    for row_raised, row_outcome, move, family in LADDER:
        if row_raised in (None, raised) and row_outcome in (None, outcome):
            return raised + move, family
    raise ValueError(f"no ladder row for raised={raised} outcome={outcome!r}")


def _reason(family: str, level: int) -> str:
    key = f"{family}_{level}"
    if key not in REASON_LEVELS:
        raise ValueError(f"no reason {key!r} in REASON_LEVELS")
    return key


def unsuitable_levels(barriers: Iterable[str]) -> frozenset[int]:
    """The levels the learner's barriers rule out."""
    return frozenset(BARRIERS[b].level for b in barriers if b != NO_BARRIER)


def _ruled_out(barriers: frozenset[str], levels: Iterable[int]) -> list[str]:
    """The reasons the learner's barriers give against these levels, lowest level first."""
    wanted = set(levels)
    rows = sorted(BARRIERS.items(), key=lambda item: item[1].level)
    return [row.reason for key, row in rows if key in barriers and row.level in wanted]


def advise(situation: Situation) -> Advice:
    """The pathway level to use next, why, and the safety and risk flags around it."""
    unknown = situation.barriers - set(BARRIERS) - {NO_BARRIER}
    if unknown:
        raise ValueError(f"unknown barrier {sorted(unknown)[0]!r}")
    unsuitable = unsuitable_levels(situation.barriers)
    level, family = _ladder(situation.raised_level, situation.outcome)
    if level > TOP_LEVEL:
        level, family = TOP_LEVEL, TOP
    skipped = []
    while level in unsuitable and level < TOP_LEVEL:
        skipped.append(level)
        level += 1
    if family == TOP:
        spoken = TOP
    elif skipped and family not in MOVING:
        spoken = _reason(INSTEAD, level)
    else:
        spoken = _reason(family, level)
    # Every barrier the learner named is answered: those below the level advised first.
    reasons = [*_ruled_out(situation.barriers, range(1, level)), spoken]
    ahead = [n for n in unsuitable if n > level]
    if ahead:
        # The next level is unsuitable too: where to go if this level does not put it right.
        reasons += [*_ruled_out(situation.barriers, ahead), _reason(LATER, TOP_LEVEL)]
    alert_now, team_expects = RISK_OVERLAY.get(situation.band or "", (False, False))
    danger = situation.danger_now if situation.danger_now in DANGER_NOW else "no"
    return Advice(
        level=level,
        reasons=tuple(reasons),
        act_now=danger in DANGER_NOW,
        incident_reminder=danger == "patient" or situation.patient_risk in PATIENT_HARM,
        alert_team_now=alert_now,
        team_would_expect=team_expects,
        skipped_levels=tuple(skipped),
        danger=danger,
        local_unsuitable=LOCAL in unsuitable,
        # The education provider itself is part of the problem: only then is its regulator
        # a fitting "also". A school that has not answered, or that the learner fears, is a
        # reason for pathway 3, not for a regulator: naming the GDC to a dental trainee whose
        # teaching is cancelled is out of proportion (issue 9).
        provider_involved="involves_school" in situation.barriers,
    )


def queue_for_team(advice: Advice, wants_team: str) -> bool:
    """Whether a concern goes to the Quality team: the learner's choice, guided by the advice.

    A learner who says no is not overruled, even when the advice points to the team: many
    who fear detriment would not use the bot at all if it reported them regardless. The
    advice then tells them plainly how to contact the team themselves.
    """
    return wants_team == "yes" or (wants_team == "if_advised" and needs_team(advice))


def needs_team(advice: Advice) -> bool:
    """Whether the advice itself points to the Quality team."""
    return advice.level == TOP_LEVEL or advice.alert_team_now


REASON_KEYS = frozenset(REASON_LEVELS) | frozenset(b.reason for b in BARRIERS.values())
