"""Typed input as people type it: a table of what must select what, and properties that hold
for any text. The table is `typed_inputs.toml` beside this file."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from bot.channels.console import render
from dialogues.bundle import KINDS, load_content
from dialogues.catalogue import DEFAULT_CONTENT_DIR, ContentError
from dialogues.engine import Dialogue
from dialogues.matching import (
    FUZZY_THRESHOLD,
    MIN_FUZZY,
    Choice,
    Matcher,
    Picked,
    command_word,
    fold,
    is_number,
    words,
)
from dialogues.readings import Action, Answered, Problem, Toggled, Unclear
from dialogues.records import Answer, Conversation
from dialogues.steps import CONFIRM_LABELS, Steps
from dialogues.synonyms import FILE, check_synonyms, load_synonyms
from dialogues.turns import Command, Event, Outcome, Press, Text

CONTENT = load_content()
STEPS = Steps(CONTENT)
DIALOGUE = Dialogue(CONTENT)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TABLE: list[list[str]] = tomllib.loads(
    (Path(__file__).parent / "typed_inputs.toml").read_text(encoding="utf-8")
)["inputs"]
# A concern answered all the way to the review, so every step has its usual options.
ANSWERS: dict[str, Answer] = {
    "danger": "no", "group": "nursing_students", "organisation": "norfolk_and_norwich",
    "site": "Ward 4", "programme": None, "description": "Left alone on nights with no supervisor",
    "started": "months", "frequency": "constant", "topics": ["supervision", "bullying_harassment"],
    "standards": ["1.1"], "affected": "few", "patient_risk": "could_be", "controls": ["none"],
    "controls_detail": None, "likelihood": "4", "impact": "3", "actions": None,
    "told": ["placement_manager"], "told_outcome": "no_answer", "barrier": "none",
    "wants_team": "yes", "identity": "confidential", "name": "Sam", "contact": "sam@nhs.net",
    "domain": "3",
    "story_proposals": [
        "group=nursing_students", "topics=supervision", "frequency=constant",
        "told=placement_manager",
    ],
}  # fmt: skip
CHOICE_STEPS = sorted(step for step, kind in KINDS.items() if kind in ("choice", "multi"))


def conversation(step: str) -> Conversation:
    """The step's conversation; "told@resident_doctors" is the step for another group."""
    step, _, group = step.partition("@")
    # Another group, with nobody ticked yet: the nurse's ticks are no answer of theirs.
    answers = {**ANSWERS, "group": group, "told": []} if group else ANSWERS
    return Conversation(key="k", owner="o", journey="concern", state=step, answers=answers)


def outcome(step: str, typed: str) -> str:
    """What the typed text does at the step, written as in the table."""
    if step in CONFIRM_LABELS:
        return STEPS.confirmation(step, typed) or "-"
    reading = STEPS.read(step.partition("@")[0], conversation(step), Text(typed))
    if isinstance(reading, Answered):
        return str(reading.value)
    if isinstance(reading, Action):
        return reading.name
    if isinstance(reading, Toggled):
        then = f" >{reading.then}" if reading.then else ""
        return "+" + " ".join(reading.keys) + then
    if isinstance(reading, Unclear):
        ticked = f" +{' '.join(reading.ticked)}" if reading.ticked else ""
        return "?" + " ".join(reading.keys) + ticked
    assert isinstance(reading, Problem)
    return {"invalid_choice": "-", "too_many_fit": "-many"}.get(reading.message, reading.message)


@pytest.mark.parametrize(
    ("step", "typed", "expected"), TABLE, ids=[f"{s}:{t}" for s, t, _ in TABLE]
)
def test_typed_input(step: str, typed: str, expected: str) -> None:
    assert outcome(step, typed) == expected


def test_the_table_is_large_and_covers_every_choice_step() -> None:
    assert len(TABLE) >= 150
    covered = {step for step, _, _ in TABLE}
    assert set(CHOICE_STEPS) | set(CONFIRM_LABELS) <= covered
    # Words the issue names as refused before: each must now do something.
    issue = {
        ("likelihood", "likely"), ("likelihood", "Likely"), ("impact", "moderate"),
        ("group", "nursing"), ("group", "physio"), ("group", "FY2"), ("group", "doctor"),
        ("wants_team", "yes"), ("identity", "anon"), ("told_outcome", "no answer"),
        ("told", "ward manager"), ("organisation", "Norfolk and Norwich"),
        ("organisation", "NNUH"),
    }  # fmt: skip
    done = {(step, typed) for step, typed, expected in TABLE if not expected.startswith("-")}
    assert issue <= done


# -- properties ------------------------------------------------------------------------


