"""Every line that states a fact about a contact or a route carries a source and a confirmed
flag, and the loader refuses content where one is missing, unknown or malformed.

The files are edited in memory and read by their own loaders, so each refusal names the
file and key a Quality team would have to fix.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dialogues.catalogue import DEFAULT_CONTENT_DIR, PATHWAYS_FILE, SUPPORT_FILE, load_catalogue
from dialogues.content_files import ContentError, Fact, parse_toml
from dialogues.pathways import Pathways, read_pathways
from dialogues.support import Support, read_support

PATHWAYS_TEXT = (DEFAULT_CONTENT_DIR / PATHWAYS_FILE).read_text(encoding="utf-8")
SUPPORT_TEXT = (DEFAULT_CONTENT_DIR / SUPPORT_FILE).read_text(encoding="utf-8")
FIELD = re.compile(r'(, )?\b(source = "[^"]*"|confirmed = (?:true|false))')


def read(pathways: str = PATHWAYS_TEXT, support: str = SUPPORT_TEXT) -> tuple[Pathways, Support]:
    paths = read_pathways(parse_toml(PATHWAYS_FILE, pathways.encode()))
    return paths, read_support(parse_toml(SUPPORT_FILE, support.encode()), paths)


def refused(pathways: str = PATHWAYS_TEXT, support: str = SUPPORT_TEXT) -> ContentError:
    with pytest.raises(ContentError) as caught:
        read(pathways, support)
    return caught.value


def shipped_facts() -> list[tuple[str, Fact]]:
    pathways, support = read()
    facts = [(PATHWAYS_FILE, pathways.speak_up)]
    facts += [(PATHWAYS_FILE, group.regulator) for group in pathways.groups]
    facts += [
        (PATHWAYS_FILE, fact)
        for group in pathways.groups
        for lines in group.contacts.values()
        for fact in lines
    ]
    facts += [(PATHWAYS_FILE, route.fact) for route in pathways.routes]
    facts += [(SUPPORT_FILE, line.fact) for line in support.lines]
    return facts


def test_every_shipped_fact_names_a_source_its_file_describes() -> None:
    pathways, support = read()
    sources = {PATHWAYS_FILE: pathways.sources, SUPPORT_FILE: support.sources}
    facts = shipped_facts()
    assert len(facts) > 80
    for file, fact in facts:
        assert fact.source in sources[file], (file, fact)
        assert isinstance(fact.confirmed, bool)
    assert pathways.quality_team_source in pathways.sources


def test_what_domain_md_leaves_unconfirmed_is_unconfirmed_in_content() -> None:
    pathways, support = read()
    routes = {route.key: route.fact for route in pathways.routes}
    assert not pathways.quality_team_confirmed
    assert not routes["exception_reporting_dental"].confirmed
    assert not pathways.speak_up.confirmed  # DOMAIN.md cites no document for it
    health = [line.fact for line in support.lines if "ccupational health" in line.fact.text]
    assert health and not any(fact.confirmed for fact in health)  # not in DOMAIN.md at all


@pytest.mark.parametrize(
    ("file", "text"), [(PATHWAYS_FILE, PATHWAYS_TEXT), (SUPPORT_FILE, SUPPORT_TEXT)]
)
def test_a_fact_line_without_its_source_or_flag_is_refused_wherever_it_is(
    file: str, text: str
) -> None:
    def in_a_comment(start: int) -> bool:
        return text[text.rfind("\n", 0, start) + 1 :].startswith("#")

    matches = [match for match in FIELD.finditer(text) if not in_a_comment(match.start())]
    assert len(matches) >= 2 * len(read()[1].lines)
    for match in matches:
        broken = text[: match.start()] + text[match.end() :]
        error = refused(**{"pathways" if file == PATHWAYS_FILE else "support": broken})
        field = match.group(2).split(" ")[0]
        assert (error.file, error.key.rsplit(".", 1)[-1], error.message) == (
            file,
            field,
            "missing",
        ), match.group(0)


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"stale test: {old!r}"
    return text.replace(old, new, 1)


PATHWAYS_BROKEN = [
    pytest.param('source = "regulators", confirmed', 'source = "regulator", confirmed',
                 "groups[0].regulator.source", "unknown source 'regulator'", id="unknown-source"),
    pytest.param('source = "pathway", confirmed = true }', 'source = "pathway", confirmed = 1 }',
                 "groups[0].contacts.1[0].confirmed", "boolean", id="flag-not-boolean"),
    pytest.param('{ text = "The Head of School"', '{ text = ""', "groups[0].contacts.2[1].text",
                 "empty", id="empty-fact"),
    pytest.param('{ text = "The Head of School"', '{ text = "The {head}"',
                 "groups[0].contacts.2[1].text", "unknown placeholder", id="fact-placeholder"),
    pytest.param('when = "not_urgent"', 'when = "sometimes"', "routes[4].when", "must be one of",
                 id="unknown-when"),
    pytest.param('groups = ["dental_trainees"]', 'groups = ["dentists"]', "routes[3].groups[0]",
                 "unknown group 'dentists'", id="route-unknown-group"),
    pytest.param('groups = ["dental_trainees"]', "groups = []", "routes[3].groups", "no groups",
                 id="route-no-groups"),
    pytest.param('source = "quality_team_mailbox"', 'source = "mailbox"', "quality_team.source",
                 "unknown source", id="quality-team-source"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "key", "message"), PATHWAYS_BROKEN)
def test_broken_pathways_facts_are_refused(old: str, new: str, key: str, message: str) -> None:
    error = refused(pathways=edit(PATHWAYS_TEXT, old, new))
    assert (error.file, error.key) == (PATHWAYS_FILE, key)
    assert message in error.message


SUPPORT_BROKEN = [
    pytest.param('groups = ["other"]', 'groups = ["all"]', "support",
                 "no support of its own for group 'other'", id="group-without-own-support"),
    pytest.param('groups = ["other"]', 'groups = ["others"]', "support[7].groups[0]",
                 "unknown group", id="unknown-group"),
    pytest.param('source = "our_own"', 'source = "ours"', "support[2].source", "unknown source",
                 id="unknown-source"),
    pytest.param('marker = "*"', 'marker = "†"', "wording.contacts_marked",
                 "must show the marker", id="marker-unexplained"),
    pytest.param('marker = "*"', 'marker = "(unconfirmed)"', "wording.marker", "1 to 3",
                 id="marker-too-long"),
    pytest.param('support = "Support for you:"', 'support = "Support for {name}:"',
                 "wording.support", "unknown placeholder {name}", id="wording-placeholder"),
    pytest.param('support = "Support for you:"', 'support = "Support for you:"\nhelp = "x"',
                 "wording.help", "not a word the advice uses", id="wording-unknown-key"),
    pytest.param('quality_team = "{name}: {email}"', "", "wording.quality_team", "missing",
                 id="wording-missing"),
    pytest.param("Student support at {university}", "Student support at {uni}",
                 "support[3].text", "unknown placeholder {uni}", id="support-placeholder"),
    pytest.param('key = "protected"', 'key = "occupational_health_other"', "support[8].key",
                 "duplicate", id="duplicate-key"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "key", "message"), SUPPORT_BROKEN)
def test_broken_support_is_refused(old: str, new: str, key: str, message: str) -> None:
    error = refused(support=edit(SUPPORT_TEXT, old, new))
    assert (error.file, error.key) == (SUPPORT_FILE, key)
    assert message in error.message


def test_the_catalogue_reads_support_toml_and_refuses_it_missing(tmp_path: Path) -> None:
    assert load_catalogue().support.lines
    directory = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, directory)
    (directory / SUPPORT_FILE).unlink()
    with pytest.raises(ContentError) as caught:
        load_catalogue(directory)
    assert (caught.value.file, caught.value.key) == (SUPPORT_FILE, "(file)")
