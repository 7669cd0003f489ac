"""Tests for the content catalogue: the shipped files, the lookups and every validation rule."""

import dataclasses
import re
import shutil
import time
from itertools import product
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogues.catalogue import (
    DEFAULT_CONTENT_DIR,
    UNCONFIRMED_MARKER,
    Catalogue,
    ContentError,
    _starts_a_word,
    load_catalogue,
)

# Written out from DOMAIN.md rather than derived from the content, so the two can disagree.
DOMAIN_STANDARDS = {
    1: ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"],
    2: ["2.1", "2.2", "2.3", "2.4", "2.5"],
    3: ["3.1", "3.2", "3.3", "3.4", "3.5"],
    4: ["4.1", "4.2", "4.3", "4.4"],
    5: ["5.1", "5.2", "5.3"],
    6: ["6.1", "6.2", "6.3", "6.4"],
}
CONFIRMED_STANDARDS = {"1.3", "1.5", "3.1"}
DOMAIN_NAMES = {
    1: "Learning environment and culture",
    2: "Educational governance and leadership",
    3: "Supporting and empowering learners",
    4: "Supporting and empowering educators",
    5: "Developing and implementing curricula and assessments",
    6: "Developing a sustainable workforce",
}
BAND_OF_PRODUCT = {
    1: "low",
    2: "low",
    3: "low",
    4: "moderate",
    5: "moderate",
    6: "moderate",
    8: "high",
    9: "high",
    10: "high",
    12: "high",
    15: "extreme",
    16: "extreme",
    20: "extreme",
    25: "extreme",
}
BAND_COLOURS = {"low": "green", "moderate": "yellow", "high": "amber", "extreme": "red"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def copy_with_edit(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """Copy the shipped content and replace the first occurrence of `old` in one file."""
    directory = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, directory)
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"stale test: {old!r} is not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return directory


def load_error(directory: Path) -> ContentError:
    with pytest.raises(ContentError) as caught:
        load_catalogue(directory)
    return caught.value


# --- the shipped content ------------------------------------------------------------------


def test_shipped_content_loads_with_a_short_hex_version(catalogue: Catalogue) -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", catalogue.version)


def test_version_changes_when_any_file_changes(tmp_path: Path, catalogue: Catalogue) -> None:
    directory = copy_with_edit(tmp_path, "organisations.toml", "# East", "#  East")
    assert load_catalogue(directory).version != catalogue.version


def test_every_domain_of_the_framework_is_there(catalogue: Catalogue) -> None:
    framework = catalogue.framework
    assert {d.number: d.name for d in framework.domains} == DOMAIN_NAMES
    assert framework.domain(6).name == "Developing a sustainable workforce"


def test_every_standard_is_there_with_the_right_confirmed_flag(catalogue: Catalogue) -> None:
    framework = catalogue.framework
    for domain, ids in DOMAIN_STANDARDS.items():
        assert [s.id for s in framework.standards_in(domain)] == ids
    confirmed = {s.id for s in framework.standards if s.confirmed}
    assert confirmed == CONFIRMED_STANDARDS
    assert not framework.confirmed


def test_an_unconfirmed_standard_is_labelled_as_such(catalogue: Catalogue) -> None:
    unconfirmed = catalogue.framework.standard("1.2")
    assert unconfirmed.label.startswith("1.2 ")
    assert unconfirmed.label.endswith(UNCONFIRMED_MARKER)
    confirmed = catalogue.framework.standard("3.1")
    assert confirmed.label == f"3.1 {confirmed.summary}"


def test_topics_cover_domain_md_and_fit_a_phone_button(catalogue: Catalogue) -> None:
    topics = catalogue.framework.topics
    assert len(topics) == 10
    assert all(len(topic.label) <= 40 for topic in topics)
    assert all(6 <= len(topic.keywords) <= 16 for topic in topics)
    assert catalogue.framework.topic("facilities").standards == ("1.5",)


def test_unknown_lookups_raise_key_error(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError):
        catalogue.framework.standard("9.9")
    with pytest.raises(KeyError):
        catalogue.framework.topic("nonsense")
    with pytest.raises(KeyError):
        catalogue.pathways.group("nonsense")
    with pytest.raises(KeyError):
        catalogue.organisation("nonsense")


def test_catalogue_is_frozen_and_hashable(catalogue: Catalogue) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalogue.version = "changed"  # type: ignore[misc]
    contacts = catalogue.pathways.group("resident_doctors").contacts
    with pytest.raises(TypeError):
        contacts[1] = ("someone else",)  # type: ignore[index]
    assert hash(catalogue) == hash(load_catalogue())


# --- suggesting standards -----------------------------------------------------------------


def test_suggest_finds_supervision_from_the_description_alone(catalogue: Catalogue) -> None:
    suggested = catalogue.framework.suggest([], "I was left with no senior on nights")
    assert "3.1" in suggested


def test_suggest_merges_topics_and_text_in_framework_order(catalogue: Catalogue) -> None:
    suggested = catalogue.framework.suggest(["careers_progression", "induction"], "no wifi")
    assert suggested == ("1.5", "3.4", "3.5", "6.1", "6.2", "6.3", "6.4")


def test_suggest_with_nothing_to_go_on_is_empty(catalogue: Catalogue) -> None:
    assert catalogue.framework.suggest([], "something happened") == ()


def test_topics_in_ignores_case_and_curly_apostrophes(catalogue: Catalogue) -> None:
    framework = catalogue.framework
    assert framework.topics_in("My Consultant SHOUTED at me") == ("bullying_harassment",)
    assert framework.topics_in("I didn\u2019t know where anything was") == ("induction",)


def test_topics_in_matches_keywords_only_at_the_start_of_a_word(catalogue: Catalogue) -> None:
    assert catalogue.framework.topics_in("we follow the protocol") == ()
    assert catalogue.framework.topics_in("the rotation was changed") == ("rota_workload",)


@given(
    st.text(st.sampled_from("rota shift-_x\u00e9\u0663\u00b2 .'\n"), max_size=30),
    st.sampled_from(["rota", "on call", "didn't", "x", "_x", "\u00e9", "\u00b2"]),
)
def test_a_keyword_starts_a_word_where_a_look_behind_would_say_so(text: str, keyword: str) -> None:
    expected = re.search(r"(?<!\w)" + re.escape(keyword.casefold()), text) is not None
    assert _starts_a_word(keyword, text) == expected


def test_suggesting_from_a_description_at_its_limit_is_quick(catalogue: Catalogue) -> None:
    # Found by the fuzz: a 3,500-character description cost 30 ms a suggestion, and the
    # standards step asks for several a turn (84 ms a press). Generous: about 1 ms now.
    description = ("the ward rota changed again " * 130)[:3500]
    started = time.perf_counter()
    for _ in range(100):
        catalogue.framework.suggest([], description)
    assert time.perf_counter() - started < 1.5


# --- the risk matrix ----------------------------------------------------------------------


@pytest.mark.parametrize(("likelihood", "impact"), list(product(range(1, 6), repeat=2)))
def test_every_product_lands_in_the_band_domain_md_gives(
    catalogue: Catalogue, likelihood: int, impact: int
) -> None:
    score = catalogue.risk.score(likelihood, impact)
    assert score == likelihood * impact
    band = catalogue.risk.band_for(score)
    assert band.key == BAND_OF_PRODUCT[score]
    assert band.colour == BAND_COLOURS[band.key]


@pytest.mark.parametrize(("likelihood", "impact"), [(0, 3), (3, 6), (-1, -1)])
def test_score_refuses_values_outside_the_matrix(
    catalogue: Catalogue, likelihood: int, impact: int
) -> None:
    with pytest.raises(ValueError):
        catalogue.risk.score(likelihood, impact)


def test_band_for_refuses_a_score_in_no_band(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError):
        catalogue.risk.band_for(7)


def test_matrix_levels_follow_domain_md(catalogue: Catalogue) -> None:
    risk = catalogue.risk
    assert [level.label for level in risk.likelihood] == [
        "Rare",
        "Unlikely",
        "Possible",
        "Likely",
        "Almost certain",
    ]
    assert [level.label for level in risk.impact] == [
        "Negligible",
        "Minor",
        "Moderate",
        "Major",
        "Catastrophic",
    ]
    assert not risk.confirmed
    assert "Quality team" in risk.guidance_note


# --- the pathways and organisations -------------------------------------------------------


def test_pathways_have_three_levels_and_contacts_for_every_group(catalogue: Catalogue) -> None:
    pathways = catalogue.pathways
    assert [level.number for level in pathways.levels] == [1, 2, 3]
    assert len(pathways.groups) == 13
    assert pathways.groups[-1].key == "other"
    for group in pathways.groups:
        assert sorted(group.contacts) == [1, 2, 3]
        assert len(group.label) <= 40
        assert group.contacts[1] and group.contacts[2]
    doctors = pathways.group("resident_doctors")
    assert doctors.regulator.text == "the GMC"
    assert any("Guardian of Safe Working Hours" in line.text for line in doctors.contacts[1])


def test_roles_are_found_across_levels(catalogue: Catalogue) -> None:
    assert catalogue.pathways.role("speak_up_guardian").level == 1
    assert catalogue.pathways.role("head_of_school").level == 2
    assert catalogue.pathways.role("postgraduate_dean").level == 3


def test_quality_team_address_is_flagged_unconfirmed(catalogue: Catalogue) -> None:
    pathways = catalogue.pathways
    assert pathways.quality_team_email == "england.qualityframework.eoe@nhs.net"
    assert not pathways.quality_team_confirmed
    routes = {route.key for route in pathways.routes}
    assert routes >= {"exception_reporting", "national_training_survey", "nets", "cqc"}


def test_organisations_end_with_other(catalogue: Catalogue) -> None:
    organisations = catalogue.organisations
    assert len(organisations) == 23
    assert organisations[-1].key == "other"
    assert catalogue.organisation("east_of_england_ambulance").kind == "ambulance"


# --- validation ---------------------------------------------------------------------------


def test_content_error_names_file_and_key() -> None:
    error = ContentError("risk.toml", "likelihood[3].label", "missing")
    assert str(error) == "risk.toml: likelihood[3].label: missing"
    assert (error.file, error.key, error.message) == ("risk.toml", "likelihood[3].label", "missing")


def test_missing_file(tmp_path: Path) -> None:
    directory = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, directory)
    (directory / "risk.toml").unlink()
    error = load_error(directory)
    assert (error.file, error.key) == ("risk.toml", "(file)")