def _mistyped(word: str, at: int, how: int) -> str:
    """One small typo: a letter dropped, doubled or swapped with the next."""
    if len(word) < 2:
        return word
    at %= len(word) - 1
    if how == 0:
        return word[:at] + word[at + 1 :]
    if how == 1:
        return word[: at + 1] + word[at:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def _relates(typed: str, choice: Choice, filler: frozenset[str]) -> bool:
    """The typed words really are the option's number, or its words, starts or near-words."""
    said = words(typed)
    content = [w for w in said if w not in filler] or list(said)
    if len(content) == 1 and is_number(content[0]):
        return int(content[0]) == choice.number
    phrases = [words(p) for p in (choice.label, *choice.names, *choice.synonyms)]
    if said in phrases:
        return True

    def near(word: str, phrase: tuple[str, ...]) -> bool:
        return any(
            w == word
            or w.startswith(word)
            or (min(len(w), len(word)) >= MIN_FUZZY and fuzz.ratio(w, word) >= FUZZY_THRESHOLD)
            for w in phrase
        )

    every_word = tuple(w for phrase in phrases for w in phrase)  # an option's words together
    return all(near(word, every_word) for word in content)


@st.composite
def typed_near_an_option(draw: st.DrawFn) -> tuple[str, str]:
    """An option's words, changed as people change them, with noise around."""
    step = draw(st.sampled_from([*CHOICE_STEPS, *CONFIRM_LABELS]))
    choices = _matcher(step).choices
    choice = draw(st.sampled_from(choices))
    source = draw(st.sampled_from([choice.label, *choice.names, *choice.synonyms]))
    picked = [w for w in source.split() if w] or [source]
    start = draw(st.integers(0, len(picked) - 1))
    text = " ".join(picked[start : start + draw(st.integers(1, 3))])
    if draw(st.booleans()):
        text = _mistyped(text, draw(st.integers(0, 50)), draw(st.integers(0, 2)))
    text = draw(st.sampled_from([text, text.upper(), text.title(), f"  {text}. ", f"{text}!"]))
    noise = draw(st.text(max_size=6))
    return step, draw(st.sampled_from([text, f"{noise} {text}", f"{text} {noise}", noise]))


def _matcher(step: str) -> Matcher:
    return STEPS.matcher(step, conversation(step))  # the confirmations' yes and no too


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.sampled_from([*CHOICE_STEPS, *CONFIRM_LABELS]), text=st.text(max_size=80))
def test_the_matcher_never_raises(step: str, text: str) -> None:
    outcome(step, text)
    _matcher(step).several(text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_near_an_option())
def test_a_selected_option_is_what_was_typed(case: tuple[str, str]) -> None:
    step, typed = case
    matcher = _matcher(step)
    found = matcher.one(typed)
    if isinstance(found, Picked):
        choice = next(c for c in matcher.choices if c.key == found.key)
        assert _relates(typed, choice, matcher.filler), (step, typed, found)


@given(st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=4))
def test_digits_of_any_script_never_crash_and_decimals_read_as_numbers(digits: str) -> None:
    found = _matcher("danger").one(digits)
    if all(ch.isdecimal() for ch in digits) and 1 <= int(digits) <= 3:
        assert found == Picked(("patient", "learner", "no")[int(digits) - 1])


# -- the pieces ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [("back", "back"), ("Back.", "back"), ("/pause", "pause"), (" HELP! ", "help"),
     ("resume", "resume"), ("cancel?", "cancel"), ("go back", None), ("backwards", None),
     ("new", None), ("", None)],
)  # fmt: skip
def test_a_message_that_is_only_a_command_word(text: str, command: str | None) -> None:
    assert command_word(text) == command


def test_folding_ignores_case_accents_apostrophes_and_script_of_digits() -> None:
    curly, arabic_five = "\u2019", "\u0665"
    assert fold(f"Zoë{curly}s ADDENBROOKE'S") == fold("Zoe Addenbrooke") == "zoe addenbrooke"
    assert words(f"Ward {arabic_five}, bay 3.2") == ("ward", "5", "bay", "3.2")
    assert words("x²") == ("x²",)  # no decimal value: not made a number


def test_keys_are_never_matched() -> None:
    matcher = Matcher([Choice("months", 1, "1 to 6 months ago"), Choice("fear", 2, "Worried")])
    assert matcher.one("fear") != Picked("fear")
    assert matcher.one("months") == Picked("months")  # its label says months


# -- the synonyms file is checked --------------------------------------------------------


