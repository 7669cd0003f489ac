"""Every row of the advice decision tables, with expectations written out by hand, and the
properties that must hold for every situation a learner can describe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogues.advice import (
    BARRIERS,
    LADDER,
    NO_BARRIER,
    REASON_KEYS,
    REASON_LEVELS,
    RISK_OVERLAY,
    TOP_LEVEL,
    Situation,
    advise,
    queue_for_team,
    unsuitable_levels,
)
from dialogues.bundle import load_content

OUTCOMES = ("resolved", "waiting", "unresolved", "no_answer", "unable")


def situation(
    raised: int = 0, outcome: str | None = None, *barriers: str, **others: str
) -> Situation:
    return Situation(raised_level=raised, outcome=outcome, barriers=frozenset(barriers), **others)


# The ladder: raised where, what came of it -> advised level and reason.
LADDER_CASES = [
    (0, None, 1, "start_1"),
    (1, "resolved", 1, "resolved_1"),
    (2, "resolved", 2, "resolved_2"),
    (3, "resolved", 3, "resolved_3"),
    (1, "waiting", 1, "waiting_1"),
    (2, "waiting", 2, "waiting_2"),
    (3, "waiting", 3, "waiting_3"),
    (1, "unresolved", 2, "unresolved_2"),
    (2, "unresolved", 3, "unresolved_3"),
    (1, "no_answer", 2, "no_answer_2"),
    (2, "no_answer", 3, "no_answer_3"),
    (1, "unable", 2, "unable_2"),
    (2, "unable", 3, "unable_3"),
    (1, None, 1, "waiting_1"),  # raised, but what came of it was not recorded
]


@pytest.mark.parametrize(("raised", "outcome", "level", "reason"), LADDER_CASES)
def test_ladder_row(raised: int, outcome: str | None, level: int, reason: str) -> None:
    advice = advise(situation(raised, outcome))
    assert advice.level == level
    assert advice.reasons == (reason,)
    assert not advice.skipped_levels
    assert not advice.local_unsuitable


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


@pytest.mark.parametrize("outcome", ["unresolved", "no_answer", "unable"])
def test_raised_at_the_top_and_still_not_put_right_stays_at_the_top(outcome: str) -> None:
    advice = advise(situation(3, outcome))
    assert advice.level == 3
    assert advice.reasons == ("top_level",)


# The barriers: each rules out its level, and every one is answered in the reasons.
BARRIER_CASES = [
    # barriers, raised, outcome -> level, skipped, reasons
    ((), 0, None, 1, (), ("start_1",)),
    ((NO_BARRIER,), 0, None, 1, (), ("start_1",)),
    (("involves_local",), 0, None, 2, (1,), ("involves_local", "start_2")),
    (("fear_local",), 0, None, 2, (1,), ("fear_local", "start_2")),
    # Involved and afraid, nobody told: pathway 2, and nothing recommends pathway 1.
    (
        ("involves_local", "fear_local"),
        0,
        None,
        2,
        (1,),
        ("involves_local", "fear_local", "start_2"),
    ),
    # Nobody told and the school is involved: start locally, then past the school.
    (("involves_school",), 0, None, 1, (), ("start_1", "involves_school", "later_3")),
    (("fear_school",), 0, None, 1, (), ("start_1", "fear_school", "later_3")),
    (("fear_school",), 1, "waiting", 1, (), ("waiting_1", "fear_school", "later_3")),
    (("involves_school",), 1, "resolved", 1, (), ("resolved_1", "involves_school", "later_3")),
    # Both levels below the top ruled out.
    (
        ("fear_local", "fear_school"),
        0,
        None,
        3,
        (1, 2),
        ("fear_local", "fear_school", "start_3"),
    ),
    (
        ("involves_school", "involves_local"),
        0,
        None,
        3,
        (1, 2),
        ("involves_local", "involves_school", "start_3"),
    ),
    # Raised locally and not put right, and the school is ruled out: the top.
    (("involves_school",), 1, "unresolved", 3, (2,), ("involves_school", "unresolved_3")),
    (("fear_school",), 1, "no_answer", 3, (2,), ("fear_school", "no_answer_3")),
    (("fear_school",), 1, "unable", 3, (2,), ("fear_school", "unable_3")),
    # Told the TPD, no answer, and afraid at school: pathway 3, the fear answered.
    (("fear_school",), 2, "no_answer", 3, (), ("fear_school", "no_answer_3")),
    # Raised locally, waiting, but now afraid there: the next level instead.
    (("fear_local",), 1, "waiting", 2, (1,), ("fear_local", "instead_2")),
    (("involves_local",), 1, "resolved", 2, (1,), ("involves_local", "instead_2")),
    (("involves_school",), 2, "waiting", 3, (2,), ("involves_school", "instead_3")),
    # Already past the level ruled out: it is still answered, nothing is skipped.
    (("fear_local",), 1, "unresolved", 2, (), ("fear_local", "unresolved_2")),
    (("involves_local",), 3, "unresolved", 3, (), ("involves_local", "top_level")),
]


@pytest.mark.parametrize(
    ("barriers", "raised", "outcome", "level", "skipped", "reasons"), BARRIER_CASES
)
def test_barrier_row(
    barriers: tuple[str, ...],
    raised: int,
    outcome: str | None,
    level: int,
    skipped: tuple[int, ...],
    reasons: tuple[str, ...],
) -> None:
    advice = advise(situation(raised, outcome, *barriers))
    assert (advice.level, advice.skipped_levels, advice.reasons) == (level, skipped, reasons)


def test_every_barrier_row_is_covered_above() -> None:
    covered = {b for case in BARRIER_CASES for b in case[0]}
    assert set(BARRIERS) | {NO_BARRIER} == covered
    assert {key: row.level for key, row in BARRIERS.items()} == {
        "involves_local": 1,
        "involves_school": 2,
        "fear_local": 1,
        "fear_school": 2,
    }


def test_every_reason_can_be_given_and_has_words() -> None:
    given_ = {r for case in LADDER_CASES for r in (case[3],)}
    given_ |= {r for case in BARRIER_CASES for r in case[5]} | {"top_level"}
    assert given_ == REASON_KEYS
    assert set(load_content().prompts.reasons) >= REASON_KEYS


@pytest.mark.parametrize(
    ("barriers", "raised", "outcome", "local", "provider"),
    [
        ((), 0, None, False, False),
        (("involves_local",), 0, None, True, False),
        (("fear_local",), 0, None, True, False),
        (("involves_school",), 0, None, False, True),
        (("fear_school",), 0, None, False, False),  # feared: pathway 3, not a regulator
        ((), 2, "unresolved", False, False),  # being worked on: not a failed provider
        ((), 2, "no_answer", False, False),  # silent: pathway 3 is the next step
        ((), 2, "unable", False, False),
        ((), 2, "waiting", False, False),
        ((), 2, "resolved", False, False),
        ((), 1, "no_answer", False, False),  # the placement failed, not the provider
        ((), 3, "no_answer", False, False),
    ],
)
def test_local_unsuitable_and_provider_involved(
    barriers: tuple[str, ...], raised: int, outcome: str | None, local: bool, provider: bool
) -> None:
    advice = advise(situation(raised, outcome, *barriers))
    assert (advice.local_unsuitable, advice.provider_involved) == (local, provider)


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
    ("danger", "patient_risk", "act_now", "incident", "who"),
    [
        ("patient", "no", True, True, "patient"),
        ("learner", "no", True, False, "learner"),
        ("no", "harmed", False, True, "no"),
        ("no", "could_be", False, True, "no"),
        ("no", "not_sure", False, False, "no"),
        ("no", "no", False, False, "no"),
    ],
)
def test_danger_and_patient_harm(
    danger: str, patient_risk: str, act_now: bool, incident: bool, who: str
) -> None:
    advice = advise(Situation(danger_now=danger, patient_risk=patient_risk))
    assert advice.act_now is act_now
    assert advice.incident_reminder is incident
    assert advice.danger == who


@pytest.mark.parametrize(
    ("given_", "wants", "queued"),
    [
        (Situation(), "yes", True),
        (Situation(), "if_advised", False),
        (Situation(band="extreme"), "if_advised", True),
        (Situation(raised_level=2, outcome="unresolved"), "if_advised", True),
        (situation(0, None, "fear_local", "fear_school"), "if_advised", True),
        (Situation(band="extreme"), "no", False),  # the learner's no is respected
        (Situation(), "no", False),
    ],
)
def test_queue_for_team(given_: Situation, wants: str, queued: bool) -> None:
    assert queue_for_team(advise(given_), wants) is queued


def test_unknown_barrier_is_refused() -> None:
    with pytest.raises(ValueError, match="barrier"):
        advise(situation(0, None, "nonsense"))


# --- every situation ------------------------------------------------------------------------

situations = st.builds(
    Situation,
    raised_level=st.integers(0, TOP_LEVEL),
    outcome=st.sampled_from((None, *OUTCOMES)),
    barriers=st.frozensets(st.sampled_from((NO_BARRIER, *BARRIERS))),
    band=st.sampled_from((None, "low", "moderate", "high", "extreme")),
    danger_now=st.sampled_from(("patient", "learner", "no")),
    patient_risk=st.sampled_from(("harmed", "could_be", "no", "not_sure")),
)


@given(situations)
def test_no_advice_gives_a_reason_for_a_level_it_skipped_or_below_the_one_advised(
    given_: Situation,
) -> None:
    advice = advise(given_)
    unsuitable = unsuitable_levels(given_.barriers)
    assert advice.reasons
    assert advice.level not in unsuitable or advice.level == TOP_LEVEL
    spoken = [REASON_LEVELS[r] for r in advice.reasons if r in REASON_LEVELS]
    for level in spoken:
        assert level not in advice.skipped_levels and level not in unsuitable
        assert level >= advice.level
    # The level advised has its own reason, exactly once.
    assert spoken.count(advice.level) == 1


@given(situations)
def test_every_barrier_named_is_answered_and_none_speaks_for_its_level(
    given_: Situation,
) -> None:
    advice = advise(given_)
    ruled_out = {r for r in advice.reasons if r not in REASON_LEVELS}
    named = {BARRIERS[b].reason for b in given_.barriers if b != NO_BARRIER}
    assert ruled_out == named
    assert set(advice.skipped_levels) <= unsuitable_levels(given_.barriers)
    assert advice.local_unsuitable is (1 in unsuitable_levels(given_.barriers))


@given(situations)
def test_advice_survives_being_stored(given_: Situation) -> None:
    advice = advise(given_)
    assert type(advice).from_dict(advice.to_dict()) == advice
