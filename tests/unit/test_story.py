"""Reading a learner's story: the rules load and check, each field reads what it should, and
the corpus keeps every enabled field at 0.9 precision or better (so an edit that breaks
precision fails CI)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from story.scoring import SETS, load_corpus, score

from dialogues.bundle import load_content
from dialogues.catalogue import DEFAULT_CONTENT_DIR, ContentError
from dialogues.story import Proposal, proposed_answers, read_story, word_reason
from dialogues.story_rules import (
    FIELDS,
    StoryRules,
    check_story_rules,
    load_story_rules,
    parse_story_rules,
    step_options,
)

RULES = load_story_rules()
# Fields switched off in content are still tested, through a copy with everything on.
ALL_ON = RULES.with_everything_enabled()
STORY_FILE = DEFAULT_CONTENT_DIR / "story.toml"


def values(text: str, field: str, rules: StoryRules = ALL_ON) -> set[str]:
    return {p.value for p in read_story(text, rules) if p.field == field}


# --- the rules load and fit the other content ---------------------------------------------


def test_rules_load_and_fit_the_steps() -> None:
    content = load_content()
    check_story_rules(RULES, content)
    options = step_options(content)
    for rule in RULES.fields:
        assert {v.key for v in rule.values} <= options[rule.name]
    assert [rule.name for rule in RULES.fields] == list(FIELDS)


def test_every_field_says_where_its_phrases_come_from() -> None:
    for rule in RULES.fields:
        assert rule.source
        assert rule.confirmed is False


def _edited(old: str, new: str) -> str:
    text = STORY_FILE.read_text("utf-8")
    assert old in text
    return text.replace(old, new, 1)


def test_a_value_that_is_not_an_option_of_its_step_is_refused() -> None:
    raw = _edited(
        "[fields.told.values.nobody]",
        '[fields.told.values.tpd]\nphrases = ["tpd"]\n\n[fields.told.values.nobody]',
    )
    with pytest.raises(ContentError) as caught:
        check_story_rules(parse_story_rules(raw), load_content())
    assert caught.value.file == "story.toml"
    assert caught.value.key == "fields.told.values.tpd"


def test_every_start_refuses_story_rules_that_do_not_fit_the_steps(tmp_path: Path) -> None:
    """load_content (start-up, `concernbot content check`) checks story.toml too."""
    folder = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, folder)
    (folder / "story.toml").write_text(
        _edited("[fields.barrier.values.fear_school]", "[fields.barrier.values.never]"), "utf-8"
    )
    with pytest.raises(ContentError) as caught:
        load_content(folder)
    assert (caught.value.file, caught.value.key) == ("story.toml", "fields.barrier.values.never")


def test_the_loader_reads_the_file_from_the_content_folder(tmp_path: Path) -> None:
    shutil.copy(STORY_FILE, tmp_path / "story.toml")
    (tmp_path / "story.toml").write_text(
        _edited("[fields.barrier.values.fear_school]", "[fields.barrier.values.never]"), "utf-8"
    )
    with pytest.raises(ContentError, match=r"story\.toml: fields\.barrier\.values\.never"):
        check_story_rules(load_story_rules(tmp_path), load_content())
    with pytest.raises(ContentError, match=r"story\.toml: \(file\): not found"):
        load_story_rules(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('"bully*",', '"re:bull(",', "fields.topics.values.bullying_harassment.standalone[0]"),
        ('"bully*",', '"bu*lly",', "fields.topics.values.bullying_harassment.standalone[0]"),
        ('"bully*",', '"... bully",', "fields.topics.values.bullying_harassment.standalone[0]"),
        ('"bully*",', '"re:x*",', "fields.topics.values.bullying_harassment.standalone[0]"),
        ("[fields.told_outcome]", "[fields.outcome]", "fields.outcome"),
        ('resolve = "last"', 'resolve = "latest"', "fields.told_outcome.resolve"),
        (
            'when_negated = "no"',
            'when_negated = "nope"',
            "fields.patient_risk.values.could_be.when_negated",
        ),
        ('exclusive = ["nobody"]', 'exclusive = ["no_one"]', "fields.told.exclusive[0]"),
        ('requires = "told"', 'requires = "barrier"', "fields.told_outcome.requires"),
        (
            "reason = \"{label} ('{evidence}')\"\nsource = \"concernbot's own list of how",
            "reason = \"{lable} ('{evidence}')\"\nsource = \"concernbot's own list of how",
            "fields.group.reason",
        ),
        (
            "[fields.told.values.nobody]\nstandalone",
            "[fields.told.values.nobody]\nstandlone",
            "fields.told.values.nobody.standlone",
        ),
        ("gap_words = 3", 'gap_words = "3"', "matching.gap_words"),
    ],
)
def test_a_bad_edit_is_refused_naming_the_key(old: str, new: str, key: str) -> None:
    with pytest.raises(ContentError) as caught:
        parse_story_rules(_edited(old, new))
    assert caught.value.file == "story.toml"
    assert caught.value.key == key


def test_broken_toml_is_refused() -> None:
    with pytest.raises(ContentError, match=r"story\.toml: \(syntax\)"):
        parse_story_rules("[fields\n")


# --- each field: a positive example, a negated one, and an absent one ---------------------

EXAMPLES = [
    # (story, field, the values it must propose for that field)
    ("I keep getting left on my own on nights", "topics", {"supervision"}),
    ("no induction at all, nobody showed me around", "topics", {"induction"}),
    ("the supervison on this ward is terrible", "topics", {"supervision"}),
    ("the consultant shouted at me in front of patients", "topics", {"bullying_harassment"}),
    ("this isn't unsafe for patients, I just get no teaching", "topics", {"learning_access"}),
    ("my placement is lovely and everyone is kind", "topics", set()),
    ("I'm an FY2 at Addenbrooke's", "group", {"resident_doctors"}),
    ("2nd year student nurse at the NNUH", "group", {"nursing_students"}),
    ("I'm not a student nurse, I'm a volunteer", "group", set()),
    ("the FY1s on my ward are never supervised", "group", set()),
    ("our F1 teaching keeps being cancelled", "group", set()),
    ("I'm on placement at Adenbrookes", "organisation", {"cambridge_university_hospitals"}),
    ("student nurse at the NNUH", "organisation", {"norfolk_and_norwich"}),
    ("I moved from Watford to the Lister", "organisation", set()),
    ("the hospital is huge", "organisation", set()),
    ("2nd year physio at UEA", "university", {"uea"}),
    ("I study at Anglia Ruskin in Chelmsford", "university", {"anglia_ruskin"}),
    ("my uni is the university of essex", "university", {"essex"}),
    ("I'm at Cambridge University Hospitals", "university", set()),  # the trust
    ("placement in Ipswich, my uni tutor knows", "university", set()),
    ("it's been going on for about 4 months", "started", {"months"}),
    ("I told my ES two weeks ago", "started", set()),
    ("it started yesterday", "started", {"this_week"}),
    ("it happens every single shift", "frequency", {"constant"}),
    ("it has happened twice now", "frequency", {"sometimes"}),
    ("the rota is awful", "frequency", set()),
    ("I told my ES last week", "told", {"supervisor"}),
    ("I haven't told my ES", "told", set()),
    ("I haven't told anyone", "told", {"nobody"}),
    ("I told the TPD but nobody else", "told", {"training_programme_director"}),
    ("my ES is lovely", "told", set()),
    ("the reg told me the consultant was angry", "told", set()),
    ("I told my ES and had no reply", "told_outcome", {"no_answer"}),
    ("I raised it with my PEF and it hasn't been resolved", "told_outcome", {"unresolved"}),
    (
        "told my ES, she said she'd look into it but nobody has got back to me",
        "told_outcome",
        {"no_answer"},
    ),
    ("nothing has changed", "told_outcome", set()),
    ("patients are not safe on nights", "patient_risk", {"could_be"}),
    ("this is not unsafe for patients", "patient_risk", {"no"}),
    ("I'm not sure if it's unsafe", "patient_risk", {"not_sure"}),
    ("the teaching is poor", "patient_risk", set()),
    ("both of us are affected", "affected", {"few"}),
    ("it's not just me", "affected", set()),
    ("about 30 students are affected", "affected", {"many"}),
    ("I'm scared it'll affect my ARCP", "barrier", {"fear_local"}),
    ("I'm scared to tell the uni", "barrier", {"fear_school"}),
    (
        "he is my supervisor and I'm scared it will affect my ARCP",
        "barrier",
        {"involves_local", "fear_local"},
    ),
    ("it's the consultant himself", "barrier", {"involves_local"}),
    ("I'm not scared of the consequences", "barrier", set()),
    ("the ward is busy", "barrier", set()),
]


@pytest.mark.parametrize(("text", "field", "expected"), EXAMPLES)
def test_each_field_reads_what_it_should(text: str, field: str, expected: set[str]) -> None:
    assert values(text, field) == expected


def test_every_field_has_a_positive_and_an_absent_example() -> None:
    for field in FIELDS:
        outcomes = [bool(expected) for _, f, expected in EXAMPLES if f == field]
        assert True in outcomes and False in outcomes, field


def test_a_proposal_carries_its_evidence_and_reason() -> None:
    text = "FY2 here. Left on my own most nights, I told my ES two weeks ago, no reply."
    proposals = read_story(text, RULES)
    supervision = next(p for p in proposals if p.value == "supervision")
    assert supervision.evidence == "Left on my own"
    assert word_reason(supervision, RULES, "Supervision") == "Supervision ('Left on my own')"
    told = next(p for p in proposals if p.field == "told")
    assert told.evidence == "told my ES"
    assert proposed_answers(proposals, RULES)["told"] == ["supervisor"]
    assert proposed_answers(proposals, RULES)["told_outcome"] == "no_answer"


def test_a_negated_phrase_shows_the_negation_in_its_evidence() -> None:
    (risk,) = [
        p for p in read_story("It's not unsafe for patients.", RULES) if p.field == "patient_risk"
    ]
    assert (risk.value, risk.evidence) == ("no", "not unsafe")


def test_fields_switched_off_propose_nothing() -> None:
    off = {rule.name for rule in RULES.fields if not rule.enabled}
    text = "It's been going on for 3 months and both of us are affected."
    assert not {p.field for p in read_story(text, RULES)} & off


# --- the corpus -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SETS)
def test_evidence_is_the_learners_own_words(name: str) -> None:
    for story in load_corpus(name):
        for proposal in read_story(story.text, ALL_ON):
            assert story.text[proposal.start : proposal.end] == proposal.evidence
            assert proposal.evidence and proposal.evidence in story.text


def test_the_corpus_is_big_enough_and_annotated_with_real_options() -> None:
    options = step_options(load_content())
    stories = [s for name in SETS for s in load_corpus(name)]
    assert len(load_corpus("heldout")) >= 20 and len(stories) >= 80
    assert len({s.id for s in stories}) == len(stories)
    for story in stories:
        for field, expected in story.expected.items():
            assert expected <= options[field], (story.id, field)


def test_every_enabled_field_keeps_its_precision_on_the_corpus() -> None:
    stories = [s for name in SETS for s in load_corpus(name)]
    result = score(stories, RULES)
    for rule in RULES.fields:
        tally = result.fields[rule.name]
        if rule.enabled and tally.proposed:
            assert tally.precision is not None and tally.precision >= 0.9, (rule.name, tally)


# --- any text at all ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_read_story_never_raises(text: str) -> None:
    for proposal in read_story(text, ALL_ON):
        assert isinstance(proposal, Proposal)
        assert text[proposal.start : proposal.end] == proposal.evidence


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([s.text for s in load_corpus("dev")]), min_size=1, max_size=40))
def test_a_long_story_is_read_quickly(parts: list[str]) -> None:
    text = " ".join(parts)
    text = (text * (3500 // len(text) + 1))[:3500]
    started = time.perf_counter()
    read_story(text, ALL_ON)
    # A generous bound for a busy shared machine; it takes tens of milliseconds when idle.
    assert time.perf_counter() - started < 2.0