BROKEN = [
    pytest.param("pathways.toml", "[speak_up]", "[speak_up", "(syntax)", "", id="toml-syntax"),
    pytest.param(
        "risk.toml", 'label = "Possible"\n', "", "likelihood[2].label", "missing", id="missing"
    ),
    pytest.param(
        "risk.toml", "score = 3", 'score = "3"', "likelihood[2].score", "integer", id="str-for-int"
    ),
    pytest.param("risk.toml", "low = 1\n", "low = true\n", "bands[0].low", "boolean", id="bool"),
    pytest.param(
        "framework.toml",
        "confirmed = true",
        'confirmed = "yes"',
        "domains[0].confirmed",
        "boolean",
        id="str-for-bool",
    ),
    pytest.param(
        "framework.toml",
        'keywords = [\n    "supervis"',
        "keywords = [\n    3",
        "topics[0].keywords[0]",
        "string",
        id="int-in-list",
    ),
    pytest.param(
        "pathways.toml",
        "[groups.contacts]\n",
        'contacts = "none"\n[groups.elsewhere]\n',
        "groups[0].contacts",
        "table",
        id="not-a-table",
    ),
    pytest.param(
        "framework.toml",
        "number = 2",
        "number = 1",
        "domains[1].number",
        "duplicate",
        id="duplicate-domain",
    ),
    pytest.param(
        "framework.toml",
        'id = "1.2"',
        'id = "1.1"',
        "standards[1].id",
        "duplicate",
        id="duplicate-standard",
    ),
    pytest.param(
        "framework.toml",
        'key = "induction"',
        'key = "supervision"',
        "topics[1].key",
        "duplicate",
        id="duplicate-topic",
    ),
    pytest.param(
        "pathways.toml",
        'key = "medical_students"',
        'key = "resident_doctors"',
        "groups[1].key",
        "duplicate",
        id="duplicate-group",
    ),
    pytest.param(
        "pathways.toml",
        'key = "national_training_survey"',
        'key = "exception_reporting"',
        "routes[5].key",
        "duplicate",
        id="duplicate-route",
    ),
    pytest.param(
        "organisations.toml",
        'key = "royal_papworth"',
        'key = "west_suffolk"',
        "organisations[7].key",
        "duplicate",
        id="duplicate-organisation",
    ),
    pytest.param(
        "framework.toml",
        'id = "1.1"\ndomain = 1',
        'id = "7.1"\ndomain = 7',
        "standards[0].domain",
        "unknown domain 7",
        id="standard-unknown-domain",
    ),
    pytest.param(
        "framework.toml",
        'id = "1.1"\ndomain = 1',
        'id = "1.1"\ndomain = 2',
        "standards[0].id",
        "not in domain 2",
        id="standard-id-outside-its-domain",
    ),
    pytest.param(
        "framework.toml",
        'id = "1.1"',
        'id = "1-1"',
        "standards[0].id",
        "<domain>",
        id="standard-id-shape",
    ),
    pytest.param(
        "framework.toml",
        'standards = ["1.5"]',
        "standards = []",
        "topics[6].standards",
        "at least one",
        id="topic-without-standard",
    ),
    pytest.param(
        "framework.toml",
        'standards = ["1.5"]',
        'standards = ["1.5", "9.9"]',
        "topics[6].standards[1]",
        "unknown standard '9.9'",
        id="topic-unknown-standard",
    ),
    pytest.param(
        "risk.toml",
        'score = 5\nlabel = "Almost certain"',
        'score = 6\nlabel = "Almost certain"',
        "likelihood",
        "exactly 1..5",
        id="likelihood-not-1-to-5",
    ),
    pytest.param(
        "risk.toml",
        'score = 5\nlabel = "Catastrophic"',
        'score = 4\nlabel = "Catastrophic"',
        "impact",
        "exactly 1..5",
        id="impact-duplicate-score",
    ),
    pytest.param(
        "risk.toml",
        "low = 4\nhigh = 6",
        "low = 4\nhigh = 8",
        "bands[2]",
        "overlaps",
        id="bands-overlap",
    ),
    pytest.param(
        "risk.toml",
        "low = 8\n",
        "low = 9\n",
        "bands",
        "score 8 is in no band",
        id="bands-leave-a-gap",
    ),
    pytest.param(
        "risk.toml",
        "low = 15\nhigh = 25",
        "low = 16\nhigh = 25",
        "bands",
        "score 15",
        id="bands-miss-the-top-edge",
    ),
    pytest.param(
        "risk.toml",
        'key = "extreme"',
        'key = "severe"',
        "bands",
        "'extreme'",
        id="band-key-missing",
    ),
    pytest.param(
        "risk.toml",
        "low = 4\nhigh = 6",
        "low = 6\nhigh = 4",
        "bands[1].low",
        "above",
        id="band-upside-down",
    ),
    pytest.param(
        "pathways.toml",
        'number = 3\nname = "Pathway 3',
        'number = 4\nname = "Pathway 3',
        "levels",
        "exactly 1..3",
        id="levels-not-1-to-3",
    ),
    pytest.param(
        "pathways.toml",
        "2 = [\n"
        '    { text = "Your Training Programme Director", source = "pathway", confirmed = true },\n'
        '    { text = "The Head of School", source = "pathway", confirmed = true },\n'
        '    { text = "The Director of Medical Education (DME)", source = "pathway", '
        "confirmed = true, placement = true },\n]\n",
        "",
        "groups[0].contacts.2",
        "missing",
        id="group-without-level-2",
    ),
    pytest.param(
        "pathways.toml",
        "3 = [",
        "4 = [",
        "groups[0].contacts.3",
        "missing",
        id="group-without-level-3",
    ),
    pytest.param(
        "pathways.toml",
        "[groups.contacts]\n",
        "[groups.contacts]\n4 = []\n",
        "groups[0].contacts.4",
        "not a pathway level",
        id="group-extra-level",
    ),
    pytest.param(
        "pathways.toml",
        "1 = [\n",
        "1 = [\n]\nx = [\n",
        "groups[0].contacts.1",
        "no contacts",
        id="group-empty-level",
    ),
    pytest.param(
        "pathways.toml",
        'key = "quality_team"',
        'key = "supervisor"',
        "levels[2].roles[1].key",
        "duplicate",
        id="role-key-across-levels",
    ),
    pytest.param(
        "framework.toml",
        'label = "Supervision"',
        f'label = "{"x" * 61}"',
        "topics[0].label",
        "longer than 60",
        id="topic-label-too-long",
    ),
    pytest.param(
        "pathways.toml",
        'label = "Medical student"',
        f'label = "{"x" * 61}"',
        "groups[1].label",
        "longer than 60",
        id="group-label-too-long",
    ),
    pytest.param(
        "pathways.toml",
        'label = "The Head of School"',
        f'label = "{"x" * 61}"',
        "levels[1].roles[1].label",
        "longer than 60",
        id="role-label-too-long",
    ),
    pytest.param(
        "risk.toml",
        'label = "Rare"',
        f'label = "{"x" * 61}"',
        "likelihood[0].label",
        "longer than 60",
        id="level-label-too-long",
    ),
    pytest.param(
        "organisations.toml",
        'key = "other"',
        'key = "elsewhere"',
        "organisations",
        "last organisation must be 'other'",
        id="organisations-without-other",
    ),
    pytest.param(
        "organisations.toml",
        'kind = "ambulance"',
        'kind = "airline"',
        "organisations[21].kind",
        "unknown kind",
        id="organisation-unknown-kind",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "key", "message"), BROKEN)
