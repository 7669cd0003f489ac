"""Reading input at a step: validators return data or a problem, never a side effect."""

from __future__ import annotations

import pytest

from dialogues.bundle import load_content
from dialogues.readings import Action, Answered, Problem, Toggled, clean, exclusive, toggle
from dialogues.records import Answer, Conversation
from dialogues.steps import Steps
from dialogues.turns import Press, Text

STEPS = Steps(load_content())


def conv(state: str, **answers: Answer) -> Conversation:
    return Conversation(key="k", owner="o", journey="concern", state=state, answers=answers)


def read(state: str, text: str, **answers: Answer) -> object:
    return STEPS.read(state, conv(state, **answers), Text(text))


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("  plain  ", "plain"),
        ("e\u0301cole", "\u00e9cole"),  # composed to NFC
        ("a\x00b\x07c", "abc"),  # control characters dropped
        ("safe\u202etxt.exe", "safetxt.exe"),  # a bidi override cannot disguise text
        ("\ufeffstart", "start"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),  # joiners kept
        ("line one\nline two", "line one\nline two"),
        ("مرحبا بالعالم", "مرحبا بالعالم"),
    ],
)
def test_clean(raw: str, kept: str) -> None:
    assert clean(raw) == kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Answered("patient")),
        ("3.", Answered("no")),
        ("  NO, nobody is AT risk right now ", Answered("no")),
        ("learner", Answered("learner")),
        ("4", Problem("invalid_choice", (("answer", "4"),))),
        ("0", Problem("invalid_choice", (("answer", "0"),))),
        ("perhaps", Problem("invalid_choice", (("answer", "perhaps"),))),
    ],
)
def test_choice_by_number_label_or_key(text: str, expected: object) -> None:
    assert read("danger", text) == expected


def test_text_limits_count_what_is_kept() -> None:
    assert read("description", "x" * 19) == Problem("too_short", (("min", 20),))
    assert read("description", "x" * 3501) == Problem("too_long", (("length", 3501), ("max", 3500)))
    assert read("description", "x" * 3500 + "\x00" * 50) == Answered("x" * 3500)
    assert read("description", "   " + "y" * 20 + "   ") == Answered("y" * 20)


def test_optional_text_can_be_skipped_but_required_text_cannot() -> None:
    assert read("actions", "skip") == Action("skip")
    assert read("actions", "Skip") == Action("skip")
    assert read("description", "skip") == Problem("too_short", (("min", 20),))


@pytest.mark.parametrize(
    ("typed", "name", "contact"),
    [
        ("Sam Patel, sam@nhs.net", "Sam Patel", "sam@nhs.net"),
        ("sam.patel@nhs.net Sam Patel", "Sam Patel", "sam.patel@nhs.net"),
        ("Dr Sam Example +44 7700 900123", "Dr Sam Example", "+44 7700 900123"),
        ("Sam, phone 01223 245151", "Sam", "01223 245151"),
        ("Priya K (01223) 245-151", "Priya K", "(01223) 245-151"),
        ("Sam Patel\nemail: sam@nhs.net", "Sam Patel", "sam@nhs.net"),
    ],
)
def test_a_name_and_a_contact_are_read_from_one_answer(typed: str, name: str, contact: str) -> None:
    assert read("name", typed) == Answered(name, (("contact", contact),))


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("Sam Patel", "name_needs_contact"),
        ("sam at nhs", "name_needs_contact"),
        ("Sam 12345", "name_needs_contact"),
        ("sam@nhs", "name_needs_contact"),
        ("sam@nhs.net", "name_needs_name"),
        ("+44 7700 900123", "name_needs_name"),
    ],
)
def test_a_name_without_a_contact_or_a_contact_without_a_name_is_asked_again(
    bad: str, problem: str
) -> None:
    assert read("name", bad) == Problem(problem)


def test_multiple_choice_typed_or_pressed() -> None:
    assert read("topics", "1, 3") == Toggled(("supervision", "bullying_harassment"))
    assert read("topics", "1;1") == Toggled(("supervision",))
    assert read("topics", "Induction") == Toggled(("induction",))
    assert read("topics", "done") == Action("done")
    # The part that fits nothing is named, and nothing is ticked.
    assert read("topics", "1, 99") == Problem("invalid_choice", (("answer", "99"),))
    pressed = STEPS.read("topics", conv("topics"), Press("topics", "induction"))
    assert pressed == Toggled(("induction",))


def test_a_press_on_a_button_that_is_not_offered_is_a_problem() -> None:
    assert STEPS.read("danger", conv("danger"), Press("danger", "maybe")) == Problem(
        "invalid_choice", (("answer", "maybe"),)
    )


