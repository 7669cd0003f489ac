"""The content catalogue: quality standards, risk matrix, pathways and organisations.

The words and facts the bot relies on live in TOML files under ``dialogues/content`` so that
a Quality team can correct a standard, a contact or an organisation without touching Python.
``load_catalogue`` reads them once at start-up and refuses anything missing, malformed or
inconsistent, naming the file and the key, so a bad edit fails loudly before any learner
sees it. Everything it returns is frozen. The pathways, learner groups and places are read
by `dialogues.pathways`; every file through `dialogues.content_files`.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dialogues.content_files import DEFAULT_CONTENT_DIR as DEFAULT_CONTENT_DIR
from dialogues.content_files import MAX_BUTTON_LENGTH as MAX_BUTTON_LENGTH
from dialogues.content_files import ContentError as ContentError
from dialogues.content_files import Table, check_unique, one, parse_toml, read_bytes
from dialogues.pathways import (
    Organisation,
    Pathways,
    University,
    read_organisations,
    read_pathways,
    read_universities,
)
from dialogues.support import Support, read_support

FRAMEWORK_FILE = "framework.toml"
RISK_FILE = "risk.toml"
PATHWAYS_FILE = "pathways.toml"
ORGANISATIONS_FILE = "organisations.toml"
UNIVERSITIES_FILE = "universities.toml"
SUPPORT_FILE = "support.toml"

UNCONFIRMED_MARKER = " (summary, unconfirmed)"
# The advice rules refer to bands by these keys, so the file must define every one of them.
BAND_KEYS = ("low", "moderate", "high", "extreme")
MATRIX_SCORES = (1, 2, 3, 4, 5)


# --- the framework ------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    number: int
    name: str
    confirmed: bool
    source: str
    short: str = ""


@dataclass(frozen=True)
class Standard:
    id: str
    domain: int
    summary: str
    confirmed: bool
    source: str
    short: str = ""

    @property
    def label(self) -> str:
        """The id and summary, marked when the wording has not been checked."""
        marker = "" if self.confirmed else UNCONFIRMED_MARKER
        return f"{self.id} {self.summary}{marker}"

    @property
    def button(self) -> str:
        """The id and short name, as a button or a line of the review shows it."""
        return f"{self.id} {self.short or self.summary}"


@dataclass(frozen=True)
class Topic:
    key: str
    label: str
    standards: tuple[str, ...]
    keywords: tuple[str, ...]
    short: str = ""
    # Offered on the second page of topics.
    more: bool = False


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
        return one(self.standards, lambda s: s.id == id, id)

    def domain(self, number: int) -> Domain:
        return one(self.domains, lambda d: d.number == number, number)

    def topic(self, key: str) -> Topic:
        return one(self.topics, lambda t: t.key == key, key)

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
    # The same, for a learner who cannot act at their placement: whom to go to instead.
    explanation_not_local: str


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


# --- the catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    framework: Framework
    risk: RiskMatrix
    pathways: Pathways
    organisations: tuple[Organisation, ...]
    version: str
    universities: tuple[University, ...]
    support: Support

    def organisation(self, key: str) -> Organisation:
        return one(self.organisations, lambda o: o.key == key, key)

    def university(self, key: str) -> University:
        return one(self.universities, lambda u: u.key == key, key)


def load_catalogue(directory: Path = DEFAULT_CONTENT_DIR) -> Catalogue:
    """Read and validate the catalogue's files; raise ContentError on the first problem."""
    names = sorted(
        (FRAMEWORK_FILE, RISK_FILE, PATHWAYS_FILE, ORGANISATIONS_FILE, UNIVERSITIES_FILE,
         SUPPORT_FILE)
    )  # fmt: skip
    raw = {name: read_bytes(directory, name) for name in names}
    # The version lets a stored concern say exactly which wording it was raised against.
    version = hashlib.sha256(b"".join(raw[name] for name in names)).hexdigest()[:12]
    pathways = read_pathways(parse_toml(PATHWAYS_FILE, raw[PATHWAYS_FILE]))
    return Catalogue(
        framework=_framework(parse_toml(FRAMEWORK_FILE, raw[FRAMEWORK_FILE])),
        risk=_risk(parse_toml(RISK_FILE, raw[RISK_FILE])),
        pathways=pathways,
        organisations=read_organisations(parse_toml(ORGANISATIONS_FILE, raw[ORGANISATIONS_FILE])),
        version=version,
        universities=read_universities(parse_toml(UNIVERSITIES_FILE, raw[UNIVERSITIES_FILE])),
        support=read_support(parse_toml(SUPPORT_FILE, raw[SUPPORT_FILE]), pathways),
    )


# --- building each file -------------------------------------------------------------------


def _framework(root: Table) -> Framework:
    domain_rows = root.tables("domains")
    domains = tuple(
        Domain(
            row.number("number"),
            row.text("name"),
            row.flag("confirmed"),
            row.text("source"),
            # With its number in front ("3 Supporting learners"): two characters less.
            row.button("short", row.text("name")[: MAX_BUTTON_LENGTH - 2]),
        )
        for row in domain_rows
    )
    check_unique(domain_rows, "number", [d.number for d in domains])

    standard_rows = root.tables("standards")
    standards = tuple(_standard(row, {d.number for d in domains}) for row in standard_rows)
    check_unique(standard_rows, "id", [s.id for s in standards])

    topic_rows = root.tables("topics")
    topics = tuple(_topic(row, {s.id for s in standards}) for row in topic_rows)
    check_unique(topic_rows, "key", [t.key for t in topics])

    return Framework(
        name=root.text("name"),
        version=root.text("version"),
        source=root.text("source"),
        confirmed=root.flag("confirmed"),
        domains=domains,
        standards=standards,
        topics=topics,
    )


def _standard(row: Table, domain_numbers: set[int]) -> Standard:
    standard = Standard(
        id=row.text("id"),
        domain=row.number("domain"),
        summary=row.text("summary"),
        confirmed=row.flag("confirmed"),
        source=row.text("source"),
        short=row.button("short", row.text("summary")[: MAX_BUTTON_LENGTH - 4]),
    )
    if len(standard.button) > MAX_BUTTON_LENGTH:
        raise row.error("short", f"with its id, longer than {MAX_BUTTON_LENGTH} characters")
    match = re.fullmatch(r"(\d+)\.(\d+)", standard.id)
    if match is None:
        raise row.error("id", f"expected '<domain>.<number>', got {standard.id!r}")
    if standard.domain not in domain_numbers:
        raise row.error("domain", f"unknown domain {standard.domain}")
    if int(match.group(1)) != standard.domain:
        raise row.error("id", f"{standard.id!r} is not in domain {standard.domain}")
    return standard


def _topic(row: Table, standard_ids: set[str]) -> Topic:
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
    label = row.label("label")
    return Topic(
        row.text("key"),
        label,
        standards,
        keywords,
        short=row.button("short", label),
        more=row.optional_flag("more"),
    )


def _risk(root: Table) -> RiskMatrix:
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


def _levels(root: Table, key: str) -> tuple[Level, ...]:
    levels = tuple(
        Level(row.number("score"), row.label("label"), row.text("description"))
        for row in root.tables(key)
    )
    scores = [level.score for level in levels]
    if sorted(scores) != list(MATRIX_SCORES):
        raise root.error(key, f"scores must be exactly 1..5, got {scores}")
    return tuple(sorted(levels, key=lambda level: level.score))


def _bands(root: Table) -> tuple[Band, ...]:
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
            explanation_not_local=row.text("explanation_not_local"),
        )
        for row in rows
    )
    check_unique(rows, "key", [band.key for band in bands])
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
