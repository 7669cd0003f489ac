"""What people type, matched against a step's options: one matcher for every step.

Pure, no I/O. Each option comes as a `Choice`: its number in the list shown, its label, the
words of its name (a label without its description) and its synonyms from `synonyms.toml`.
Typed text is folded (case, accents, apostrophes, digits of any script) into words, then
tried in tiers; the first tier where something fits decides:

1. a number: the option with that number in the list shown;
2. an option's own label or name, whole; or a synonym, whole, unless another option's own
   name has all those words (then both are offered: "Peterborough");
3. every typed word is a word of an option's name; failing that, of all its words together
   (name and synonyms: "physiotherapy student");
4. the same with starts of words ("anon", "midwif");
5. small typos: rapidfuzz's `fuzz.ratio` of each typed word to the option's words, at least
   FUZZY_THRESHOLD, and the option leading the next by FUZZY_MARGIN, or both are offered.

Filler words ("the", "please", from content) are left out from tier 3 on. One option fitting
selects it; a few fitting are `Ambiguous` (the engine asks which); more, or every option, is
`TooMany`. A hidden key never selects anything: keys are for button presses only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

# fuzz.ratio (0-100) a typed word needs to count as a typo of an option's word, and how far
# the best option must lead the next so that a typo selects it rather than asking which.
FUZZY_THRESHOLD = 80.0
FUZZY_MARGIN = 8.0
MIN_PREFIX = 3  # "sup" may start "supervision"; "su" is too short to mean anything
MIN_FUZZY = 4  # shorter words, typed or offered, are too close to others to guess typos
SHORTLIST = 6  # more options than this fitting is no help: ask for more words
LEADING_WORDS = 4  # the longest name looked for at the start of a longer answer
APOSTROPHES = "'\u2019\u2018\u02bc`"
POSSESSIVE = re.compile(f"[{APOSTROPHES}]s\\b", re.IGNORECASE)
_NO_APOSTROPHES = str.maketrans("", "", APOSTROPHES)
WORD = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
# Separators between several choices typed at once; joining words come from content.
SEPARATORS = ",;/+&\n"
COMMANDS = ("back", "pause", "cancel", "help", "resume")

Mode = Literal["choice", "strict", "exact"]
Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """One option as the matcher reads it."""

    key: str
    number: int
    label: str
    names: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    action: bool = False


@dataclass(frozen=True)
class Picked:
    key: str


@dataclass(frozen=True)
class Ambiguous:
    keys: tuple[str, ...]


@dataclass(frozen=True)
class TooMany:
    pass


@dataclass(frozen=True)
class Unmatched:
    pass


Match = Picked | Ambiguous | TooMany | Unmatched


@dataclass(frozen=True)
class Several:
    """Several choices typed at once: the keys picked, an action typed last, one unclear part."""

    keys: tuple[str, ...] = ()
    action: str | None = None
    unclear: tuple[str, ...] = ()
    unclear_text: str = ""


@dataclass(frozen=True)
class Refused:
    """The part of several choices that fits nothing (or too many)."""

    text: str
    too_many: bool = False


def fold(text: str) -> str:
    """Text for comparing: accents, apostrophes and case folded away, digits made ASCII."""
    # "King's" is "King", "university's" is "university": what people type either way.
    text = POSSESSIVE.sub("", text)
    if text.isascii():  # no accents, ASCII digits: the same result, several times faster
        return text.translate(_NO_APOSTROPHES).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(
        _ascii_digit(ch)
        for ch in decomposed
        if not unicodedata.combining(ch) and ch not in APOSTROPHES
    )
    return unicodedata.normalize("NFC", kept).casefold()


# The most digits an option's number can have.
NUMBER_DIGITS = 4


def _ascii_digit(ch: str) -> str:
    # Decimal digits of any script read as numbers; others that isdigit() accepts ("²")
    # have no decimal value and stay what they are.
    value = unicodedata.decimal(ch, None)
    return str(value) if value is not None else ch


def words(text: str) -> Phrase:
    return tuple(WORD.findall(fold(text)))


def is_number(word: str) -> bool:
    return word.isascii() and word.isdigit()


def command_word(text: str) -> str | None:
    """The command a message is, when it is only a command word ("Back.", "/pause")."""
    said = words(text)
    return said[0] if len(said) == 1 and said[0] in COMMANDS else None


class Matcher:
    """The options of one step, ready to read what was typed."""

    def __init__(
        self,
        choices: Sequence[Choice],
        filler: Iterable[str] = (),
        joiners: Iterable[str] = (),
    ) -> None:
        self.choices = tuple(choices)
        self._by_key = {c.key: c for c in self.choices}
        self.filler = frozenset(fold(w) for w in filler)
        self.joiners = tuple(fold(w) for w in joiners)
        self._own = {c.key: {p for p in map(words, (c.label, *c.names)) if p} for c in choices}
        self._named = {c.key: {p for p in map(words, c.synonyms) if p} for c in choices}
        # Tiers 3 to 5 read the names, not a label's description; then all of an option's
        # words together, so "physiotherapy student" finds a synonym and a label word.
        self._names = {c.key: {p for p in map(words, c.names or (c.label,)) if p} for c in choices}
        self._all = {
            c.key: {tuple(w for p in (*self._names[c.key], *self._named[c.key]) for w in p)}
            for c in choices
        }

    # -- one choice ------------------------------------------------------------------

    def one(self, raw: str, mode: Mode = "choice") -> Match:
        """The option the text selects; `strict` takes whole words only, `exact` whole phrases."""
        said = words(raw)
        if not said:
            return Unmatched()
        content = tuple(w for w in said if w not in self.filler)
        if len(content) == 1 and is_number(content[0]):
            # A longer run of digits is no option's number (and int() refuses past 4,300).
            number = int(content[0]) if len(content[0]) <= NUMBER_DIGITS else 0
            if 1 <= number <= len(self.choices):
                return Picked(self.choices[number - 1].key)
            return Unmatched()
        own = [c for c in self.choices if said in self._own[c.key]]
        if own:
            return self._result(own)
        named = [c for c in self.choices if said in self._named[c.key]]
        if named:
            # A synonym never hides an option whose own label says the same words.
            labelled = [c for c in self.choices if self._own_words(content or said, c)]
            return self._result([*named, *labelled])
        if mode == "exact" or not content:
            return Unmatched()
        tiers = [(_whole, self._names), (_whole, self._all)]
        if mode == "choice":
            tiers += [(_starts, self._names), (_starts, self._all)]
        for fits, phrases in tiers:
            # An option's own words first: "likely" is "Likely", not the synonym "not likely".
            found = [c for c in self.choices if any(fits(content, p) for p in phrases[c.key])]
            if found:
                return self._result(found)
        if mode != "choice":
            return Unmatched()
        typo = self._typo(content, self._names)
        return typo if not isinstance(typo, Unmatched) else self._typo(content, self._all)

    def leading(self, raw: str) -> Match:
        """The option named first in a longer answer ("Addenbrookes, ward C9", "lister ward 5"):
        each part between commas, then its first words, longest first, whole words only."""
        for part in re.split(r"[,;:()\n]| - ", raw):
            said = part.split()
            for length in range(min(len(said), LEADING_WORDS), 0, -1):
                candidate = " ".join(said[:length])
                if all(is_number(w) for w in words(candidate)):
                    continue  # "ward 5": a number here is not an option's number
                found = self.one(candidate, mode="strict")
                if isinstance(found, Picked | Ambiguous):
                    return found
        return Unmatched()

    def _own_words(self, said: Phrase, choice: Choice) -> bool:
        return any(_whole(said, phrase) for phrase in self._names[choice.key])

    def _typo(self, said: Phrase, phrases: Mapping[str, set[Phrase]]) -> Match:
        """Options a typo could mean: close enough, and within the margin of the closest."""
        scores = [
            (max((_phrase_score(said, p) for p in phrases[c.key]), default=0.0), c)
            for c in self.choices
        ]
        near = [(score, c) for score, c in scores if score >= FUZZY_THRESHOLD]
        if not near:
            return Unmatched()
        best = max(score for score, _ in near)
        return self._result([c for score, c in near if best - score < FUZZY_MARGIN])

    def _result(self, found: Sequence[Choice]) -> Match:
        keys = tuple(dict.fromkeys(c.key for c in sorted(found, key=lambda c: c.number)))
        if not keys:
            return Unmatched()
        if len(keys) == 1:
            return Picked(keys[0])
        answers = sum(not c.action for c in self.choices)
        # A short list as long as the question's own is no help.
        return Ambiguous(keys) if len(keys) <= min(SHORTLIST, answers - 1) else TooMany()

    # -- several choices -------------------------------------------------------------

    def several(self, raw: str) -> Several | Refused:
        """Choices typed at once: "1, 3", "1 3", "supervision and bullying", "1, 3 done"."""
        whole = self.one(raw)
        if isinstance(whole, Picked):
            return self._several_of([whole.key])
        if isinstance(whole, Ambiguous):
            return Several(unclear=whole.keys, unclear_text=raw.strip())
        parts = self._action_apart(self.parts(raw))
        if len(parts) < 2:
            return Refused(raw.strip(), too_many=isinstance(whole, TooMany))
        picked: list[str] = []
        unclear: Ambiguous | None = None
        unclear_text = ""
        for part in parts:
            found = self.one(part)
            if isinstance(found, Picked):
                picked.append(found.key)
            elif isinstance(found, Ambiguous) and unclear is None:
                unclear, unclear_text = found, part
            else:
                return Refused(part, too_many=isinstance(found, TooMany | Ambiguous))
        result = self._several_of(picked)
        if isinstance(result, Refused) or unclear is None:
            return result
        return Several(result.keys, None, unclear.keys, unclear_text)

    def _several_of(self, keys: Sequence[str]) -> Several | Refused:
        by_key = self._by_key
        actions = [k for k in keys if by_key[k].action]
        ticks = tuple(dict.fromkeys(k for k in keys if not by_key[k].action))
        if not actions:
            return Several(ticks)
        if len(actions) > 1 or keys[-1] != actions[0]:
            # An action ends a list ("1, 3 done"); anywhere else it is not clear what was meant.
            return Refused(by_key[actions[0]].label)
        return Several(ticks, actions[0])

    def _action_apart(self, parts: list[str]) -> list[str]:
        """ "rota done" is "rota" then Done: an action's words may end the last part."""
        if not parts:
            return parts
        chunks = parts[-1].split()
        for cut in range(1, len(chunks)):
            head, tail = " ".join(chunks[:cut]), " ".join(chunks[cut:])
            found = self.one(tail, mode="exact")
            if isinstance(found, Picked) and self._by_key[found.key].action:
                return [*parts[:-1], head, tail]
        return parts

    def parts(self, raw: str) -> list[str]:
        """The pieces of a list typed at once; each run of bare numbers splits into numbers."""
        pieces = re.split(f"[{re.escape(SEPARATORS)}]", raw)
        if self.joiners:
            joined = "|".join(re.escape(j) for j in self.joiners)
            pieces = [p for piece in pieces for p in re.split(rf"(?i)\b(?:{joined})\b", piece)]
        parts: list[str] = []
        for piece in pieces:
            run: list[str] = []
            for chunk in piece.split():
                if len(words(chunk)) == 1 and is_number(words(chunk)[0]):
                    parts += [" ".join(run), chunk] if run else [chunk]
                    run = []
                else:
                    run.append(chunk)
            parts.append(" ".join(run))
        return [p for p in parts if words(p)]


def _whole(said: Phrase, phrase: Phrase) -> bool:
    return all(w in phrase for w in said)


def _starts(said: Phrase, phrase: Phrase) -> bool:
    return all(
        w in phrase or (len(w) >= MIN_PREFIX and any(p.startswith(w) for p in phrase)) for w in said
    )


def _phrase_score(said: Phrase, phrase: Phrase) -> float:
    """How well every typed word fits some word of the phrase: the worst fit counts."""
    return min(_word_score(w, phrase) for w in said)


def _word_score(word: str, phrase: Phrase) -> float:
    if _starts((word,), phrase):
        return 100.0
    if len(word) < MIN_FUZZY or is_number(word):
        return 0.0
    # A short word is not a typo of a shorter one: "done" is not "one".
    targets = [w for w in phrase if len(w) >= MIN_FUZZY]
    # Imported at the first typo, not at start-up: rapidfuzz brings all its metrics (3.5 MiB).
    from rapidfuzz import fuzz, process

    best = process.extractOne(word, targets, scorer=fuzz.ratio, processor=None)
    return float(best[1]) if best is not None else 0.0
