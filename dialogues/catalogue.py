"""The content catalogue: quality standards, risk matrix, pathways and organisations.

The words and facts the bot relies on live in TOML files under ``dialogues/content`` so that
a Quality team can correct a standard, a contact or an organisation without touching Python.
``load_catalogue`` reads them once at start-up and refuses anything missing, malformed or
inconsistent, naming the file and the key, so a bad edit fails loudly before any learner
sees it. Everything it returns is frozen.
"""

import hashlib
import re
import tomllib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

DEFAULT_CONTENT_DIR = Path(__file__).parent / "content"

FRAMEWORK_FILE = "framework.toml"
RISK_FILE = "risk.toml"
PATHWAYS_FILE = "pathways.toml"
ORGANISATIONS_FILE = "organisations.toml"

MAX_LABEL_LENGTH = 60
UNCONFIRMED_MARKER = " (summary, unconfirmed)"
OTHER_ORGANISATION = "other"
ORGANISATION_KINDS = frozenset({"acute", "mental_health_community", "ambulance", "other"})
# The advice rules refer to bands by these keys, so the file must define every one of them.
BAND_KEYS = ("low", "moderate", "high", "extreme")
MATRIX_SCORES = (1, 2, 3, 4, 5)
PATHWAY_LEVELS = (1, 2, 3)

_T = TypeVar("_T")


