"""Contacts that fit and support for the person: the choice of lines, and how they read.

The choice is `dialogues.contacts`; the words are `Wording.advice` from "Whom to contact" to
the end. The last tests render every group at every level under every flag that changes
the lines, and fail where an unconfirmed line is shown without its marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import Any

import pytest

from dialogues.bundle import load_content
from dialogues.contacts import (
    REGULATOR_REASONS,
    WHEN,
    advice_lines,
    contact_lines,
    related_routes,
    support_lines,
)
from dialogues.engine import Dialogue
from dialogues.pathways import ROUTE_WHEN
from dialogues.records import Advice

CONTENT = load_content()
CATALOGUE = CONTENT.catalogue
PATHWAYS = CATALOGUE.pathways
SUPPORT = CATALOGUE.support
WORDING = Dialogue(CONTENT).wording
GROUPS = [group.key for group in PATHWAYS.groups]
STUDENTS = [group.key for group in PATHWAYS.groups if group.student]
EMAIL = PATHWAYS.quality_team_email
MARK = SUPPORT.marker


def advice(level: int = 1, **flags: Any) -> Advice:
    return Advice(level=level, reasons=("start_1",), **flags)


def texts(group: str | None, level: int, **flags: Any) -> list[str]:
    return [fact.text for fact in contact_lines(CATALOGUE, advice(level, **flags), group)]


# --- regulators: only where patient safety or the provider itself is in question ---------

PATIENT_SAFETY = [{"incident_reminder": True}, {"danger": "patient", "act_now": True}]


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("flags", PATIENT_SAFETY)
def test_a_regulator_is_an_also_at_level_3_where_patients_may_be_at_risk(
    group: str, flags: dict[str, object]
) -> None:
    regulator = PATHWAYS.group(group).regulator.text
    lines = texts(group, 3, **flags)
    assert SUPPORT.say("also_patient_safety", regulator=regulator) in lines
    for level in (1, 2):
        assert not any(line.startswith("Also") for line in texts(group, level, **flags))


@pytest.mark.parametrize("group", GROUPS)
def test_a_regulator_is_an_also_where_the_education_provider_itself_is_involved(
    group: str,
) -> None:
    regulator = PATHWAYS.group(group).regulator.text
    assert texts(group, 3, provider_involved=True)[-1] == SUPPORT.say(
        "also_provider", regulator=regulator
    )


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("level", [1, 2, 3])
def test_no_regulator_for_a_training_concern_that_puts_nobody_at_risk(
    group: str, level: int
) -> None:
    flags = {"team_would_expect": True, "alert_team_now": True, "danger": "learner"}
    rendered = WORDING.advice(advice(level, **flags), group)
    assert "Also, because" not in rendered
    for name in ("GMC", "NMC", "HCPC", "GPhC", "GDC"):
        assert f"the {name}" not in rendered.replace("the GMC National Training Survey", "")


def test_a_dental_core_trainee_whose_teaching_is_cancelled_is_not_sent_to_the_gdc() -> None:
    teaching = Advice(level=3, reasons=("unresolved_3",), team_would_expect=True)
    rendered = WORDING.advice(teaching, "dental_trainees")
    assert "GDC" not in rendered
    harmed = WORDING.advice(Advice(level=3, reasons=("unresolved_3",), incident_reminder=True),
                            "dental_trainees")  # fmt: skip
    assert "• Also, because patients may be at risk: the GDC" in harmed.splitlines()


def test_patient_safety_comes_first_when_both_reasons_hold() -> None:
    assert next(key for key, _ in REGULATOR_REASONS) == "also_patient_safety"
    lines = texts("nursing_students", 3, incident_reminder=True, provider_involved=True)
    assert [line for line in lines if line.startswith("Also")] == [
        "Also, because patients may be at risk: the NMC"
    ]


# --- the Quality team, the Freedom to Speak Up Guardian --------------------------------


@pytest.mark.parametrize("group", [*GROUPS, None])
def test_level_3_always_gives_the_quality_teams_address_next_to_its_name(
    group: str | None,
) -> None:
    line = f"{PATHWAYS.quality_team_name}: {EMAIL}"
    assert line in texts(group, 3)
    assert not any(EMAIL in text for text in texts(group, 1) + texts(group, 2))


@pytest.mark.parametrize(("group", "level"), list(product([*GROUPS, None], [1, 2, 3])))
def test_the_speak_up_guardian_is_named_for_places_that_may_not_have_one(
    group: str | None, level: int
) -> None:
    lines = texts(group, level)
    assert PATHWAYS.speak_up.text in lines
    assert "Every NHS organisation has" not in " ".join(lines)
    assert "Most NHS organisations have one" in PATHWAYS.speak_up.text
    assert "GP practice, hospice or private provider" in PATHWAYS.speak_up.text


def test_a_learner_of_no_known_group_gets_the_levels_own_people() -> None:
    level_2 = {role.label for role in PATHWAYS.level(2).roles}
    assert set(texts(None, 2)) - {PATHWAYS.speak_up.text} <= level_2
    assert "My regulator (GMC, NMC, HCPC, GPhC, GDC)" not in texts(None, 3)


# --- routes beside the pathway ---------------------------------------------------------


def test_every_route_condition_has_a_rule() -> None:
    assert set(WHEN) == ROUTE_WHEN


def route_keys(group: str | None, **flags: Any) -> list[str]:
    return [route.key for route in related_routes(CATALOGUE, advice(2, **flags), group)]


@pytest.mark.parametrize(
    ("group", "flags", "keys"),
    [
        ("resident_doctors", {}, ["exception_reporting", "nets", "national_training_survey"]),
        ("resident_doctors", {"alert_team_now": True}, ["exception_reporting"]),
        ("dental_trainees", {}, ["exception_reporting_dental", "nets"]),
        ("ahp_students", {}, ["nets"]),
        ("ahp_students", {"incident_reminder": True}, ["incident_reporting", "cqc", "nets"]),
        ("ahp_students", {"danger": "patient", "act_now": True}, ["incident_reporting", "cqc"]),
        ("ahp_students", {"danger": "learner", "act_now": True}, []),
        (None, {}, ["nets"]),
    ],
)
def test_routes_beside_the_pathway(
    group: str | None, flags: dict[str, object], keys: list[str]
) -> None:
    assert route_keys(group, **flags) == keys


def test_exception_reporting_is_the_2025_rule_for_resident_doctors_and_unconfirmed_for_dentists(
) -> None:  # fmt: skip
    routes = {route.key: route for route in PATHWAYS.routes}
    doctors = routes["exception_reporting"].fact
    assert doctors.confirmed and "Director of Medical Education" in doctors.text
    assert "28 days" in doctors.text
    dental = routes["exception_reporting_dental"].fact
    assert not dental.confirmed and "may apply" in dental.text and "check with" in dental.text
    others = set(GROUPS) - {"resident_doctors", "dental_trainees"}
    assert not any("exception_reporting" in k for g in others for k in route_keys(g))
    rendered = WORDING.advice(advice(1), "dental_trainees")
    assert f"{dental.text} {MARK}" in rendered.splitlines()


# --- support for the person -------------------------------------------------------------


def support_texts(group: str | None, university: str | None = None) -> list[str]:
    return [fact.text for fact in support_lines(CATALOGUE, group, university)]


@pytest.mark.parametrize("group", ["resident_doctors", "dental_trainees"])
def test_postgraduate_doctors_and_dentists_get_the_regions_wellbeing_service(group: str) -> None:
    assert any("Professional Support & Wellbeing" in text for text in support_texts(group))


@pytest.mark.parametrize("group", STUDENTS)
def test_students_get_their_universitys_student_support_and_the_practice_education_team(
    group: str,
) -> None:
    named = support_texts(group, "uea")
    assert any("University of East Anglia" in text for text in named)
    assert any("practice education team" in text for text in named)
    unknown = support_texts(group, "other") + support_texts(group, None)
    assert any("your university" in text for text in unknown)
    assert not any("Professional Support & Wellbeing" in text for text in named)


@pytest.mark.parametrize("group", ["nursing_students", "midwifery_students"])
def test_nursing_and_midwifery_students_have_a_nominated_person_in_practice(group: str) -> None:
    line = next(f for f in support_lines(CATALOGUE, group, None) if "nominated person" in f.text)
    assert line.confirmed and "NMC" in line.text


@pytest.mark.parametrize("group", [*GROUPS, None])
def test_everyone_hears_that_speaking_up_is_protected_and_where_to_go_if_they_suffer_for_it(
    group: str | None,
) -> None:
    lines = support_texts(group)
    assert any(t.startswith("Speaking up is protected") and "Freedom to Speak Up" in t
               for t in lines)  # fmt: skip
    whistle = next(t for t in lines if "prescribed person" in t)
    assert "education and training" in whistle and "not a personal grievance" in whistle


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_has_occupational_health_and_support_of_its_own(group: str) -> None:
    own = [line for line in SUPPORT.lines if group in line.groups]
    assert own
    assert any("ccupational health" in line.fact.text for line in own)


# --- every advice, every line: the order, the support at the end, the markers --------------

FLAG_SETS = [
    dict(zip(("incident_reminder", "danger", "provider_involved", "alert_team_now",
              "team_would_expect"), values, strict=True))
    for values in product((False, True), ("no", "patient", "learner"), (False, True),
                          (False, True), (False, True))
]  # fmt: skip


def every_advice() -> Iterator[tuple[Advice, str | None, str | None]]:
    for group, level, flags in product([*GROUPS, None], (1, 2, 3), FLAG_SETS):
        act_now = flags["danger"] != "no"
        universities = ("uea", None) if group in STUDENTS else (None,)
        for university in universities:
            yield advice(level, act_now=act_now, **flags), group, university


def shown(fact_text: str, confirmed: bool) -> str:
    return fact_text if confirmed else f"{fact_text} {MARK}"


def test_every_advice_marks_each_unconfirmed_line_and_only_those() -> None:
    cases = 0
    for given, group, university in every_advice():
        rendered = WORDING.advice(given, group, university)
        lines = rendered.splitlines()
        chosen = advice_lines(CATALOGUE, given, group, university)
        for fact in chosen.contacts + chosen.support:
            assert f"• {shown(fact.text, fact.confirmed)}" in lines, (group, given, fact)
        for fact in chosen.routes:
            assert shown(fact.text, fact.confirmed) in lines, (group, given, fact)
        # The address is a fact too: wherever it is shown, its flag is.
        if not PATHWAYS.quality_team_confirmed:
            assert rendered.count(EMAIL) == rendered.count(f"{EMAIL} {MARK}"), (group, given)
        marked = any(not fact.confirmed for fact in chosen.facts) or (
            EMAIL in rendered and not PATHWAYS.quality_team_confirmed
        )
        assert SUPPORT.say("contacts_marked" if marked else "contacts") in lines
        cases += 1
    assert cases > 1000


def test_nothing_after_whom_to_contact_but_headings_chosen_lines_and_the_risk_notes() -> None:
    for given, group, university in every_advice():
        rendered = WORDING.advice(given, group, university)
        chosen = advice_lines(CATALOGUE, given, group, university)
        allowed = {f"• {shown(f.text, f.confirmed)}" for f in chosen.contacts + chosen.support} | {
            shown(f.text, f.confirmed) for f in chosen.routes
        }
        lines = rendered.splitlines()
        heading = next(i for i, line in enumerate(lines) if line.startswith("Whom to contact"))
        for line in lines[heading + 1 :]:
            if line in allowed or line in ("", SUPPORT.say("support")):
                continue
            if line.startswith("• Your university: "):
                continue
            # The risk overlay's notes belong to the policy; they only ever name the address.
            assert EMAIL in line, (group, given, line)


def test_every_advice_ends_with_support_for_the_person() -> None:
    for given, group, university in every_advice():
        lines = WORDING.advice(given, group, university).splitlines()
        last_heading = len(lines) - 1 - lines[::-1].index(SUPPORT.say("support"))
        tail = lines[last_heading + 1 :]
        expected = support_lines(CATALOGUE, group, university)
        assert tail == [f"• {shown(f.text, f.confirmed)}" for f in expected], (group, given)


@pytest.mark.parametrize("group", [g.key for g in CATALOGUE.pathways.groups])
@pytest.mark.parametrize("level", [2, 3])
def test_a_learner_who_cannot_go_to_their_placement_is_given_nobody_based_there(
    group: str, level: int
) -> None:
    unsafe = advice(level, local_unsuitable=True)
    lines = advice_lines(CATALOGUE, unsafe, group, "uea")
    assert not any(fact.placement for fact in lines.facts)
    own = [f for f in contact_lines(CATALOGUE, unsafe, group) if f in lines.contacts]
    assert own, "the advised level still names someone"
    # The same learner who can go to their placement is given the placement's people.
    usual = advice_lines(CATALOGUE, advice(level), group, "uea")
    assert set(lines.facts) == {f for f in usual.facts if not f.placement}


def test_no_dme_or_exception_reporting_for_a_doctor_afraid_of_the_placement() -> None:
    words = "\n".join(
        f.text for f in advice_lines(CATALOGUE, advice(2), "resident_doctors", None).facts
    )
    assert "Director of Medical Education" in words and "Exception reporting" in words
    afraid = advice_lines(CATALOGUE, advice(2, local_unsuitable=True), "resident_doctors", None)
    words = "\n".join(f.text for f in afraid.facts)
    assert "Director of Medical Education" not in words and "Exception reporting" not in words
    assert "Training Programme Director" in words and "Head of School" in words
