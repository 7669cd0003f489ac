"""The Telegram channel under load, beside a bare python-telegram-bot echo bot.

Starts the Bot API test server (tests/botapi) on the loopback, then each bot in turn as a
process of its own: a bare PTB 22 echo bot (polling, one MessageHandler that replies with
the text) and the real `concernbot telegram` (SQLite in a temporary data folder). N users
each type a whole concern journey (the same texts to the echo bot), each waiting for the
reply before the next answer. For concernbot, a share of users then answers by pressing the
buttons the server shows.

Prints, for each bot: Bot API calls per update (all methods, and those that carry a chat_id,
which Telegram's and the rate limiter's limits count), the bot process's CPU seconds per
update (/proc/<pid>/stat), updates/s and the reply round trip (to the last message of the
reply); then the ratios concernbot/echo and the `result:` lines.
Run: python benchmarks/telegram_load.py [--users N] [--quick]. The numbers are CPU and wall
time on this machine; with other work running they are upper bounds.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seeding import JOURNEY

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Bot API test server lives with the tests

from botapi import BotApiServer  # noqa: E402
from botapi.state import RequestRecord  # noqa: E402
from botapi.user import ChatUser  # noqa: E402

from bot.channels.telegram_render import parse_callback, render, render_all  # noqa: E402
from bot.service import TurnService  # noqa: E402
from dialogues.bundle import load_content  # noqa: E402
from dialogues.engine import Dialogue  # noqa: E402
from dialogues.turns import Command, Event, Press, Reply, Text  # noqa: E402
from storage.memory import MemoryStorage  # noqa: E402

ECHO_BOT = textwrap.dedent(
    '''
    import os

    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters


    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Reply with the text."""
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)


    api = os.environ["ECHO_API_URL"]
    app = (
        Application.builder()
        .token(os.environ["ECHO_TOKEN"])
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    '''
)
TYPED = [f"/{e.name}" if isinstance(e, Command) else e.text for e in JOURNEY]  # type: ignore[union-attr]
# The journey of tests/e2e/test_telegram.py by buttons: ("type", text) or ("press", label).
PRESSED = [
    ("type", "/new"), ("press", "No, nobody is at risk now"),
    ("type", "On most night shifts the FY1s cover the wards alone with nobody to escalate to."),
    ("press", "Yes, that's right"), ("press", "Resident doctor"),
    ("type", "Addenbrookes, ward C9"), ("press", "Within the last month"), ("press", "Often"),
    ("press", "2 to 5"), ("press", "Patients could be harmed"),
    ("press", "⬜ A senior I can call on"), ("press", "Done"), ("press", "Likely"),
    ("press", "Moderate"), ("press", "⬜ Nobody yet"), ("press", "Done"),
    ("press", "⬜ No, the usual routes are fine"), ("press", "Done"),
    ("press", "Only if the advice says so"), ("press", "Anonymous"), ("press", "Submit"),
]  # fmt: skip
STALL = 90.0  # seconds without any reply: the run is stuck


@dataclass(frozen=True)
class Step:
    act: str  # "type" or "press"
    what: str
    sends: int  # messages the reply is made of
    edits: int  # 1 for a tick, edited in place


@dataclass
class Figures:
    updates: int = 0
    presses: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    requests: list[RequestRecord] = field(default_factory=list)
    trips: list[float] = field(default_factory=list)
    press_calls: int = 0

    def calls(self) -> float:
        return len(self.requests) / self.updates

    def chat_calls(self) -> float:
        return sum(r.chat_id is not None for r in self.requests) / self.updates

    def cpu_ms(self) -> float:
        return self.cpu / self.updates * 1000

    def rate(self) -> float:
        return self.updates / self.seconds

    def trip(self, q: int) -> float:
        return statistics.quantiles(self.trips, n=100)[q - 1] if len(self.trips) > 1 else 0.0

    def methods(self) -> str:
        counts: dict[str, int] = {}
        for r in self.requests:
            counts[r.method] = counts.get(r.method, 0) + 1
        return ", ".join(f"{m} {n / self.updates:.2f}" for m, n in sorted(counts.items()))


def expected_steps(dialogue: Dialogue, acts: list[tuple[str, str]]) -> list[Step]:
    """What each act gets back from concernbot: its messages, or an edit for a tick (the
    journey run once through the turn service in memory)."""
    service = TurnService(dialogue, MemoryStorage())
    shown: Reply | None = None
    steps = []
    for act, what in acts:
        event: Event
        if act == "type":
            event = Command(what[1:]) if what.startswith("/") else Text(what)
        else:
            assert shown is not None, f"no buttons to press {what!r}"
            event = _press(shown, what)
        turn = service.handle_now("load", "load", event)
        replies = list(turn.replies)
        tick = (
            isinstance(event, Press)
            and len(replies) == 1
            and replies[0].multi
            and replies[0].step == event.step
        )
        sends = 0 if tick else len(render_all(replies))
        steps.append(Step(act, what, sends, 1 if tick else 0))
        with_buttons = [r for r in replies if r.options]
        shown = with_buttons[-1] if with_buttons else shown
    return steps


def _press(reply: Reply, label: str) -> Press:
    keyboard = render(reply)[-1].keyboard
    assert keyboard is not None
    for row in keyboard.inline_keyboard:
        for button in row:
            if button.text == label:
                parsed = parse_callback(str(button.callback_data))
                assert parsed is not None
                return Press(*parsed)
    raise AssertionError(f"no button {label!r}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Load:
    """Users who each go through `steps`, waiting for each reply; arrivals are seen by
    wrapping the server's message store and request log."""

    def __init__(self, server: BotApiServer) -> None:
        self.server = server
        self.arrivals: queue.Queue[tuple[str, int, float]] = queue.Queue()
        state = server.state
        add_message, log_request = state.add_message, state.log_request

        def added(chat_id: int, payload: Any, from_bot: bool, file: Any = None) -> Any:
            record = add_message(chat_id, payload, from_bot, file)
            if from_bot:
                self.arrivals.put(("send", chat_id, time.perf_counter()))
            return record

        def logged(record: RequestRecord) -> None:
            log_request(record)
            if record.method == "editMessageText" and record.status == 200:
                self.arrivals.put(("edit", int(record.chat_id or 0), time.perf_counter()))

        state.add_message = added  # type: ignore[method-assign]
        state.log_request = logged  # type: ignore[method-assign]
        self.next_user = 500_000_001

    def users(self, count: int) -> list[ChatUser]:
        made = [
            self.server.private_chat(user_id=self.next_user + n, first_name=f"L{n}")
            for n in range(count)
        ]
        self.next_user += count
        return made

    def run(self, pid: int, users: list[ChatUser], steps: list[Step]) -> Figures:
        figures = Figures()
        at = dict.fromkeys((u.chat_id for u in users), 0)
        sent: dict[int, float] = {}
        got: dict[int, list[int]] = {}
        by_chat = {u.chat_id: u for u in users}
        while not self.arrivals.empty():
            self.arrivals.get()
        logged = len(self.server.requests())
        cpu = cpu_seconds(pid)
        started = time.perf_counter()

        def act(user: ChatUser) -> None:
            step = steps[at[user.chat_id]]
            got[user.chat_id] = [0, 0]
            sent[user.chat_id] = time.perf_counter()
            if step.act == "type":
                user.send(step.what)
            else:
                user.press(step.what)
                figures.presses += 1
            figures.updates += 1

        for user in users:
            act(user)
        waiting = len(users)
        while waiting:
            try:
                kind, chat, when = self.arrivals.get(timeout=STALL)
            except queue.Empty:
                stuck = {c: steps[n].what[:30] for c, n in at.items() if n < len(steps)}
                waits = list(stuck.values())[:5]
                raise SystemExit(f"no reply for {STALL:.0f} s; waiting at {waits}") from None
            if chat not in at or at[chat] >= len(steps):
                continue
            counts = got[chat]
            counts[0 if kind == "send" else 1] += 1
            step = steps[at[chat]]
            if counts[0] < step.sends or counts[1] < step.edits:
                continue
            figures.trips.append(when - sent[chat])
            at[chat] += 1
            if at[chat] < len(steps):
                act(by_chat[chat])
            else:
                waiting -= 1
        figures.seconds = time.perf_counter() - started
        figures.cpu = cpu_seconds(pid) - cpu
        figures.requests = [r for r in self.server.requests()[logged:] if r.method != "getMe"]
        figures.press_calls = press_calls(figures.requests, self.server)
        return figures


def press_calls(requests: list[RequestRecord], server: BotApiServer) -> int:
    """Calls a press costs: its answer, and the edits of the message pressed."""
    return sum(
        r.method in ("answerCallbackQuery", "editMessageText", "editMessageReplyMarkup")
        for r in requests
    )


class Bot:
    """A bot process pointed at the server; CPU read from /proc while it runs."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.command, self.env, self.log = command, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, server: BotApiServer) -> float:
        polls = len(server.requests("getUpdates"))
        started = time.perf_counter()
        self.process = subprocess.Popen(  # the benchmark's own bots
            self.command, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        server.state.wait_until(
            lambda: len(server.requests("getUpdates")) > polls, 60, f"{self.name} polling"
        )
        return time.perf_counter() - started

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the bot while it works (installed apart: not a dependency)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [spy, "record", "--gil", "-p", str(pid), "-r", "200", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bots(server: BotApiServer, folder: Path) -> tuple[Bot, Bot]:
    script = folder / "echo_bot.py"
    script.write_text(ECHO_BOT)
    base = {**os.environ, "PYTHONPATH": str(ROOT)}
    echo = Bot(
        "echo",
        [sys.executable, str(script)],
        {**base, "ECHO_API_URL": server.url, "ECHO_TOKEN": server.token},
        folder / "echo.log",
    )
    concernbot = Bot(
        "concernbot",
        [sys.executable, "-m", "bot.cli", "telegram"],
        {
            **base,
            "CONCERNBOT_TELEGRAM_TOKEN": server.token,
            "CONCERNBOT_TELEGRAM_API_URL": server.url,
            "CONCERNBOT_DATA_DIR": str(folder / "data"),
            "CONCERNBOT_DATABASE_URL": "",
            "CONCERNBOT_LOG_LEVEL": "WARNING",
        },
        folder / "concernbot.log",
    )
    return echo, concernbot


def report(name: str, figures: Figures) -> None:
    print(
        f"{name:<18} {figures.updates:>6} updates  calls/update {figures.calls():.2f}"
        f" (with a chat_id {figures.chat_calls():.2f})  CPU {figures.cpu_ms():.2f} ms/update"
        f"  {figures.rate():.1f} updates/s  round trip p50 {figures.trip(50) * 1000:.0f} ms"
        f" p95 {figures.trip(95) * 1000:.0f} ms"
    )
    print(f"{'':<18} {figures.methods()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 users")
    parser.add_argument("--pressers", type=int, default=None, help="users who press (N/4)")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of concernbot")
    args = parser.parse_args()
    users = 20 if args.quick else args.users
    pressers = args.pressers if args.pressers is not None else max(users // 4, 1)
    dialogue = Dialogue(load_content())
    typed = expected_steps(dialogue, [("type", t) for t in TYPED])
    pressed = expected_steps(dialogue, PRESSED)
    echoed = [Step("type", t, 1, 0) for t in TYPED]
    print(
        f"{users} users typing a journey of {len(typed)} answers"
        f" ({sum(s.sends for s in typed)} messages back); {pressers} pressing one of"
        f" {len(pressed)} ({sum(s.act == 'press' for s in pressed)} presses)"
    )
    with tempfile.TemporaryDirectory() as temp, BotApiServer() as server:
        folder = Path(temp)
        load = Load(server)
        echo, concernbot = bots(server, folder)
        started = echo.start(server)
        assert echo.process is not None
        echo_typed = load.run(echo.process.pid, load.users(users), echoed)
        echo.stop()
        print(f"echo bot: first getUpdates {started:.2f} s after start")
        report("echo, typed", echo_typed)
        started = concernbot.start(server)
        assert concernbot.process is not None
        spy = profiler(concernbot.process.pid, args.profile) if args.profile else None
        ours = load.run(concernbot.process.pid, load.users(users), typed)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        print(f"concernbot: first getUpdates {started:.2f} s after start")
        report("concernbot, typed", ours)
        pressing = load.run(concernbot.process.pid, load.users(pressers), pressed)
        concernbot.stop()
        report("concernbot, pressed", pressing)
    per_press = pressing.press_calls / pressing.presses
    sends = sum(s.sends for s in pressed if s.act == "press") / sum(
        s.act == "press" for s in pressed
    )
    print(
        f"calls per press: {per_press:.2f} (answer and edits) + {sends:.2f} (the reply's messages)"
    )
    cpu_ratio = ours.cpu_ms() / echo_typed.cpu_ms()
    print(
        f"ratios concernbot/echo: calls {ours.calls() / echo_typed.calls():.2f},"
        f" CPU {cpu_ratio:.2f}, updates/s {ours.rate() / echo_typed.rate():.2f}"
    )
    result("Bot API calls per learner update", ours.chat_calls(), "calls", "<=", 1.1)
    result("Bot API calls per learner update, echo bot", echo_typed.chat_calls(), "calls")
    result("Bot API calls per update, getUpdates included", ours.calls(), "calls")
    result("Bot API calls per update, getUpdates included, echo bot", echo_typed.calls(), "calls")
    result("Bot API calls per press besides the reply", per_press, "calls", "<=", 2.0)
    result("bot CPU per update", ours.cpu_ms(), "ms")
    result("bot CPU per update, echo bot", echo_typed.cpu_ms(), "ms")
    result("bot CPU per update, ratio to echo", cpu_ratio, "x", "<=", 2.0)
    result(f"learner updates/s, {users} users", ours.rate(), "updates/s", ">=", 25.0)
    result(f"learner updates/s, {users} users, echo bot", echo_typed.rate(), "updates/s")
    result("reply round trip p95", ours.trip(95), "s")
    result("reply round trip p95, echo bot", echo_typed.trip(95), "s")


def result(name: str, value: float, unit: str, way: str | None = None, target: float = 0) -> None:
    if way is None:
        print(f"result: {name} = {value:.3g} {unit} (no target)")
        return
    ok = value <= target if way == "<=" else value >= target
    print(
        f"result: {name} = {value:.3g} {unit} (target {way} {target:g} {unit})"
        f" {'ok' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
