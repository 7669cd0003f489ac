"""Pathway advice: one pure function over decision tables that encode the bot's policy.

The policy (DOMAIN.md): immediate danger first; start at pathway 1 and move one level up
when a level did not resolve it or did not answer; skip a level that is unsuitable for the
concern, saying why; extreme risk means alerting the Quality team now, high risk means the
team would expect to hear if it is not resolved quickly. Each table row is tested.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogues.records import Advice

TOP_LEVEL = 3

# The ladder: (highest level raised, what came of it) -> (how far to move, reason key).
# 0 means "not raised with anyone yet"; None matches any outcome.
STAY, UP = 0, 1
LADDER: tuple[tuple[int | None, str | None, int, str], ...] = (
    (0, None, UP, "start_local"),
    (None, "resolved", STAY, "resolved"),
    (None, "waiting", STAY, "give_time"),
    (None, "unresolved", UP, "unresolved_up"),
    (None, "no_answer", UP, "no_answer_up"),
    (None, "unable", UP, "unable_up"),
    (None, None, STAY, "give_time"),  # raised, outcome not recorded: wait, then move up
)

# Barriers: a level that is unsuitable for this concern is skipped, with a reason.
BARRIERS: dict[str, tuple[frozenset[int], str]] = {
    "none": (frozenset(), ""),
    "involves_local": (frozenset({1}), "involves_local"),
    "involves_school": (frozenset({2}), "involves_school"),
    "fear": (frozenset({1}), "fear"),
}

# The risk overlay by band key: alert the team now, or the team would expect to hear.
RISK_OVERLAY: dict[str, tuple[bool, bool]] = {
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
    barrier: str = "none"
    band: str | None = None
    danger_now: str = "no"
    patient_risk: str = "no"


def _ladder(raised: int, outcome: str | None) -> tuple[int, str]:
    for row_raised, row_outcome, move, reason in LADDER:
        if row_raised in (None, raised) and row_outcome in (None, outcome):
            return raised + move, reason
    raise ValueError(f"no ladder row for raised={raised} outcome={outcome!r}")


def advise(situation: Situation) -> Advice:
    """The pathway level to use next, why, and the safety and risk flags around it."""
    if situation.barrier not in BARRIERS:
        raise ValueError(f"unknown barrier {situation.barrier!r}")
    level, reason = _ladder(situation.raised_level, situation.outcome)
    reasons = [reason]
    if level > TOP_LEVEL:
        level, reasons = TOP_LEVEL, ["top_level"]
    unsuitable, barrier_reason = BARRIERS[situation.barrier]
    skipped = []
    while level in unsuitable and level < TOP_LEVEL:
        skipped.append(level)
        level += 1
    if skipped:
        reasons.append(barrier_reason)
    alert_now, team_expects = RISK_OVERLAY.get(situation.band or "", (False, False))
    return Advice(
        level=level,
        reasons=tuple(reasons),
        act_now=situation.danger_now in DANGER_NOW,
        incident_reminder=situation.danger_now == "patient"
        or situation.patient_risk in PATIENT_HARM,
        alert_team_now=alert_now,
        team_would_expect=team_expects,
        skipped_levels=tuple(skipped),
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


REASON_KEYS = frozenset(
    [row[3] for row in LADDER] + [r for _, r in BARRIERS.values() if r] + ["top_level"]
)
