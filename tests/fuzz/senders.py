"""What the fuzz sends: hypothesis strategies for one turn's event, given where the chat is.

A sequence mixes answers that fit the current question (pressed, typed as a label, a key or a
number in any script, or text of a fitting length) with everything else a person or a
modified client can send: any Unicode text of any length, digits of every script, commands
known and unknown, presses for other questions and forged presses. How often an answer fits
is drawn once per sequence, so some sequences march to the end and others mostly stumble.
"""

from __future__ import annotations

from hypothesis import strategies as st

from dialogues.engine import Dialogue
from dialogues.journeys import JOURNEYS
from dialogues.records import Conversation
from dialogues.turns import Command, Event, Option, Press, Text

COMMAND_NAMES = ("back", "pause", "resume", "cancel", "help", "new", "start", "pathway")
# Decimal digits of a few scripts: int() reads them, so they choose an option by number.
DIGIT_SCRIPTS = ("0", "\u0660", "\u0966", "\uff10", "\u09e6", "\u0e50", "\U0001d7ce")
# Fit, of every hundred turns: drawn per sequence, first (shrinking's choice) the most direct.
FIT_PERCENT = (95, 75, 50, 20)
# How a sequence types its answers: anything that fits, or everything at the length limit in
# what HTML escaping lengthens fivefold (the longest review Telegram is ever sent).
TEXT_STYLES = ("mixed", "markup")
# Every character hypothesis knows, surrogates included: the terminal can read those
# from a byte stream that is not UTF-8.
ANY_CHARACTER = st.characters() | st.characters(categories=["Cs"])
NUMBERISH = st.characters(categories=["Nd", "No", "Nl"])
# Every character str.isdigit() accepts: int() reads the decimal ones, not the rest (², ①, ₂).
DIGITS = [chr(c) for c in range(0x110000) if chr(c).isdigit()]


def _number(n: int, script: str) -> str:
    """n written in the decimal digits of the script whose zero is `script`."""
    return "".join(chr(ord(script) + int(d)) for d in str(n))


def any_text() -> st.SearchStrategy[str]:
    """Text of any kind and length, short mostly, past every limit sometimes."""
    short = st.text(ANY_CHARACTER, max_size=24)
    # Long text repeats a drawn piece: hypothesis cannot draw 5,000 characters one by one.
    long = st.tuples(st.text(ANY_CHARACTER, min_size=1, max_size=8), st.integers(1, 5000)).map(
        lambda t: (t[0] * 5000)[: t[1]]
    )
    blank = st.sampled_from(["", " ", "\n", "\u200b", "\x00", ".", ",", ";", "/", "//", " / "])
    return st.one_of(short, long, blank)


def numbers() -> st.SearchStrategy[str]:
    """Numbers and digits of every script, alone, in lists, and too long for int()."""
    digits = st.text(st.sampled_from(DIGITS), min_size=1, max_size=3)
    return st.one_of(
        digits,
        st.tuples(digits, digits).map(", ".join),
        st.integers(-5, 10**6).map(str),
        st.text(NUMBERISH, min_size=1, max_size=4),
        st.tuples(st.integers(4000, 5000), st.sampled_from(DIGIT_SCRIPTS)).map(
            lambda t: t[1] * t[0]
        ),
        st.tuples(st.integers(0, 30), st.sampled_from(DIGIT_SCRIPTS)).map(lambda t: _number(*t)),
    )


def fitting_text(dialogue: Dialogue, step: str, style: str) -> st.SearchStrategy[str]:
    """Typed text this step takes: within its length limits; an email or a phone for contact."""
    words = dialogue.prompts.step(step)
    if step == "name":  # a name and an email address or phone number, in one answer
        email = st.from_regex(r"[a-z0-9._]{1,12}@[a-z0-9]{1,12}\.[a-z]{2,6}", fullmatch=True)
        phone = st.from_regex(r"\+44 7[0-9]{3} [0-9]{6}|0[0-9]{4} [0-9]{6}", fullmatch=True)
        name = st.text(st.characters(categories=["L"]), min_size=2, max_size=9)
        return st.tuples(name, email | phone).map(lambda t: f"{t[0]}, {t[1]}")
    letters = st.characters(categories=["L", "N"])
    head = st.text(letters, min_size=words.min, max_size=words.min + 10)
    tail = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
    short = st.tuples(head, tail).map(lambda t: (t[0] + t[1])[: words.max])
    at_the_limit = st.tuples(st.text(letters, min_size=1, max_size=5), st.integers(0, 40)).map(
        lambda t: (t[0] * words.max)[: words.max - t[1]]
    )
    # What HTML escaping lengthens fivefold, at the length limit.
    markup = st.tuples(st.text(st.sampled_from("&<>\"'a"), min_size=1, max_size=3), letters).map(
        lambda t: (t[1] + t[0] * words.max)[: words.max]
    )
    if style == "markup":
        return markup
    if step == "description":  # stories the reader finds something in, so its check is walked
        # A story first: what hypothesis draws most, so the check before sending is walked
        # whichever sequences a run happens to draw.
        stories = st.sampled_from(STORIES)
        return st.one_of(stories, short, at_the_limit, markup, stories)
    return st.one_of(short, at_the_limit, markup)


