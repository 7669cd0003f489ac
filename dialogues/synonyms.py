"""The words learners use for the options: synonyms.toml loaded and checked.

A synonym is another way to say an option ("FY2" for a resident doctor, "NNUH" for the
Norfolk and Norwich). The matcher reads them beside the labels. The loader refuses a phrase
that names two options of one step, and `check_synonyms` (run by the bundle, which knows
every step's options) refuses a step or an option that does not exist.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dialogues.catalogue import ContentError
from dialogues.matching import words

FILE = "synonyms.toml"
# Synonyms for a key wherever it is offered: "not sure", Done, Skip, Continue and the like.
ANY_STEP = "any_step"

Table = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Synonyms:
    source: str
    confirmed: bool
    filler: frozenset[str] = frozenset()
    joiners: tuple[str, ...] = ()
    any_step: Table = field(default_factory=dict)
    steps: Mapping[str, Table] = field(default_factory=dict)

    def for_step(self, step: str) -> dict[str, tuple[str, ...]]:
        """Each key's synonyms at this step: its own, then those for any step."""
        own = self.steps.get(step, {})
        keys = {*own, *self.any_step}
        return {key: (*own.get(key, ()), *self.any_step.get(key, ())) for key in keys}


def load_synonyms(directory: Path) -> Synonyms:
    """Read synonyms.toml; ContentError names the key at fault."""
    try:
        data = tomllib.loads((directory / FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(FILE, "(file)", "not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ContentError(FILE, "(syntax)", str(error)) from None
    source, confirmed = data.get("source"), data.get("confirmed")
    if not isinstance(source, str) or not source.strip():
        raise ContentError(FILE, "source", "missing or not text")
    if not isinstance(confirmed, bool):
        raise ContentError(FILE, "confirmed", "missing or not true/false")
    matching = _table(data, "matching", "matching")
    steps = _table(data, "steps", "steps")
    return Synonyms(
        source=source,
        confirmed=confirmed,
        filler=frozenset(_phrases(matching, "filler", "matching")),
        joiners=_phrases(matching, "joiners", "matching"),
        # Done and Continue may share words: no step offers both, and the bundle checks.
        any_step=_keyed(_table(data, ANY_STEP, ANY_STEP), ANY_STEP, unique=False),
        steps=MappingProxyType(
            {name: _keyed(_table(steps, name, f"steps.{name}"), f"steps.{name}") for name in steps}
        ),
    )


def check_synonyms(synonyms: Synonyms, offered: Mapping[str, frozenset[str]]) -> None:
    """Every step and key named exists, and no phrase names two options of one step."""
    everywhere = set().union(*offered.values())
    for key in synonyms.any_step:
        if key not in everywhere:
            raise ContentError(FILE, f"{ANY_STEP}.{key}", "no step offers this key")
    for step, table in synonyms.steps.items():
        if step not in offered:
            raise ContentError(FILE, f"steps.{step}", "no such step with options")
        for key in table:
            if key not in offered[step]:
                raise ContentError(FILE, f"steps.{step}.{key}", f"not an option of {step}")
    for step, keys in offered.items():
        seen: dict[tuple[str, ...], str] = {}
        for key, phrases in synonyms.for_step(step).items():
            if key not in keys:
                continue
            for phrase in phrases:
                folded = words(phrase)
                if seen.setdefault(folded, key) != key:
                    where = f"steps.{step}.{key}" if step in synonyms.steps else ANY_STEP
                    raise ContentError(
                        FILE, where, f"{phrase!r} also names {seen[folded]!r} at {step}"
                    )


def _table(data: Mapping[str, object], key: str, path: str) -> Mapping[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ContentError(FILE, path, "must be a table")
    return value


def _phrases(table: Mapping[str, object], key: str, path: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise ContentError(FILE, f"{path}.{key}", "must be a list of words or phrases")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not words(item):
            raise ContentError(FILE, f"{path}.{key}[{index}]", "must be a word or phrase")
    return tuple(value)


def _keyed(table: Mapping[str, object], path: str, unique: bool = True) -> Table:
    """key = [phrases]; one phrase under two keys of one step's table is refused."""
    keyed = {key: _phrases(table, key, path) for key in table}
    if not unique:
        return MappingProxyType(keyed)
    seen: dict[tuple[str, ...], str] = {}
    for key, phrases in keyed.items():
        for phrase in phrases:
            other = seen.setdefault(words(phrase), key)
            if other != key:
                raise ContentError(FILE, f"{path}.{key}", f"{phrase!r} also names {other!r}")
    return MappingProxyType(keyed)
