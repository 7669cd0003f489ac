"""Properties of the detector over any text: it never fails, every span indexes the input,
and once every finding is replaced nothing of those kinds is found again.

What the properties found, each fixed: two phone numbers with only a space between (the
library reads one run), a phone number next to a date or an NHS number, titles overlapping
("Dr Staff Nurse Dr"), an NHS number beside another group of digits, a date touching a word.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dialogues.identifying import Finding, apply_replacements, find_identifying
from dialogues.identifying_rules import KINDS, load_identifying
from identifying.scoring import SETS, load_corpus

RULES = load_identifying()
# Pieces that make the rules fire, near-miss, and run into each other.
PIECES = [
    "Dr", "dr", "Dr.", "Mr", "Mrs", "Sister", "Nurse", "Staff Nurse", "Prof", "Miss", "MS",
    "Smith", "O'Brien", "Baxter-Reid", "J.", "khan", "Sánchez", "I", "Then", "Unfortunately",
    "the", "my", "our", "a", "an", ",", ".", "consultant", "registrar", "practice supervisor",
    "ST3", "F2", "Band 7", "scrub", "nurse", "the only", "the sole", "one", "male", "student",
    "on the ward", "in my cohort", "who", "3rd", "March", "Tuesday", "4", "of", "2026",
    "03/03/2026", "4.3.26", "on 12/3", "Christmas Day", "12", "bay", "ward C9", "bed 4",
    "Side room", "07700 900461", "+44 7700 900517", "(0)1223", "01603 456161", "0", "+",
    "GMC", "7123456", "NMC", "21A4567E", "PH123456", "GPhC", "GDC", "123456", "943 476 5919",
    "9434765919", "jo@uea.ac.uk", "@", "nhs.net", "'s", "\u2019s", "-", "\n", "At", "Colchester",
    "BSc", "MPharm", "(Hons)", "Physiotherapy", "year 2", "2nd year", "final year",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", "  ", "\t", "; ", " (", ") "]
CORPUS = [s.text for name in SETS for s in load_corpus(name)]


@st.composite
def texts(draw: st.DrawFn, glued: bool = True) -> str:
    """Pieces joined by blanks and punctuation, or (`glued`) sometimes by nothing at all."""
    separators = st.sampled_from(["", *SEPARATORS] if glued else SEPARATORS)
    pieces = draw(
        st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), min_size=0, max_size=24)
    )
    return "".join(piece + draw(separators) for piece in pieces)


def check(text: str, findings: tuple[Finding, ...]) -> None:
    for finding in findings:
        assert finding.kind in KINDS
        assert 0 <= finding.start < finding.end <= len(text)
        assert text[finding.start : finding.end] == finding.text
        assert finding.replacement.startswith("[") and finding.replacement.endswith("]")
    for first, second in pairwise(findings):
        assert first.end <= second.start


@settings(max_examples=400, deadline=None)
@given(st.one_of(texts(), st.text(max_size=300), st.sampled_from(CORPUS)))
@example("")
@example("Dr Dr Smith")
@example("the only the only ST3")
@example("Dr O'Brien's")
def test_findings_always_index_the_text_in_order_without_overlap(text: str) -> None:
    check(text, find_identifying(text, RULES))


# Not glued: "21A4567E21A4567E" reads as one number until the first is replaced, and the
# phone library finds "07700 900461" in "Day07700 900461" where the date rule needs "Day" to
# end a word; text people write puts a blank or a stop between such things.
@settings(max_examples=400, deadline=None)
@given(st.one_of(texts(glued=False), st.sampled_from(CORPUS)))
@example("consultant John Smith and Smith the registrar")
@example("Bay 4 on 3rd March")
@example("07700 900461 07700 900461")
@example("Dr Staff Nurse Dr Patel")
@example("07700 900461  943 476 5919, 07700 900461")
def test_once_everything_is_replaced_nothing_of_those_kinds_is_found_again(text: str) -> None:
    findings = find_identifying(text, RULES)
    replaced = apply_replacements(text, findings)
    kinds = {f.kind for f in findings}
    again = find_identifying(replaced, RULES)
    check(replaced, again)
    assert [f for f in again if f.kind in kinds] == []
