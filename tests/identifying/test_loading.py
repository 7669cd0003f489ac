"""identifying.toml: the shipped file loads with the rest of the content, and a bad edit is
refused with the file and the key at fault."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dialogues.bundle import load_content
from dialogues.content_files import DEFAULT_CONTENT_DIR, ContentError
from dialogues.identifying import find_identifying
from dialogues.identifying_rules import FILE, KINDS, load_identifying, parse_identifying

SHIPPED = (DEFAULT_CONTENT_DIR / FILE).read_text(encoding="utf-8")


def edited(old: str, new: str) -> bytes:
    assert old in SHIPPED, f"stale test: {old!r} is not in {FILE}"
    return SHIPPED.replace(old, new, 1).encode()


def refused(old: str, new: str) -> ContentError:
    with pytest.raises(ContentError) as caught:
        parse_identifying(edited(old, new))
    assert caught.value.file == FILE
    return caught.value


def test_the_shipped_rules_load_with_every_kind_and_are_flagged_unconfirmed() -> None:
    rules = load_identifying()
    assert set(rules.kinds) == set(KINDS)
    assert rules.confirmed is False
    assert all(not r.confirmed and r.source for r in rules.registrations)
    assert {r.regulator for r in rules.registrations} == {"GMC", "NMC", "HCPC", "GPhC", "GDC"}


def test_start_up_loads_the_rules_with_the_rest_of_the_content() -> None:
    content = load_content()
    assert find_identifying("Dr Patel", content.identifying)[0].replacement == "[a doctor]"


def test_start_up_refuses_a_broken_identifying_file(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, folder)
    (folder / FILE).write_bytes(edited("pattern = '\\d{7}'", "pattern = '(\\d{7}'"))
    with pytest.raises(ContentError, match=r"identifying\.toml: registration\[0\]\.pattern"):
        load_content(folder)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"identifying\.toml: \(file\): not found"):
        load_identifying(tmp_path)


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('replacement = "[a date]"', 'replacement = "a date"', "kinds.date.replacement",
         "brackets"),
        ("[kinds.ward_bay]", "[kinds.wards]", "kinds.ward_bay", "missing"),
        ("[kinds.title_name]", "[kinds.postcode]\nenabled = true\n[kinds.title_name]",
         "kinds.postcode", "not a kind"),
        ("pattern = '\\d{7}'", "pattern = '('", "registration[0].pattern",
         "not a regular expression"),
        ("pattern = '\\d{7}'", "pattern = '\\d*'", "registration[0].pattern", "empty text"),
        ('context = ["GMC"]', "context = []", "registration[0].context", "plain number"),
        ('consultant = "[a consultant]"', 'consultant = "[a consultant]"\nConsultant = "[x]"',
         "roles.Consultant", "listed twice"),
        ('"a", "an", "the",', '"a", "an", "the", "the",', "names.not_names[3]", "twice"),
        ('["May"],', "", "dates.months", "needs 12"),
        ('region = "GB"', 'region = "XX"', "phones.region", "not a region"),
        ("gap_words = 3", "gap_words = 9", "singling_out.gap_words", "from 0 to 5"),
        ('keep = "Keep as written"', 'keep = "Keep exactly as I wrote it, every word"',
         "words.keep", "at most 30"),
        ("{count} thing(s)", "{number} thing(s)", "words.heading", "{number}"),
        ('words = ["Doctor"]', 'words = ["DR"]', "titles[1].words", "already a title"),
    ],
)  # fmt: skip
def test_a_bad_edit_is_refused_naming_the_key(old: str, new: str, key: str, message: str) -> None:
    error = refused(old, new)
    assert error.key == key
    assert message in error.message


def test_switching_a_kind_off_stops_its_findings_only() -> None:
    text = "Dr Patel left on 3rd March"
    off = edited("[kinds.date]\nenabled = true", "[kinds.date]\nenabled = false")
    rules = parse_identifying(off)
    assert [f.kind for f in find_identifying(text, rules)] == ["title_name"]
    assert [f.kind for f in find_identifying(text, load_identifying())] == ["title_name", "date"]


def test_every_replacement_is_neutral_words_the_detector_does_not_find_again() -> None:
    rules = load_identifying()
    words = {
        *(k.replacement for k in rules.kinds.values()),
        *(t.replacement for t in rules.titles.values()),
        *rules.roles.values(),
        *(replacement for _, replacement in rules.grades),
        *rules.places.values(),
    }
    for replacement in words:
        assert replacement.startswith("[") and replacement.endswith("]")
        assert find_identifying(f"{replacement} on 3rd March", rules)[0].kind == "date"
