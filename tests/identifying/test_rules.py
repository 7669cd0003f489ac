"""Each rule of the identifying-details detector: what it finds, what it leaves alone."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from dialogues.identifying import (
    Finding,
    apply_replacements,
    find_identifying,
    nhs_number_is_valid,
    review_lines,
)
from dialogues.identifying_rules import load_identifying

RULES = load_identifying()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find_identifying(text, RULES)]


def only(text: str) -> Finding:
    findings = find_identifying(text, RULES)
    assert len(findings) == 1, findings
    return findings[0]


@pytest.mark.parametrize(
    ("text", "name", "replacement"),
    [
        ("Dr Patel shouted at me.", "Dr Patel", "[a doctor]"),
        ("dr khan told me I was slow", "dr khan", "[a doctor]"),
        ("Sister O'Brien sent me home", "Sister O'Brien", "[a nurse]"),
        ("Mr Hassan's list overran", "Mr Hassan", "[someone]"),
        ("I saw Dr J. Smith today", "Dr J. Smith", "[a doctor]"),
        ("Please don't tell Dr. McAllister", "Dr. McAllister", "[a doctor]"),
        ("My supervisor (Dr Ana Sánchez) says no", "Dr Ana Sánchez", "[a doctor]"),
        ("Ask Prof Green about it", "Prof Green", "[a doctor]"),
        ("Staff Nurse Patel said no", "Staff Nurse Patel", "[a nurse]"),
        ("Miss Kowalski reads them out", "Miss Kowalski", "[someone]"),
    ],
)
def test_a_name_after_a_title_is_found_with_the_title_s_neutral_words(
    text: str, name: str, replacement: str
) -> None:
    finding = only(text)
    assert (finding.kind, finding.text, finding.replacement) == ("title_name", name, replacement)


@pytest.mark.parametrize(
    "text",
    [
        "The dr said I was slow.",  # a role word, not a title, after "the"
        "My sister said I should complain.",  # "Sister" is a title only with a capital
        "Patients with MS wait longest.",  # capitals: an abbreviation
        "I asked to speak to a Dr. They never came.",
        "Professor-led teaching stopped.",
        "I had to miss Friday teaching.",
        "Dr I told you so",  # an initial needs a name after it
        "Yesterday Sister told me off.",
    ],
)
def test_a_title_without_a_name_after_it_is_not_a_finding(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "span", "replacement"),
    [
        ("consultant John Smith refused", "consultant John Smith", "[a consultant]"),
        ("the consultant John Smith refused", "the consultant John Smith", "[a consultant]"),
        ("The registrar, Tom Hughes, left", "The registrar, Tom Hughes", "[a registrar]"),
        ("I was bullied by Smith the registrar.", "Smith the registrar", "[a registrar]"),
        ("Sarah, my educational supervisor, hasn't", "Sarah, my educational supervisor",
         "[a supervisor]"),
        ("It was Smith, the F2, who", "Smith, the F2", "[a doctor in training]"),
        ("The scrub nurse, Anna, reported it", "The scrub nurse, Anna", "[a nurse]"),
        ("shouted at by the Band 7, Lisa, today", "the Band 7, Lisa", "[a member of staff]"),
    ],
)  # fmt: skip
def test_a_name_beside_a_role_is_found_with_the_role_s_neutral_words(
    text: str, span: str, replacement: str
) -> None:
    finding = only(text)
    assert (finding.kind, finding.text, finding.replacement) == ("role_name", span, replacement)


@pytest.mark.parametrize(
    "text",
    [
        "The consultant refused to sign it.",
        "An ST3 was left alone in resus.",
        "Then the consultant said I should leave.",
        "Unfortunately the registrar would not come.",
        "At Colchester the consultant body stopped teaching.",
        "Every Monday the consultant ward round overruns.",
        "Im an FY2 at the Lister.",
        "I\u2019m an F2 in Norwich.",
        "ask the medical education manager, Freedom to Speak Up Guardian or tutor",
        "I'm a preregistration pharmacist, GPhC registration pending.",
    ],
)
def test_role_words_grades_and_capitalised_words_that_are_not_names_are_left_alone(
    text: str,
) -> None:
    assert [kind for kind, _ in found(text) if kind == "role_name"] == []


def test_a_role_followed_by_a_title_gives_only_the_title_and_its_name() -> None:
    assert found("The practice assessor, Mr Lee, has not signed") == [("title_name", "Mr Lee")]
    assert found("Mr Okonkwo, the consultant surgeon, told me") == [("title_name", "Mr Okonkwo")]


def test_email_addresses_are_found_without_the_full_stop_that_ends_the_sentence() -> None:
    assert found("Write to sarah.jones@nhs.net.") == [("email", "sarah.jones@nhs.net")]
    assert found("I have emails from dr.wong@nnuh.nhs.uk") == [("email", "dr.wong@nnuh.nhs.uk")]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("My mobile is 07700 900461, text me", "07700 900461"),  # Ofcom drama range
        ("My number is +44 7700 900517 if", "+44 7700 900517"),
        ("ring 01603 456161 please", "01603 456161"),
        ("call me on +44 (0)1223 245151 later", "+44 (0)1223 245151"),
        ("my number's 07700-900-356.", "07700-900-356"),
    ],
)
def test_phone_numbers_written_with_their_0_or_plus_are_found(text: str, number: str) -> None:
    assert found(text) == [("phone", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Datix reference 1234567890 was closed.",  # a valid area code, but written without 0
        "The clinic runs 0900-1700.",
        "bleep 4521 for the reg",
        "we were 3 students for 12 patients",
        "the ratio is 1:4 and 1:12 at night",
    ],
)
def test_numbers_that_are_not_phone_numbers_are_left_alone(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("My GMC number is 7123456.", "7123456"),
        ("GMC no. 7012345, happy to be named", "7012345"),
        ("My NMC PIN is 21A4567E.", "21A4567E"),
        ("nmc pin 12a3456e", "12a3456e"),
        ("HCPC registered physio, PH123456, here", "PH123456"),
        ("GPhC registration 2087654 and more", "2087654"),
        ("His GDC number is 123456.", "123456"),
    ],
)
def test_registration_numbers_are_found(text: str, number: str) -> None:
    assert found(text) == [("registration", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Reference 7123456 on the system.",  # seven digits need the word GMC or GPhC
        "I wrote to the GMC. Then 7123456 came back as the case number.",
        "The GMC survey next year will show it.",
        "The GDC and the deanery both have guidance.",
    ],
)
def test_digits_without_a_regulator_before_them_are_not_registration_numbers(text: str) -> None:
    assert found(text) == []


def test_an_nhs_number_is_found_only_with_a_valid_check_digit() -> None:
    assert found("NHS number 943 476 5919 given") == [("nhs_number", "943 476 5919")]
    assert found("NHS number 9434765919 given") == [("nhs_number", "9434765919")]
    assert found("NHS number 943 476 5918 given") == []


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("9434765919", True),
        ("4010232137", True),
        ("1234567890", False),  # the check comes to 10: no number has it
        ("9434765918", False),
        ("943476591", False),
        ("943476591x", False),
        ("٩٤٣٤٧٦٥٩١٩", False),  # digits of another script are not an NHS number
    ],
)
def test_the_nhs_number_check_digit(digits: str, valid: bool) -> None:
    assert nhs_number_is_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("On 3rd March I was alone.", "3rd March"),
        ("on Tuesday 4 March the midwife", "Tuesday 4 March"),
        ("On 14/02/2026 I was asked", "14/02/2026"),
        ("I worked on 23/11/25 alone", "23/11/25"),
        ("It was the 5th of December 2025 and", "5th of December 2025"),
        ("discharged on 4.3.26 without", "4.3.26"),
        ("On 12/3 the F1 was me", "12/3"),
        ("On Tues 4th I was bleeped", "Tues 4th"),
        ("since March 3rd, 2026 nothing", "March 3rd, 2026"),
        ("from 2026-03-03 on", "2026-03-03"),
        ("alone on Christmas Day again", "Christmas Day"),
        ("on New Year\u2019s Eve we", "New Year\u2019s Eve"),
    ],
)
def test_exact_dates_are_found(text: str, day: str) -> None:
    assert found(text) == [("date", day)]


@pytest.mark.parametrize(
    "text",
    [
        "Teaching stopped in March.",
        "It happened on Friday.",
        "Standard 1.1 and 3.1 are not met.",
        "I scored 3/5 on the test.",
        "On 31/02/2026 nothing happened.",  # no such day
        "In May 5 of us left.",
        "we may 5 times ask",
        "section 3.1.12 of the handbook",
        "year 2024-2027 of the course",
    ],
)
def test_months_weekdays_ids_and_scores_are_not_dates(text: str) -> None:
    assert found(text) == []


def test_a_ward_or_bay_is_a_finding_only_when_the_text_gives_an_exact_date() -> None:
    assert found("Bay 4 on ward C9 had no nurse on 12 January.") == [
        ("ward_bay", "Bay 4"),
        ("ward_bay", "ward C9"),
        ("date", "12 January"),
    ]
    assert found("Bay 4 on ward C9 had no nurse most nights.") == []
    assert found("The ward round on 3rd March overran.") == [("date", "3rd March")]
    side_room = find_identifying("Side room 3 on 3rd March", RULES)[0]
    assert (side_room.text, side_room.replacement) == ("Side room 3", "[a side room]")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I'm the only ST3 on the rota here", "the only ST3 on the rota"),
        ("I was the only student on the ward.", "the only student on the ward"),
        ("I am the only male nurse on Bure ward", "the only male nurse"),
        ("the only one in my cohort placed there", "the only one in my cohort"),
        ("I was the only one who spoke up", "the only one"),
        ("the sole pharmacist trainee at the site", "the sole pharmacist trainee at the site"),
        ("the only two doctors in the hospital", "the only two doctors in the hospital"),
    ],
)
def test_phrases_that_single_someone_out_are_found(text: str, phrase: str) -> None:
    finding = only(text)
    assert (finding.kind, finding.text) == ("singling_out", phrase)
    assert finding.replacement == "[one of the team]"


@pytest.mark.parametrize(
    "text",
    [
        "The only teaching we got was in May.",
        "The only way to get signed off is to stay.",
        "this was the only one of the sessions that ran",
        "the only thing the consultant said was no",
        "The one FY1 on nights covers medicine.",
        "Only a few of us get to theatre.",
    ],
)
def test_only_describing_no_person_is_not_singling_out(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "course"),
    [
        ("BSc Physiotherapy, year 2, University of East Anglia", "BSc Physiotherapy, year 2"),
        ("I'm a 3rd year BSc Adult Nursing student", "3rd year BSc Adult Nursing"),
        ("MPharm year 4 here", "MPharm year 4"),
        ("final-year MBChB on my GP placement", "final-year MBChB"),
        ("BSc (Hons) Operating Department Practice, 2nd year", None),
        ("in the final year of my BSc Physiotherapy at UEA", "final year of my BSc Physiotherapy"),
    ],
)
def test_a_degree_with_its_year_of_study_is_found(text: str, course: str | None) -> None:
    finding = only(text)
    expected = course or text
    assert (finding.kind, finding.text) == ("course_year", expected)
    assert finding.replacement == "[a course and year]"


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I'm a second year student midwife at Anglia Ruskin.",  # a year alone: many share it
        "I did a BSc before nursing and I'm in year 2 now.",
        "The MSc students had no teaching in the second year.",
        "I have a BA in History and 2 years' experience.",
        "Year 2 has been worse than year 1.",
    ],
)
def test_a_degree_or_a_year_alone_is_not_a_course_and_year(text: str) -> None:
    assert found(text) == []


def test_replacements_put_the_neutral_words_in_place_of_the_chosen_findings() -> None:
    text = "Dr Patel shouted at me on 3rd March; email me at jo@uea.ac.uk."
    findings = find_identifying(text, RULES)
    assert apply_replacements(text, findings) == (
        "[a doctor] shouted at me on [a date]; email me at [an email address]."
    )
    kept = [f for f in findings if f.kind != "date"]
    assert apply_replacements(text, kept) == (
        "[a doctor] shouted at me on 3rd March; email me at [an email address]."
    )
    mine = replace(findings[0], replacement="my consultant")
    assert apply_replacements(text, [mine]).startswith("my consultant shouted")
    assert apply_replacements(text, []) == text


def test_replacements_refuse_findings_of_another_text_or_overlapping_each_other() -> None:
    text = "Dr Patel shouted at me"
    finding = only(text)
    with pytest.raises(ValueError, match="does not match"):
        apply_replacements("Dr Singh shouted at me", [finding])
    with pytest.raises(ValueError, match="does not match"):
        apply_replacements(text, [replace(finding, start=-8, end=0)])
    with pytest.raises(ValueError, match="overlaps"):
        apply_replacements(text, [finding, replace(finding, start=3, text="Patel")])


def test_review_lines_list_each_finding_and_warn_an_anonymous_learner() -> None:
    findings = find_identifying("Dr Patel rang 07700 900461", RULES)
    named = review_lines(findings, RULES, anonymous=False)
    assert named == (
        "Before you send: 2 thing(s) in your words could point to a person.",
        '• a name: "Dr Patel" → [a doctor]',
        '• a phone number: "07700 900461" → [a phone number]',
    )
    anonymous = review_lines(findings, RULES, anonymous=True)
    assert anonymous[1] == RULES.words.anonymous
    assert anonymous[2:] == named[1:]
    assert review_lines((), RULES, anonymous=True) == ()


def test_findings_come_in_order_and_never_overlap() -> None:
    text = "Mrs Jackson in bed 4 fell on 22nd February; Dr Ahmed and the registrar Dr Singh knew."
    findings = find_identifying(text, RULES)
    assert [f.text for f in findings] == [
        "Mrs Jackson", "bed 4", "22nd February", "Dr Ahmed", "Dr Singh",
    ]  # fmt: skip
    assert all(a.end <= b.start for a, b in pairwise(findings))


def test_a_long_paste_is_read_quickly() -> None:
    import time

    text = ("On 3rd March Dr Patel left me, the only F1 on the ward, in bay 4. " * 60)[:4000]
    started = time.perf_counter()
    findings = find_identifying(text, RULES)
    took = time.perf_counter() - started
    assert len(findings) > 100
    # Measured about 10 ms (benchmarks/RESULTS.md); generous, as CI shares the machine.
    assert took < 0.5
