"""Support for the learner as a person, by group, and the words of the advice's contacts and
support sections. Built from support.toml, checked against the learner groups of
pathways.toml: every group has support of its own, beside what is said to everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dialogues.content_files import Fact, Table, check_unique
from dialogues.pathways import ALL_GROUPS, Pathways, group_keys

# Each word of the sections, with the placeholders the code fills in.
WORDING: Mapping[str, frozenset[str]] = {
    "contacts": frozenset(),
    "contacts_marked": frozenset(),
    "support": frozenset(),
    "marker": frozenset(),
    "your_university": frozenset(),
    "quality_team": frozenset({"name", "email"}),
    "also_patient_safety": frozenset({"regulator"}),
    "also_provider": frozenset({"regulator"}),
}
SUPPORT_PLACEHOLDERS = frozenset({"university"})
# A mark a learner notices at the end of a line without it crowding a phone's screen.
MAX_MARKER_LENGTH = 3


@dataclass(frozen=True)
class SupportLine:
    key: str
    groups: frozenset[str]
    fact: Fact

    def for_group(self, group_key: str | None) -> bool:
        return ALL_GROUPS in self.groups or group_key in self.groups


@dataclass(frozen=True)
class Support:
    lines: tuple[SupportLine, ...]
    wording: Mapping[str, str] = field(hash=False)
    sources: Mapping[str, str] = field(hash=False)

    def say(self, key: str, **values: str) -> str:
        return self.wording[key].format(**values)

    @property
    def marker(self) -> str:
        return self.wording["marker"].strip()

    def mark(self, fact: Fact) -> str:
        """A fact as the learner reads it: an unconfirmed one carries the marker."""
        return fact.text if fact.confirmed else f"{fact.text} {self.marker}"


def read_support(root: Table, pathways: Pathways) -> Support:
    sources = root.sources()
    words = root.table("wording")
    wording = {key: words.template(key, allowed) for key, allowed in WORDING.items()}
    for key in words.data:
        if key not in WORDING:
            raise words.error(key, "not a word the advice uses")
    marker = wording["marker"].strip()
    if not marker or len(marker) > MAX_MARKER_LENGTH:
        raise words.error("marker", f"1 to {MAX_MARKER_LENGTH} characters")
    if marker not in wording["contacts_marked"]:
        raise words.error("contacts_marked", f"must show the marker {marker!r} it explains")

    known = frozenset(group.key for group in pathways.groups)
    rows = root.tables("support")
    lines = tuple(
        SupportLine(
            row.text("key"),
            group_keys(row, "groups", known),
            row.fact(sources, SUPPORT_PLACEHOLDERS),
        )
        for row in rows
    )
    check_unique(rows, "key", [line.key for line in lines])
    own = {group for line in lines for group in line.groups}
    for group in pathways.groups:
        if group.key not in own:
            raise root.error("support", f"no support of its own for group {group.key!r}")
    return Support(lines, MappingProxyType(wording), sources)
