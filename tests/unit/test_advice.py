"""Every row of the advice decision tables, with expectations written out by hand."""

from __future__ import annotations

import pytest

from dialogues.advice import BARRIERS, LADDER, RISK_OVERLAY, Situation, advise, queue_for_team

# The ladder: raised where, what came of it -> advised level and reason.
LADDER_CASES = [
    (0, None, 1, "start_local"),
    (1, "resolved", 1, "resolved"),
    (2, "resolved", 2, "resolved"),
    (1, "waiting", 1, "give_time"),
    (2, "waiting", 2, "give_time"),
    (1, "unresolved", 2, "unresolved_up"),
    (2, "unresolved", 3, "unresolved_up"),
    (1, "no_answer", 2, "no_answer_up"),
    (2, "no_answer", 3, "no_answer_up"),
    (1, "unable", 2, "unable_up"),
    (2, "unable", 3, "unable_up"),
    (1, None, 1, "give_time"),  # raised, but what came of it was not recorded
]


@pytest.mark.parametrize(("raised", "outcome", "level", "reason"), LADDER_CASES)
def test_ladder_row(raised: int, outcome: str | None, level: int, reason: str) -> None:
    advice = advise(Situation(raised_level=raised, outcome=outcome))
    assert advice.level == level
    assert advice.reasons == (reason,)
    assert not advice.skipped_levels


def test_every_ladder_row_has_a_case_above() -> None:
    """Each table row is the first match for at least one case, so none goes untested."""
    matched = set()
    for raised, outcome, _, _ in LADDER_CASES:
        matched.add(
            next(
                i
                for i, (r_raised, r_outcome, _, _) in enumerate(LADDER)
                if r_raised in (None, raised) and r_outcome in (None, outcome)
            )
        )
    assert matched == set(range(len(LADDER)))


def test_raised_at_the_top_and_still_unresolved_stays_at_the_top() -> None:
    advice = advise(Situation(raised_level=3, outcome="unresolved"))
    assert advice.level == 3
    assert advice.reasons == ("top_level",)


@pytest.mark.parametrize(
    ("barrier", "raised", "outcome", "level", "skipped", "reason"),
    [
        ("none", 0, None, 1, (), None),
        ("involves_local", 0, None, 2, (1,), "involves_local"),
        ("involves_school", 1, "unresolved", 3, (2,), "involves_school"),
        ("involves_school", 0, None, 1, (), None),  # level 2 is not reached, nothing skipped
        ("fear", 0, None, 2, (1,), "fear"),
        ("fear", 1, "unresolved", 2, (), None),  # already past level 1
    ],
)
def test_barrier_row(
    barrier: str,
    raised: int,
    outcome: str | None,
    level: int,
    skipped: tuple[int, ...],
    reason: str | None,
) -> None:
    advice = advise(Situation(raised_level=raised, outcome=outcome, barrier=barrier))
    assert advice.level == level
    assert advice.skipped_levels == skipped
    assert (reason in advice.reasons) if reason else len(advice.reasons) == 1


def test_every_barrier_row_is_covered_above() -> None:
    assert set(BARRIERS) == {"none", "involves_local", "involves_school", "fear"}


@pytest.mark.parametrize(
    ("band", "alert_now", "team_expects"),
    [
        ("extreme", True, False),
        ("high", False, True),
        ("moderate", False, False),
        ("low", False, False),
        (None, False, False),
    ],
)
def test_risk_overlay_row(band: str | None, alert_now: bool, team_expects: bool) -> None:
    advice = advise(Situation(band=band))
    assert advice.alert_team_now is alert_now
    assert advice.team_would_expect is team_expects
    assert advice.level == 1  # the overlay never changes the ladder


def test_every_overlay_row_is_covered_above() -> None:
    assert set(RISK_OVERLAY) == {"extreme", "high"}


@pytest.mark.parametrize(
    ("danger", "patient_risk", "act_now", "incident"),
    [
        ("patient", "no", True, True),
        ("learner", "no", True, False),
        ("no", "harmed", False, True),
        ("no", "could_be", False, True),
        ("no", "not_sure", False, False),
        ("no", "no", False, False),
    ],
)
def test_danger_and_patient_harm(
    danger: str, patient_risk: str, act_now: bool, incident: bool
) -> None:
    advice = advise(Situation(danger_now=danger, patient_risk=patient_risk))
    assert advice.act_now is act_now
    assert advice.incident_reminder is incident


@pytest.mark.parametrize(
    ("situation", "wants", "queued"),
    [
        (Situation(), "yes", True),
        (Situation(), "if_advised", False),
        (Situation(band="extreme"), "if_advised", True),
        (Situation(raised_level=2, outcome="unresolved"), "if_advised", True),
        (Situation(band="extreme"), "no", False),  # the learner's no is respected
        (Situation(), "no", False),
    ],
)
def test_queue_for_team(situation: Situation, wants: str, queued: bool) -> None:
    assert queue_for_team(advise(situation), wants) is queued


def test_unknown_barrier_is_refused() -> None:
    with pytest.raises(ValueError, match="barrier"):
        advise(Situation(barrier="nonsense"))