def _broken(tmp_path: Path, extra: str) -> Path:
    for path in DEFAULT_CONTENT_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    target = tmp_path / FILE
    target.write_text(target.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('\n[steps.nowhere]\nx = ["y"]\n', "steps.nowhere"),
        ('\n[steps.frequency_typo]\nonce = ["y"]\n', "steps.frequency_typo"),
        ("\n[steps.wants_team.extra]\n", "steps.wants_team"),
    ],
)
def test_a_step_or_key_that_does_not_exist_is_refused(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(ContentError) as error:
        load_content(_broken(tmp_path, extra))
    assert error.value.file == FILE and error.value.key.startswith(key)


def test_a_synonym_naming_two_options_of_a_step_is_refused(tmp_path: Path) -> None:
    text = (DEFAULT_CONTENT_DIR / FILE).read_text(encoding="utf-8")
    clashing = text.replace('once = ["one time"', 'once = ["often and then"', 1)
    clashing = clashing.replace(
        '"frequently", "a lot"', '"Often and Then", "frequently", "a lot"', 1
    )
    assert clashing != text
    (tmp_path / FILE).write_text(clashing, encoding="utf-8")
    with pytest.raises(ContentError, match="also names"):
        load_synonyms(tmp_path)


def test_an_any_step_word_that_clashes_at_a_step_is_refused() -> None:
    synonyms = CONTENT.synonyms
    clash = type(synonyms)(
        synonyms.source,
        synonyms.confirmed,
        any_step={"done": ("finished",)},
        steps={"topics": {"induction": ("Finished",)}},
    )
    with pytest.raises(ContentError, match="also names"):
        check_synonyms(clash, {"topics": frozenset({"induction", "done"})})
    # Where Done is not offered, the same words clash with nothing.
    check_synonyms(clash, {"topics": frozenset({"induction"}), "controls": frozenset({"done"})})


def test_every_key_a_step_offers_may_have_synonyms() -> None:
    from dialogues.bundle import offered_keys

    offered = offered_keys(CONTENT.catalogue, CONTENT.prompts)
    for step in CHOICE_STEPS:
        shown = {o.key for o in STEPS.options(step, conversation(step))}
        assert shown <= offered[step], step


# -- the engine asks which, with just those options ------------------------------------


def _turn(conversation: Conversation, event: Event) -> Outcome:
    return DIALOGUE.handle(conversation, event, NOW, lambda: "QC-2345-6789")


def _at(step: str, **answers: Answer) -> Conversation:
    return Conversation(key="k", owner="o", journey="concern", state=step, answers=answers)


def test_what_fits_a_few_options_is_asked_about_with_those_under_their_own_numbers() -> None:
    asked = _turn(_at("group", danger="no"), Text("nursng"))
    assert asked.conversation is not None and asked.conversation.state == "group"
    (which,) = asked.replies
    assert which.text == 'Which of these did you mean by "nursng"?' and which.step == "group"
    # A group offered only to typing (not a button) is numbered after the buttons.
    assert [(o.key, o.number) for o in which.options] == [
        ("nursing_students", 3),
        ("nursing_associates", 10),
    ]
    assert render(which, CONTENT.prompts).splitlines()[1:3] == [
        "  3. Nursing student",
        "  10. Trainee nursing associate",
    ]
    for answer in (Text("10"), Press("group", "nursing_associates"), Text("nursing associate")):
        chosen = _turn(asked.conversation, answer)
        assert chosen.conversation is not None
        assert chosen.conversation.answers["group"] == "nursing_associates"


def test_clear_ticks_typed_with_an_unclear_one_are_kept_while_asking() -> None:
    asked = _turn(_at("topics"), Text("supervision, rest"))
    assert asked.conversation is not None
    assert asked.conversation.answers["topics"] == ["supervision"]
    (which,) = asked.replies
    assert which.multi and [o.key for o in which.options] == ["rota_workload", "facilities"]
    picked = _turn(asked.conversation, Press("topics", "facilities"))
    assert picked.conversation is not None
    assert picked.conversation.answers["topics"] == ["supervision", "facilities"]


def test_ticks_then_done_typed_at_once_move_on() -> None:
    moved = _turn(_at("topics"), Text("1, 3 done"))
    assert moved.conversation is not None and moved.conversation.state == "standards"
    assert moved.conversation.answers["topics"] == ["supervision", "bullying_harassment"]
    nothing = _turn(_at("topics"), Text("done"))
    assert nothing.conversation is not None and nothing.conversation.state == "topics"


def test_a_command_never_confirms_a_discard_but_the_words_do() -> None:
    asking = _turn(_at("group", danger="no"), Command("new"))
    assert asking.conversation is not None and asking.conversation.interrupt == "_restart"
    for kept in (Command("start"), Text("/start"), Text("yes"), Text("hello")):
        carried_on = _turn(asking.conversation, kept)
        assert carried_on.conversation is not None
        assert carried_on.conversation.answers == {"danger": "no"}
    fresh = _turn(asking.conversation, Text("Start again"))
    assert fresh.conversation is not None and fresh.conversation.answers == {}