# Each ends with a name, a detail that could identify someone, so that the check before
# sending is walked too (the other texts drawn seldom hold one).
STORIES = [
    "I'm a 2nd year student nurse at the NNUH, left on my own on nights every shift, "
    "told the ward manager but nothing happened, Sister Jones knows",
    "FY2 at Addenbrookes, the consultant shouts at me in front of patients, I'm scared it "
    "will affect my ARCP, haven't told anyone, Dr Khan knows",
    "physio student at Ipswich, no induction and no supervisor for two weeks, Dr Patel knows",
]


def _chosen(step: str, index: int, option: Option) -> st.SearchStrategy[Event]:
    """One option, pressed or typed the ways a person might type it."""
    number = index + 1
    return st.sampled_from(
        [
            Press(step, option.key),
            Press(step, option.key),
            Text(option.label),
            Text(f"  {option.label.upper()}. "),
            Text(option.key),
            Text(str(number)),
            Text(f"{number}."),
            *(Text(_number(number, zero)) for zero in DIGIT_SCRIPTS[1:3]),
        ]
    )


def fitting(
    dialogue: Dialogue, conversation: Conversation | None, style: str = "mixed"
) -> st.SearchStrategy[Event]:
    """An event that answers where the chat is, biased to take the branches too."""
    if conversation is None or conversation.finished:
        return st.sampled_from([Command("new"), Command("new"), Command("pathway")])
    if conversation.interrupt is not None:
        step = conversation.interrupt
        no = st.sampled_from([Press(step, "no"), Text("no"), Text("2")])
        yes = st.sampled_from([Press(step, "yes"), Text("yes"), Text("1")])
        return st.one_of(no, no, no, yes)
    step = conversation.state
    words = dialogue.prompts.step(step)
    options = dialogue.steps.options(step, conversation)
    indexed = list(enumerate(options))
    if words.kind == "text":
        typed = fitting_text(dialogue, step, style).map(Text)
        skip = [_chosen(step, i, o) for i, o in indexed if o.key == "skip"]
        return st.one_of(typed, typed, typed, *skip)
    if words.kind == "info":
        return st.one_of(*(_chosen(step, i, o) for i, o in indexed))
    picks = [(i, o) for i, o in indexed if not o.action]
    actions = [(i, o) for i, o in indexed if o.action]
    if step == "review":
        submit = [_chosen(step, i, o) for i, o in actions]
        edits = [st.sampled_from(picks).flatmap(lambda p: _chosen(step, *p))] if picks else []
        return st.one_of(*submit, *submit, *submit, *edits)
    # Half the time the first or the last option: where "other", "not sure" and "anonymous"
    # sit, so the branches they open are walked as often as the main way.
    ends = [picks[0], picks[-1]]
    pick = st.sampled_from(picks) | st.sampled_from(ends)
    choice = pick.flatmap(lambda p: _chosen(step, *p))
    more = [_chosen(step, i, o) for i, o in actions if o.key not in ("done", "browse")]
    if words.kind == "choice":
        return st.one_of(choice, choice, *more)
    ticked = [o for o in options if o.selected]
    done = [_chosen(step, i, o) for i, o in actions if o.key == "done"]
    browse = [_chosen(step, i, o) for i, o in actions if o.key == "browse"]
    several = st.lists(st.sampled_from(picks), min_size=2, max_size=4).map(
        lambda ps: Text(", ".join(str(i + 1) for i, _ in ps))
    )
    if ticked:
        return st.one_of(*done, *done, choice, several, *browse, *more)
    return st.one_of(choice, choice, several, *browse, *more)


def _every_label(dialogue: Dialogue) -> list[str]:
    sample = Conversation(key="k", owner="o", journey="concern", state="danger")
    labels = {o.label for s in dialogue.prompts.steps for o in dialogue.steps.options(s, sample)}
    return sorted(labels)


def _every_press(dialogue: Dialogue) -> list[Press]:
    sample = Conversation(
        key="k", owner="o", journey="concern", state="danger", answers={"topics": ["supervision"]}
    )
    presses = [
        Press(s, o.key) for s in dialogue.prompts.steps for o in dialogue.steps.options(s, sample)
    ]
    return presses + [Press(s, k) for s in ("_cancel", "_restart") for k in ("yes", "no")]


def unfitting(dialogue: Dialogue) -> st.SearchStrategy[Event]:
    """Everything else: any text, other questions' labels, commands, stale and forged presses."""
    known = st.sampled_from(COMMAND_NAMES)
    unknown = st.text(ANY_CHARACTER, max_size=12)
    commands = st.one_of(
        known.map(Command),
        unknown.map(Command),
        known.map(lambda n: Text(f"/{n}")),
        known.map(lambda n: Text(f"/{n}@concernbot extra words")),
        known.map(Text),
        known.map(lambda n: Text(n.upper())),
        unknown.map(lambda n: Text(f"/{n}")),
    )
    steps = sorted([*dialogue.prompts.steps, "_cancel", "_restart"])
    forged = st.builds(
        Press, st.sampled_from(steps) | st.text(max_size=10), st.text(ANY_CHARACTER, max_size=70)
    )
    return st.one_of(
        any_text().map(Text),
        numbers().map(Text),
        st.sampled_from(_every_label(dialogue)).map(Text),
        commands,
        st.sampled_from(_every_press(dialogue)),
        forged,
    )


def any_journey_state() -> list[tuple[str, str]]:
    """Every (journey, state) a run should visit, the final ones included."""
    return [(j.name, s) for j in JOURNEYS.values() for s in j.states]