def test_broken_content_is_refused(
    tmp_path: Path, file: str, old: str, new: str, key: str, message: str
) -> None:
    error = load_error(copy_with_edit(tmp_path, file, old, new))
    assert (error.file, error.key) == (file, key)
    assert message in error.message


def test_other_moved_from_the_end_is_refused(tmp_path: Path) -> None:
    other = (
        '\n[[organisations]]\nkey = "other"\n'
        'name = "Another organisation (GP practice, hospice, university, private provider)"\n'
        'short = "Somewhere else"\nkind = "other"\n'
    )
    directory = copy_with_edit(tmp_path, "organisations.toml", other, "")
    path = directory / "organisations.toml"
    text = path.read_text(encoding="utf-8")
    first = text.index("[[organisations]]")
    path.write_text(text[:first] + other.lstrip("\n") + "\n" + text[first:], encoding="utf-8")
    error = load_error(directory)
    assert (error.file, error.key) == ("organisations.toml", "organisations")


def test_a_label_of_exactly_sixty_characters_is_accepted(tmp_path: Path) -> None:
    label = "x" * 60
    directory = copy_with_edit(
        tmp_path, "framework.toml", 'label = "Supervision"', f'label = "{label}"'
    )
    assert load_catalogue(directory).framework.topic("supervision").label == label
