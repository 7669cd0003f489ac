"""Reading the content files: TOML tables that name their file and key in every error.

A bad edit by a Quality team must fail loudly at start-up, naming the file and the key,
before any learner sees it: `ContentError` carries both, and `Table` reads typed values
from a table so that each module building content from a file can say exactly where.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

DEFAULT_CONTENT_DIR = Path(__file__).parent / "content"
MAX_LABEL_LENGTH = 60
# A button's text: what fits on a phone's screen without being cut.
MAX_BUTTON_LENGTH = 30

_T = TypeVar("_T")


@dataclass(frozen=True)
class Fact:
    """A line of content that states a fact about a contact or a route.

    `source` is a key of its file's [sources] table, which names the document; `confirmed`
    says whether the line was checked against it. The advice marks every unconfirmed line,
    so a learner never reads a starting list as settled fact.
    """

    text: str
    source: str
    confirmed: bool
    # Someone or something based at the learner's placement: left out of the advice when
    # the placement is not safe for this learner to go to (Advice.local_unsuitable).
    placement: bool = False

    def filled(self, **values: str) -> Fact:
        return replace(self, text=self.text.format(**values))


class ContentError(Exception):
    """A content file is missing, malformed or inconsistent."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = file
        self.key = key
        self.message = message


def one(items: Iterable[_T], matches: Callable[[_T], bool], wanted: object) -> _T:
    for item in items:
        if matches(item):
            return item
    raise KeyError(wanted)


def read_bytes(directory: Path, file: str) -> bytes:
    try:
        return (directory / file).read_bytes()
    except FileNotFoundError:
        raise ContentError(file, "(file)", "not found") from None
    except OSError as error:
        raise ContentError(file, "(file)", f"cannot be read: {error.strerror}") from None


@dataclass(frozen=True)
class Table:
    """One TOML table plus where it sits, so every error can name its file and key path."""

    file: str
    path: str
    data: Mapping[str, object]

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ContentError:
        return ContentError(self.file, self.at(key), message)

    def value(self, key: str) -> object:
        if key not in self.data:
            raise self.error(key, "missing")
        return self.data[key]

    def text(self, key: str) -> str:
        return expect(self.value(key), str, "a string", self.file, self.at(key))

    def label(self, key: str) -> str:
        text = self.text(key)
        if not text.strip():
            raise self.error(key, "empty")
        if len(text) > MAX_LABEL_LENGTH:
            raise self.error(key, f"longer than {MAX_LABEL_LENGTH} characters ({len(text)})")
        return text

    def button(self, key: str, default: str) -> str:
        """An optional short name for a button: the default when absent, never too long."""
        if key not in self.data:
            text = default
        else:
            text = self.text(key)
            if not text.strip():
                raise self.error(key, "empty")
        if len(text) > MAX_BUTTON_LENGTH:
            raise self.error(
                key, f"a button is at most {MAX_BUTTON_LENGTH} characters ({len(text)})"
            )
        return text

    def optional_flag(self, key: str) -> bool:
        return self.flag(key) if key in self.data else False

    def number(self, key: str) -> int:
        value = self.value(key)
        # bool is a subclass of int; `true` is never a valid score or number.
        if isinstance(value, bool):
            raise self.error(key, "expected an integer, got a boolean")
        return expect(value, int, "an integer", self.file, self.at(key))

    def flag(self, key: str) -> bool:
        return expect(self.value(key), bool, "a boolean", self.file, self.at(key))

    def texts(self, key: str) -> tuple[str, ...]:
        items = expect(self.value(key), list, "a list", self.file, self.at(key))
        return tuple(
            expect(item, str, "a string", self.file, f"{self.at(key)}[{index}]")
            for index, item in enumerate(items)
        )

    def template(self, key: str, allowed: frozenset[str] = frozenset()) -> str:
        """A text with {placeholders}: only those the code fills in, each a plain name."""
        text = self.nonempty(key)
        try:
            fields = [f for f in string.Formatter().parse(text) if f[1] is not None]
        except ValueError as error:  # an unbalanced brace
            raise self.error(key, f"malformed placeholder: {error}") from None
        for _, name, spec, conversion in fields:
            if not name or not name.isidentifier() or spec or conversion:
                raise self.error(key, "a placeholder is a plain {name}")
            if name not in allowed:
                raise self.error(key, f"unknown placeholder {{{name}}}")
        return text

    def nonempty(self, key: str) -> str:
        """A text that must say something, of any length."""
        text = self.text(key)
        if not text.strip():
            raise self.error(key, "empty")
        return text

    def fact(self, sources: Mapping[str, str], allowed: frozenset[str] = frozenset()) -> Fact:
        """This table read as a fact line: its text, a known source and the confirmed flag."""
        source = self.text("source")
        if source not in sources:
            raise self.error("source", f"unknown source {source!r}: add it to [sources]")
        text = self.template("text", allowed)
        return Fact(text, source, self.flag("confirmed"), self.optional_flag("placement"))

    def facts(self, key: str, sources: Mapping[str, str]) -> tuple[Fact, ...]:
        """A list of fact lines, each an inline table {text, source, confirmed}."""
        return tuple(row.fact(sources) for row in self.tables(key))

    def sources(self) -> Mapping[str, str]:
        """The file's [sources]: key = the document a fact line comes from."""
        table = self.table("sources")
        return MappingProxyType({key: table.nonempty(key) for key in table.data})

    def table(self, key: str) -> Table:
        data = expect(self.value(key), dict, "a table", self.file, self.at(key))
        return Table(self.file, self.at(key), data)

    def tables(self, key: str) -> list[Table]:
        items = expect(self.value(key), list, "an array of tables", self.file, self.at(key))
        rows = []
        for index, item in enumerate(items):
            path = f"{self.at(key)}[{index}]"
            rows.append(Table(self.file, path, expect(item, dict, "a table", self.file, path)))
        return rows


def parse_toml(file: str, raw: bytes) -> Table:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ContentError(file, "(file)", "is not UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ContentError(file, "(syntax)", str(error)) from None
    return Table(file, "", data)


def expect(value: object, kind: type[_T], described: str, file: str, path: str) -> _T:
    if not isinstance(value, kind):
        raise ContentError(file, path, f"expected {described}, got {type(value).__name__}")
    return value


def check_unique(rows: Sequence[Table], key: str, values: Sequence[Hashable]) -> None:
    seen: set[Hashable] = set()
    for row, value in zip(rows, values, strict=True):
        if value in seen:
            raise row.error(key, f"duplicate {value!r}")
        seen.add(value)
