"""How long is a typical concern for the learner? Screens, characters read, characters typed.

Drives the golden happy path and the three personas of issue 8 through the turn service and
counts, for each: screens (messages the learner must answer, as tests/transcripts/screens.py
counts them), characters read (everything the bot sent, as the terminal shows it) and
characters typed (every line the learner sent).

The journey after issue 8 runs the inputs of the golden transcripts in tests/transcripts.
The journey before it took only numbers or whole labels, so its scripts below answer the
same concerns with the old questions' numbers. Run it against an old tree with --root:

    python benchmarks/screens.py
    git archive 20c2e2d | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    python benchmarks/screens.py --version before --root /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
TRANSCRIPTS = HERE / "tests" / "transcripts"
CONCERNS = ("happy_path", "persona_student_nurse", "persona_fy2_doctor", "persona_physio_student")

NURSE = (
    "hi im a 2nd yr student nurse on placement at the qeh (kings lynn). on night shifts i keep "
    "getting left on my own with the patients, theres no mentor with me. its every night "
    "shift. i told the ward manager about it 2 weeks ago and never heard back. its not safe "
    "for the patients tbh"
)
FY2 = (
    "FY2 here, currently at Broomfield. One of the consultants has been bullying me since I "
    "started in August. He shouts at me in front of patients and the team and calls me useless "
    "most days. Ive not told anyone because im scared it will affect my ARCP and my training. "
    "I dont want him to find out it was me."
)
PHYSIO = (
    "Hi sorry if this is the wrong place. Im a physio student (2nd year, UEA) on placement at "
    "Ipswich. Ive been here 2 weeks and had no induction at all and nobody has been allocated "
    "as my practice educator so im basically on my own. Ive not raised it with anyone yet, this "
    "is the first time"
)
# The same concerns on the journey before issue 8 (20c2e2d), answered with its numbers.
BEFORE: dict[str, list[str]] = {
    "persona_student_nurse": [
        "/new", "3", "5", "5", "skip", "skip", NURSE, "3", "4", "1, 8", "done", "done", "1",
        "2", "1", "done", "skip", "4", "4", "continue", "skip", "3", "done", "4", "1", "1", "3",
        "submit",
    ],
    "persona_fy2_doctor": [
        "/new", "3", "1", "9", "skip", "skip", FY2, "3", "3", "3", "done", "done", "1", "3",
        "1", "done", "skip", "5", "4", "continue", "skip", "14", "done", "4", "1", "2",
        "Dr A Khan", "a.khan@nhs.net", "submit",
    ],
    "persona_physio_student": [
        "/new", "3", "8", "7", "skip", "skip", PHYSIO, "2", "4", "1, 2", "done", "done", "1",
        "4", "1", "done", "skip", "4", "3", "continue", "skip", "14", "done", "1", "2", "3",
        "submit",
    ],
}  # fmt: skip


def inputs_of(path: Path) -> list[str]:
    return [line[2:] for line in path.read_text("utf-8").splitlines() if line.startswith("> ")]


def _count_screens() -> Callable[[Sequence[Sequence[Any]]], int]:
    """The screen count of this repository, whichever tree is being measured."""
    spec = importlib.util.spec_from_file_location("screens", TRANSCRIPTS / "screens.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    count: Callable[[Sequence[Sequence[Any]]], int] = module.count_screens
    return count


def measure(inputs: list[str]) -> tuple[int, int, int]:
    """Screens, characters read and characters typed for one concern."""
    from bot.channels.console import render
    from bot.service import TurnService
    from dialogues.bundle import load_content
    from dialogues.engine import Dialogue
    from dialogues.turns import Command, Press, Text
    from storage.memory import MemoryStorage

    content = load_content()
    now = [datetime(2026, 11, 2, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        now[0] += timedelta(seconds=20)
        return now[0]

    service = TurnService(Dialogue(content), MemoryStorage(), clock=clock)
    turns, read, typed, filed = [], 0, 0, False
    for line in inputs:
        press = re.fullmatch(r"\[press (\S+) (\S+)\]", line)
        if press:
            event: Any = Press(press.group(1), press.group(2))
        else:
            typed += len(line)
            event = Command(line[1:]) if line.startswith("/") else Text(line)
        turn = asyncio.run(service.handle("console:bench", "console:bench", event))
        filed = filed or turn.reference is not None
        turns.append(turn.replies)
        read += sum(len(render(reply, content.prompts)) for reply in turn.replies)
    if not filed:
        raise SystemExit("the script did not reach a filed concern: check its answers")
    return _count_screens()(turns), read, typed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", choices=("after", "before"), default="after")
    parser.add_argument("--root", type=Path, default=HERE, help="the source tree to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.root.resolve()))
    import dialogues

    where = Path(dialogues.__file__).resolve().parents[1]
    print(f"journey: {args.version} (code from {where})")
    print(f"machine: {platform.platform()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'concern':26} {'screens':>7} {'read (chars)':>13} {'typed (chars)':>14}")
    for name in CONCERNS:
        if args.version == "after":
            inputs = inputs_of(TRANSCRIPTS / f"{name}.txt")
        elif name in BEFORE:
            inputs = BEFORE[name]
        else:
            inputs = inputs_of(args.root / "tests" / "transcripts" / f"{name}.txt")
        inputs = [line for line in inputs if not line.startswith("hello")]  # after the end
        screens, read, typed = measure(inputs)
        print(f"{name:26} {screens:7} {read:13} {typed:14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
