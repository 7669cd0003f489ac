"""Whom a learner can turn to: the pathway's levels and roles, the learner groups with their
own contacts, regulator and roles, the routes beside the pathway, the organisations where
they train and the universities they study with. Built from pathways.toml,
organisations.toml and universities.toml.

Every line that states a fact about a contact or a route is a `Fact`, with its source and
whether it is confirmed; `dialogues.contacts` chooses the lines for one learner's advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dialogues.content_files import Fact, Table, check_unique, one

OTHER_ORGANISATION = "other"
ORGANISATION_KINDS = frozenset({"acute", "mental_health_community", "ambulance", "other"})
PATHWAY_LEVELS = (1, 2, 3)
# Roles offered as "who have you told?", beside "Nobody yet" and Done: 8 buttons at most.
MAX_TOLD_ROLES = 6
MAX_UNIVERSITIES = 8
# A line meant for every learner group, where a list of group keys is expected.
ALL_GROUPS = "all"
# When a route beside the pathway is worth naming; `dialogues.contacts` decides each.
ROUTE_WHEN = frozenset({"always", "patient_safety", "not_urgent"})


@dataclass(frozen=True)
class Role:
    key: str
    label: str
    level: int


@dataclass(frozen=True)
class PathwayLevel:
    number: int
    name: str
    summary: str
    roles: tuple[Role, ...]


@dataclass(frozen=True)
class LearnerGroup:
    key: str
    label: str
    # Named as an "also" contact only where it fits (see dialogues.contacts).
    regulator: Fact
    # A read-only view; left out of the hash because mappings are not hashable. Level 3 may
    # be empty: the Quality team's line is added for every group.
    contacts: Mapping[int, tuple[Fact, ...]] = field(hash=False)
    short: str = ""
    # Students are asked their university, their level-2 contact.
    student: bool = False
    # Offered on the second list of groups.
    more: bool = False
    # Whom this group may have told: (role key, the group's own words for that role).
    roles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    """A route beside the pathway (exception reporting, the surveys, the CQC...), for some
    groups, named when its condition holds."""

    key: str
    groups: frozenset[str]
    when: str
    fact: Fact

    def for_group(self, group_key: str | None) -> bool:
        return ALL_GROUPS in self.groups or group_key in self.groups


@dataclass(frozen=True)
class Pathways:
    source: str
    confirmed: bool
    levels: tuple[PathwayLevel, ...]
    groups: tuple[LearnerGroup, ...]
    speak_up_name: str
    speak_up: Fact
    quality_team_name: str
    quality_team_email: str
    quality_team_confirmed: bool
    quality_team_note: str
    quality_team_source: str
    routes: tuple[Route, ...]
    sources: Mapping[str, str] = field(hash=False)

    def level(self, number: int) -> PathwayLevel:
        return one(self.levels, lambda lv: lv.number == number, number)

    def group(self, key: str) -> LearnerGroup:
        return one(self.groups, lambda g: g.key == key, key)

    def role(self, key: str) -> Role:
        roles = (role for level in self.levels for role in level.roles)
        return one(roles, lambda r: r.key == key, key)


@dataclass(frozen=True)
class Organisation:
    key: str
    name: str
    kind: str
    short: str = ""


@dataclass(frozen=True)
class University:
    key: str
    name: str
    short: str


# --- building each file -------------------------------------------------------------------


def read_pathways(root: Table) -> Pathways:
    level_rows = root.tables("levels")
    levels = tuple(_pathway_level(row) for row in level_rows)
    numbers = [level.number for level in levels]
    if sorted(numbers) != list(PATHWAY_LEVELS):
        raise root.error("levels", f"levels must be exactly 1..3, got {numbers}")
    role_rows = [role_row for row in level_rows for role_row in row.tables("roles")]
    check_unique(role_rows, "key", [role.key for level in levels for role in level.roles])

    sources = root.sources()
    group_rows = root.tables("groups")
    groups = tuple(_group(row, sources) for row in group_rows)
    check_unique(group_rows, "key", [group.key for group in groups])
    # A role a group may have told must be a role of level 1 or 2, so its level is known.
    known = {role.key for level in levels if level.number < 3 for role in level.roles}
    for row, group in zip(group_rows, groups, strict=True):
        for key, _ in group.roles:
            if key not in known:
                raise row.table("roles").error(key, "not a role of pathway level 1 or 2")
        if len(group.roles) > MAX_TOLD_ROLES:
            raise row.error("roles", f"at most {MAX_TOLD_ROLES}, so the keyboard fits a phone")

    route_rows = root.tables("routes")
    group_keys = frozenset(group.key for group in groups)
    routes = tuple(_route(row, sources, group_keys) for row in route_rows)
    check_unique(route_rows, "key", [route.key for route in routes])

    speak_up = root.table("speak_up")
    quality_team = root.table("quality_team")
    team_source = quality_team.text("source")
    if team_source not in sources:
        raise quality_team.error("source", f"unknown source {team_source!r}: add it to [sources]")
    return Pathways(
        source=root.text("source"),
        confirmed=root.flag("confirmed"),
        levels=tuple(sorted(levels, key=lambda level: level.number)),
        groups=groups,
        speak_up_name=speak_up.text("name"),
        speak_up=speak_up.fact(sources),
        quality_team_name=quality_team.text("name"),
        quality_team_email=quality_team.text("email"),
        quality_team_confirmed=quality_team.flag("confirmed"),
        quality_team_note=quality_team.text("note"),
        quality_team_source=team_source,
        routes=routes,
        sources=sources,
    )


def group_keys(row: Table, key: str, known: frozenset[str]) -> frozenset[str]:
    """A list of learner group keys, or ["all"]; each must name a group."""
    keys = row.texts(key)
    if not keys:
        raise row.error(key, f'no groups: list group keys, or "{ALL_GROUPS}"')
    for index, group in enumerate(keys):
        if group != ALL_GROUPS and group not in known:
            raise row.error(f"{key}[{index}]", f"unknown group {group!r}")
    return frozenset(keys)


def _route(row: Table, sources: Mapping[str, str], known: frozenset[str]) -> Route:
    when = row.text("when")
    if when not in ROUTE_WHEN:
        raise row.error("when", f"must be one of {sorted(ROUTE_WHEN)}")
    return Route(row.text("key"), group_keys(row, "groups", known), when, row.fact(sources))


def _pathway_level(row: Table) -> PathwayLevel:
    number = row.number("number")
    roles = tuple(
        Role(role.text("key"), role.label("label"), number) for role in row.tables("roles")
    )
    return PathwayLevel(number, row.text("name"), row.text("summary"), roles)


def _group(row: Table, sources: Mapping[str, str]) -> LearnerGroup:
    contacts_table = row.table("contacts")
    contacts: dict[int, tuple[Fact, ...]] = {}
    for number in PATHWAY_LEVELS:
        lines = contacts_table.facts(str(number), sources)
        # Level 3 always names the Quality team, so a group may add nobody there.
        if not lines and number < 3:
            raise contacts_table.error(str(number), "no contacts for this level")
        contacts[number] = lines
    for key in contacts_table.data:
        if key not in {str(number) for number in PATHWAY_LEVELS}:
            raise contacts_table.error(key, "not a pathway level (expected 1, 2 or 3)")
    label = row.label("label")
    roles: tuple[tuple[str, str], ...] = ()
    if "roles" in row.data:
        table = row.table("roles")
        roles = tuple((key, table.button(key, "")) for key in table.data)
    return LearnerGroup(
        key=row.text("key"),
        label=label,
        regulator=row.table("regulator").fact(sources),
        contacts=MappingProxyType(contacts),
        short=row.button("short", label),
        student=row.optional_flag("student"),
        more=row.optional_flag("more"),
        roles=roles,
    )


def read_organisations(root: Table) -> tuple[Organisation, ...]:
    # The catalogue keeps no use for these, but a Quality team's edit must not drop the flag.
    root.text("source")
    root.flag("confirmed")
    rows = root.tables("organisations")
    organisations = tuple(
        Organisation(
            row.text("key"),
            row.text("name"),
            row.text("kind"),
            row.button("short", row.text("name")),
        )
        for row in rows
    )
    check_unique(rows, "key", [organisation.key for organisation in organisations])
    for row, organisation in zip(rows, organisations, strict=True):
        if organisation.kind not in ORGANISATION_KINDS:
            raise row.error("kind", f"unknown kind {organisation.kind!r}")
    if not organisations or organisations[-1].key != OTHER_ORGANISATION:
        raise root.error("organisations", f"the last organisation must be {OTHER_ORGANISATION!r}")
    return organisations


def read_universities(root: Table) -> tuple[University, ...]:
    root.text("source")
    root.flag("confirmed")
    rows = root.tables("universities")
    universities = tuple(
        University(row.text("key"), row.label("name"), row.button("short", row.text("name")))
        for row in rows
    )
    check_unique(rows, "key", [university.key for university in universities])
    if not universities or universities[-1].key != OTHER_ORGANISATION:
        raise root.error("universities", f"the last university must be {OTHER_ORGANISATION!r}")
    if len(universities) > MAX_UNIVERSITIES:
        raise root.error("universities", "at most 8, so the keyboard fits a phone")
    return universities