def test_exclusive_options_stand_alone() -> None:
    assert exclusive(["supervision", "not_sure"]) == ["not_sure"]
    assert exclusive(["not_sure", "supervision"]) == ["supervision"]
    assert toggle(["nobody"], "tpd") == ["tpd"]
    assert toggle(["tpd", "hos"], "nobody") == ["nobody"]
    assert toggle(["tpd", "hos"], "tpd") == ["hos"]


def test_standards_offered_are_the_suggestions_plus_the_chosen() -> None:
    conversation = conv(
        "standards",
        topics=["induction"],
        standards=["6.2"],
        description="I was never shown the rota",
    )
    buttons = [o.key for o in STEPS.options("standards", conversation)]
    # The ticked first, at most five, then Not sure, Browse and Done.
    assert buttons == ["6.2", "1.1", "1.2", "3.4", "3.5", "not_sure", "browse", "done"]
    assert STEPS.preticked(conversation) == ("3.4", "3.5")  # topics chosen: the text only adds
    typed = [o.key for o in STEPS.typed_options("standards", conversation)]
    assert "2.4" in typed and len(typed) == 27 + 3  # every standard may be typed


def test_likelihood_buttons_are_short_and_typed_words_still_fit() -> None:
    labels = [label for _, label in STEPS.choices("likelihood", conv("likelihood"))]
    assert labels == ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
    assert read("likelihood", "4 likely") == Answered("4")
    assert read("likelihood", "6") == Action("explain")


def test_a_place_typed_with_more_words_finds_the_hospital() -> None:
    assert read("organisation", "lister") == Answered("east_and_north_herts", (("site", "lister"),))
    assert read("organisation", "Addenbrookes ward C9") == Answered(
        "cambridge_university_hospitals", (("site", "Addenbrookes ward C9"),)
    )
    assert read("organisation", "West Suffolk") == Answered("west_suffolk", (("site", None),))
    assert read("organisation", "ward 5") == Problem(
        "organisation_unknown", (("answer", "ward 5"),)
    )
    pressed = STEPS.read("organisation", conv("organisation"), Press("organisation", "other"))
    assert pressed == Answered("other", (("site", None),))


def test_whom_a_learner_may_have_told_depends_on_their_group() -> None:
    physio = [label for _, label in STEPS.choices("told", conv("told", group="ahp_students"))]
    assert "My practice educator" in physio
    assert not any("Safe Working" in label or "Medical Education" in label for label in physio)
    doctor = dict(STEPS.choices("told", conv("told", group="resident_doctors")))
    assert doctor["safe_working_guardian"] == "Guardian of Safe Working Hours"
    assert doctor["training_programme_director"] == "Training Programme Director"
    nurse = dict(STEPS.choices("told", conv("told", group="nursing_students")))
    assert nurse["university_tutor"] == "University link lecturer"
    assert nurse["practice_supervisor"] == "Practice supervisor/assessor"


# Characters Python calls digits that int() cannot read: superscripts, subscripts, circled
# and parenthesised digits, Ethiopic and Kharosthi digits and others (128 of them).
UNREADABLE_DIGITS = [chr(c) for c in range(0x110000) if chr(c).isdigit() and not chr(c).isdecimal()]


@pytest.mark.parametrize(("step", "kind"), [("danger", "choice"), ("topics", "multi")])
def test_digits_int_cannot_read_are_an_invalid_choice_not_a_crash(step: str, kind: str) -> None:
    assert len(UNREADABLE_DIGITS) >= 128  # Unicode 14; later versions only add
    for digit in UNREADABLE_DIGITS:
        assert isinstance(read(step, digit), Problem), (kind, digit)
        for text in (f"{digit}.", f"1, {digit}", f"1{digit}"):
            read(step, text)  # any reading, never an exception


@pytest.mark.parametrize("digit", ["\u0663", "\u0969", "\uff13", "\u09e9", "\U0001d7db"])
def test_decimal_digits_of_any_script_choose_by_number(digit: str) -> None:
    # Arabic-Indic, Devanagari, fullwidth, Bengali and mathematical 3s, as int() reads them.
    assert read("danger", digit) == Answered("no")
    assert read("topics", f"1, {digit}") == Toggled(("supervision", "bullying_harassment"))


def test_a_number_too_long_for_int_is_an_invalid_choice() -> None:
    # int() refuses strings of more than 4,300 digits; the terminal chat has no length limit.
    assert isinstance(read("danger", "1" * 5000), Problem)
    assert isinstance(read("topics", "1" * 5000), Problem)