class ContentError(Exception):
    """A content file is missing, malformed or inconsistent."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = file
        self.key = key
        self.message = message


# --- the framework ------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    number: int
    name: str
    confirmed: bool
    source: str


@dataclass(frozen=True)
class Standard:
    id: str
    domain: int
    summary: str
    confirmed: bool
    source: str

    @property
    def label(self) -> str:
        """The id and summary, marked when the wording has not been checked."""
        marker = "" if self.confirmed else UNCONFIRMED_MARKER
        return f"{self.id} {self.summary}{marker}"


@dataclass(frozen=True)
class Topic:
    key: str
    label: str
    standards: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Framework:
    name: str
    version: str
    source: str
    confirmed: bool
    domains: tuple[Domain, ...]
    standards: tuple[Standard, ...]
    topics: tuple[Topic, ...]

    def standard(self, id: str) -> Standard:
        return _one(self.standards, lambda s: s.id == id, id)

    def domain(self, number: int) -> Domain:
        return _one(self.domains, lambda d: d.number == number, number)

    def topic(self, key: str) -> Topic:
        return _one(self.topics, lambda t: t.key == key, key)

    def standards_in(self, domain: int) -> tuple[Standard, ...]:
        return tuple(s for s in self.standards if s.domain == domain)

    def topics_in(self, text: str) -> tuple[str, ...]:
        """Keys of the topics whose keywords start a word or phrase of the text."""
        # Phone keyboards type a curly apostrophe; the keywords use the straight one.
        folded = text.casefold().replace("\u2019", "'")
        return tuple(
            topic.key
            for topic in self.topics
            if any(_starts_a_word(keyword, folded) for keyword in topic.keywords)
        )

    def suggest(self, topic_keys: Iterable[str], text: str) -> tuple[str, ...]:
        """Standard ids for the chosen topics and those the text hints at, in framework order."""
        known = {topic.key: topic for topic in self.topics}
        # A saved conversation may name a topic the content no longer has: skip it.
        keys = [key for key in (*topic_keys, *self.topics_in(text)) if key in known]
        ids = {id for key in keys for id in known[key].standards}
        return tuple(sorted(ids, key=lambda id: _standard_order(self.standard(id))))


def _starts_a_word(keyword: str, folded_text: str) -> bool:
    """Whether the keyword starts a word of the text: "rota" is in "the rota", not "protocol"."""
    # str.find rather than a look-behind pattern, which loses re's fast literal search: with
    # 143 keywords, a 3,500-character description took 30 ms a suggestion, several a turn.
    needle = keyword.casefold()
    at = folded_text.find(needle)
    while at > 0:
        before = folded_text[at - 1]
        if not (before.isalnum() or before == "_"):  # what \w matches
            return True
        at = folded_text.find(needle, at + 1)
    return at == 0


def _standard_order(standard: Standard) -> tuple[int, int]:
    return standard.domain, int(standard.id.split(".")[1])


# --- the risk matrix ----------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    score: int
    label: str
    description: str


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    colour: str
    symbol: str
    low: int
    high: int
    explanation: str


@dataclass(frozen=True)
class RiskMatrix:
    name: str
    source: str
    confirmed: bool
    guidance_note: str
    likelihood: tuple[Level, ...]
    impact: tuple[Level, ...]
    bands: tuple[Band, ...]

    def score(self, likelihood: int, impact: int) -> int:
        if likelihood not in MATRIX_SCORES or impact not in MATRIX_SCORES:
            raise ValueError(f"likelihood and impact must be 1..5, got {likelihood}, {impact}")
        return likelihood * impact

    def band_for(self, score: int) -> Band:
        for band in self.bands:
            if band.low <= score <= band.high:
                return band
        raise ValueError(f"no band covers score {score}")


# --- the pathways -------------------------------------------------------------------------


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
    regulator: str
    # A read-only view; left out of the hash because mappings are not hashable.
    contacts: Mapping[int, tuple[str, ...]] = field(hash=False)


@dataclass(frozen=True)
class Pathways:
    source: str
    confirmed: bool
    levels: tuple[PathwayLevel, ...]
    groups: tuple[LearnerGroup, ...]
    speak_up_name: str
    speak_up_text: str
    quality_team_name: str
    quality_team_email: str
    quality_team_confirmed: bool
    quality_team_note: str
    incident_reporting: str
    related: Mapping[str, str] = field(hash=False)

    def level(self, number: int) -> PathwayLevel:
        return _one(self.levels, lambda lv: lv.number == number, number)

    def group(self, key: str) -> LearnerGroup:
        return _one(self.groups, lambda g: g.key == key, key)

    def role(self, key: str) -> Role:
        roles = (role for level in self.levels for role in level.roles)
        return _one(roles, lambda r: r.key == key, key)


# --- the catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    key: str
    name: str
    kind: str


@dataclass(frozen=True)
class Catalogue:
    framework: Framework
    risk: RiskMatrix
    pathways: Pathways
    organisations: tuple[Organisation, ...]
    version: str

    def organisation(self, key: str) -> Organisation:
        return _one(self.organisations, lambda o: o.key == key, key)


def _one(items: Iterable[_T], matches: Callable[[_T], bool], wanted: object) -> _T:
    for item in items:
        if matches(item):
            return item
    raise KeyError(wanted)


def load_catalogue(directory: Path = DEFAULT_CONTENT_DIR) -> Catalogue:
    """Read and validate the four content files; raise ContentError on the first problem."""
    names = sorted((FRAMEWORK_FILE, RISK_FILE, PATHWAYS_FILE, ORGANISATIONS_FILE))
    raw = {name: _read_bytes(directory, name) for name in names}
    # The version lets a stored concern say exactly which wording it was raised against.
    version = hashlib.sha256(b"".join(raw[name] for name in names)).hexdigest()[:12]
    return Catalogue(
        framework=_framework(_parse(FRAMEWORK_FILE, raw[FRAMEWORK_FILE])),
        risk=_risk(_parse(RISK_FILE, raw[RISK_FILE])),
        pathways=_pathways(_parse(PATHWAYS_FILE, raw[PATHWAYS_FILE])),
        organisations=_organisations(_parse(ORGANISATIONS_FILE, raw[ORGANISATIONS_FILE])),
        version=version,
    )


# --- reading and typed access -------------------------------------------------------------


def _read_bytes(directory: Path, file: str) -> bytes:
    try:
        return (directory / file).read_bytes()
    except FileNotFoundError:
        raise ContentError(file, "(file)", "not found") from None
    except OSError as error:
        raise ContentError(file, "(file)", f"cannot be read: {error.strerror}") from None


@dataclass(frozen=True)
class _Table:
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
        return _expect(self.value(key), str, "a string", self.file, self.at(key))

    def label(self, key: str) -> str:
        text = self.text(key)
        if not text.strip():
            raise self.error(key, "empty")
        if len(text) > MAX_LABEL_LENGTH:
            raise self.error(key, f"longer than {MAX_LABEL_LENGTH} characters ({len(text)})")
        return text

    def number(self, key: str) -> int:
        value = self.value(key)
        # bool is a subclass of int; `true` is never a valid score or number.
        if isinstance(value, bool):
            raise self.error(key, "expected an integer, got a boolean")
        return _expect(value, int, "an integer", self.file, self.at(key))

    def flag(self, key: str) -> bool:
        return _expect(self.value(key), bool, "a boolean", self.file, self.at(key))

    def texts(self, key: str) -> tuple[str, ...]:
        items = _expect(self.value(key), list, "a list", self.file, self.at(key))
        return tuple(
            _expect(item, str, "a string", self.file, f"{self.at(key)}[{index}]")
            for index, item in enumerate(items)
        )

    def table(self, key: str) -> "_Table":
        data = _expect(self.value(key), dict, "a table", self.file, self.at(key))
        return _Table(self.file, self.at(key), data)

    def tables(self, key: str) -> list["_Table"]:
        items = _expect(self.value(key), list, "an array of tables", self.file, self.at(key))
        rows = []
        for index, item in enumerate(items):
            path = f"{self.at(key)}[{index}]"
            rows.append(_Table(self.file, path, _expect(item, dict, "a table", self.file, path)))
        return rows


def _parse(file: str, raw: bytes) -> _Table:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ContentError(file, "(file)", "is not UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ContentError(file, "(syntax)", str(error)) from None
    return _Table(file, "", data)


def _expect(value: object, kind: type[_T], described: str, file: str, path: str) -> _T:
    if not isinstance(value, kind):
        raise ContentError(file, path, f"expected {described}, got {type(value).__name__}")
    return value


def _check_unique(rows: Sequence[_Table], key: str, values: Sequence[Hashable]) -> None:
    seen: set[Hashable] = set()
    for row, value in zip(rows, values, strict=True):
        if value in seen:
            raise row.error(key, f"duplicate {value!r}")
        seen.add(value)


# --- building each file -------------------------------------------------------------------


def _framework(root: _Table) -> Framework:
    domain_rows = root.tables("domains")
    domains = tuple(
        Domain(row.number("number"), row.text("name"), row.flag("confirmed"), row.text("source"))
        for row in domain_rows
    )
    _check_unique(domain_rows, "number", [d.number for d in domains])

    standard_rows = root.tables("standards")
    standards = tuple(_standard(row, {d.number for d in domains}) for row in standard_rows)
    _check_unique(standard_rows, "id", [s.id for s in standards])

    topic_rows = root.tables("topics")
    topics = tuple(_topic(row, {s.id for s in standards}) for row in topic_rows)
    _check_unique(topic_rows, "key", [t.key for t in topics])

    return Framework(
        name=root.text("name"),
        version=root.text("version"),
        source=root.text("source"),
        confirmed=root.flag("confirmed"),
        domains=domains,
        standards=standards,
        topics=topics,
    )


def _standard(row: _Table, domain_numbers: set[int]) -> Standard:
    standard = Standard(
        id=row.text("id"),
        domain=row.number("domain"),
        summary=row.text("summary"),
        confirmed=row.flag("confirmed"),
        source=row.text("source"),
    )
    match = re.fullmatch(r"(\d+)\.(\d+)", standard.id)
    if match is None:
        raise row.error("id", f"expected '<domain>.<number>', got {standard.id!r}")
    if standard.domain not in domain_numbers:
        raise row.error("domain", f"unknown domain {standard.domain}")
    if int(match.group(1)) != standard.domain:
        raise row.error("id", f"{standard.id!r} is not in domain {standard.domain}")
    return standard


def _topic(row: _Table, standard_ids: set[str]) -> Topic:
    standards = row.texts("standards")
    if not standards:
        raise row.error("standards", "a topic must map to at least one standard")
    for index, id in enumerate(standards):
        if id not in standard_ids:
            raise row.error(f"standards[{index}]", f"unknown standard {id!r}")
    keywords = row.texts("keywords")
    for index, keyword in enumerate(keywords):
        if not keyword.strip():
            raise row.error(f"keywords[{index}]", "empty")
    return Topic(row.text("key"), row.label("label"), standards, keywords)


def _risk(root: _Table) -> RiskMatrix:
    bands = _bands(root)
    return RiskMatrix(
        name=root.text("name"),
        source=root.text("source"),
        confirmed=root.flag("confirmed"),
        guidance_note=root.text("guidance_note"),
        likelihood=_levels(root, "likelihood"),
        impact=_levels(root, "impact"),
        bands=bands,
    )


def _levels(root: _Table, key: str) -> tuple[Level, ...]:
    levels = tuple(
        Level(row.number("score"), row.label("label"), row.text("description"))
        for row in root.tables(key)
    )
    scores = [level.score for level in levels]
    if sorted(scores) != list(MATRIX_SCORES):
        raise root.error(key, f"scores must be exactly 1..5, got {scores}")
    return tuple(sorted(levels, key=lambda level: level.score))


def _bands(root: _Table) -> tuple[Band, ...]:
    rows = root.tables("bands")
    bands = tuple(
        Band(
            key=row.text("key"),
            label=row.label("label"),
            colour=row.text("colour"),
            symbol=row.text("symbol"),
            low=row.number("low"),
            high=row.number("high"),
            explanation=row.text("explanation"),
        )
        for row in rows
    )
    _check_unique(rows, "key", [band.key for band in bands])
    for row, band in zip(rows, bands, strict=True):
        if band.low > band.high:
            raise row.error("low", f"{band.low} is above high {band.high}")
    for index, (row, band) in enumerate(zip(rows, bands, strict=True)):
        for other in bands[:index]:
            if band.low <= other.high and other.low <= band.high:
                raise ContentError(row.file, row.path, f"overlaps band {other.key!r}")
    for key in BAND_KEYS:
        if key not in {band.key for band in bands}:
            raise root.error("bands", f"no band with key {key!r}")
    for product in sorted({lik * imp for lik in MATRIX_SCORES for imp in MATRIX_SCORES}):
        if not any(band.low <= product <= band.high for band in bands):
            raise root.error("bands", f"score {product} is in no band")
    return bands


def _pathways(root: _Table) -> Pathways:
    level_rows = root.tables("levels")
    levels = tuple(_pathway_level(row) for row in level_rows)
    numbers = [level.number for level in levels]
    if sorted(numbers) != list(PATHWAY_LEVELS):
        raise root.error("levels", f"levels must be exactly 1..3, got {numbers}")
    role_rows = [role_row for row in level_rows for role_row in row.tables("roles")]
    _check_unique(role_rows, "key", [role.key for level in levels for role in level.roles])

    group_rows = root.tables("groups")
    groups = tuple(_group(row) for row in group_rows)
    _check_unique(group_rows, "key", [group.key for group in groups])

    related_rows = root.tables("related")
    _check_unique(related_rows, "key", [row.text("key") for row in related_rows])
    related = {row.text("key"): row.text("text") for row in related_rows}

    speak_up = root.table("speak_up")
    quality_team = root.table("quality_team")
    return Pathways(
        source=root.text("source"),
        confirmed=root.flag("confirmed"),
        levels=tuple(sorted(levels, key=lambda level: level.number)),
        groups=groups,
        speak_up_name=speak_up.text("name"),
        speak_up_text=speak_up.text("text"),
        quality_team_name=quality_team.text("name"),
        quality_team_email=quality_team.text("email"),
        quality_team_confirmed=quality_team.flag("confirmed"),
        quality_team_note=quality_team.text("note"),
        incident_reporting=root.table("incident_reporting").text("text"),
        related=MappingProxyType(related),
    )


def _pathway_level(row: _Table) -> PathwayLevel:
    number = row.number("number")
    roles = tuple(
        Role(role.text("key"), role.label("label"), number) for role in row.tables("roles")
    )
    return PathwayLevel(number, row.text("name"), row.text("summary"), roles)


def _group(row: _Table) -> LearnerGroup:
    contacts_table = row.table("contacts")
    contacts: dict[int, tuple[str, ...]] = {}
    for number in PATHWAY_LEVELS:
        lines = contacts_table.texts(str(number))
        if not lines:
            raise contacts_table.error(str(number), "no contacts for this level")
        contacts[number] = lines
    for key in contacts_table.data:
        if key not in {str(number) for number in PATHWAY_LEVELS}:
            raise contacts_table.error(key, "not a pathway level (expected 1, 2 or 3)")
    return LearnerGroup(
        key=row.text("key"),
        label=row.label("label"),
        regulator=row.text("regulator"),
        contacts=MappingProxyType(contacts),
    )


def _organisations(root: _Table) -> tuple[Organisation, ...]:
    # The catalogue keeps no use for these, but a Quality team's edit must not drop the flag.
    root.text("source")
    root.flag("confirmed")
    rows = root.tables("organisations")
    organisations = tuple(
        Organisation(row.text("key"), row.text("name"), row.text("kind")) for row in rows
    )
    _check_unique(rows, "key", [organisation.key for organisation in organisations])
    for row, organisation in zip(rows, organisations, strict=True):
        if organisation.kind not in ORGANISATION_KINDS:
            raise row.error("kind", f"unknown kind {organisation.kind!r}")
    if not organisations or organisations[-1].key != OTHER_ORGANISATION:
        raise root.error("organisations", f"the last organisation must be {OTHER_ORGANISATION!r}")
    return organisations
