"""Cold start and idle cost: `concernbot telegram` beside a bare python-telegram-bot echo bot.

Each bot is a real process, long polling the Bot API emulator (tests/botapi). Cold start is
from spawning the process to the first getUpdates request reaching the emulator; then, with
nothing to do, the process's CPU time over an idle window (utime + stime from /proc) and its
resident memory at the end of it (VmRSS). concernbot runs on the embedded SQLite database in
a temporary data folder, first with no team, then with a team chat: its first start (which
creates the database) is reported apart, the median is over starts on a database at head.
Both bots long-poll with the same timeout. The CPU time a bot has used by its first
getUpdates is printed too: on a machine shared with other work it is a steadier measure of
the start than the wall clock. Python may write its bytecode cache, as in any installation
(the first start writes it for concernbot's own modules): with PYTHONDONTWRITEBYTECODE set,
every start would compile them from source again, some 0.2 s an installed bot never spends.

Run: python benchmarks/start.py [--runs N] [--idle SECONDS] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from botapi import BotApiServer  # noqa: E402 (found through the path set just above)

COLD_TARGET = 1.0  # seconds
RSS_TARGET = 90.0  # MiB
TEAM_CHAT = -1009000
ECHO_BOT = """
import sys
from telegram.ext import Application, MessageHandler, filters

async def echo(update, context):
    await update.message.reply_text(update.message.text)

app = Application.builder().token(sys.argv[1]).base_url(sys.argv[2] + "/bot").build()
app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
app.run_polling(timeout=int(sys.argv[3]))
"""
CONCERNBOT = "import sys; from bot.cli import main; sys.exit(main(['telegram']))"


@dataclass(frozen=True)
class Sample:
    cold: float  # seconds from spawn to the first getUpdates received
    work: float  # CPU seconds the process spent by then (steadier than `cold` on a busy machine)
    rss: float  # MiB after the idle window
    cpu: float  # percent of one core over the idle window


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(command: list[str], env: dict[str, str], server: BotApiServer, idle: float) -> Sample:
    """One start of `command`: cold start, then CPU and memory over `idle` seconds."""
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    seen = len(server.requests("getUpdates"))
    with tempfile.TemporaryFile("w+") as log:
        started = time.time()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
        try:
            # Logged when answered: a long poll with nothing to hand over ends at its timeout.
            first = server.wait_for_request("getUpdates", seen + 1, timeout=60)[seen]
            cpu0, t0 = _cpu_seconds(process.pid), time.monotonic()
            time.sleep(idle)
            cpu = (_cpu_seconds(process.pid) - cpu0) / (time.monotonic() - t0) * 100
            return Sample(first.received - started, cpu0, _rss_mib(process.pid), cpu)
        except Exception:
            log.seek(0)
            print(log.read()[-3000:], file=sys.stderr)
            raise
        finally:
            process.terminate()
            process.wait(20)


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.cold for s in samples),
        statistics.median(s.work for s in samples),
        statistics.median(s.rss for s in samples),
        statistics.median(s.cpu for s in samples),
    )


def show(name: str, samples: list[Sample]) -> None:
    def each(field: str, form: str) -> str:
        return " ".join(format(getattr(s, field), form) for s in samples)

    print(
        f"{name:<22} cold start s: {each('cold', '.2f')}  CPU s by then: {each('work', '.2f')}"
        f"  idle RSS MiB: {each('rss', '.0f')}  idle CPU %: {each('cpu', '.2f')}"
    )


def echo_runs(runs: int, poll: int, idle: float) -> list[Sample]:
    samples = []
    for _ in range(runs):
        with BotApiServer() as server:
            command = [sys.executable, "-c", ECHO_BOT, server.token, server.url, str(poll)]
            samples.append(measure(command, dict(os.environ), server, idle))
    return samples


def concernbot_runs(runs: int, poll: int, idle: float, team: bool) -> tuple[Sample, list[Sample]]:
    """The first start (which creates the database), then `runs` starts on it at head."""
    with tempfile.TemporaryDirectory() as folder:
        samples = []
        for _ in range(runs + 1):
            with BotApiServer() as server:
                env = {
                    **os.environ,
                    "PYTHONPATH": str(ROOT),
                    "CONCERNBOT_TELEGRAM_TOKEN": server.token,
                    "CONCERNBOT_TELEGRAM_API_URL": server.url,
                    "CONCERNBOT_DATA_DIR": str(Path(folder) / "data"),
                    "CONCERNBOT_DATABASE_URL": "",
                    "CONCERNBOT_SECRET_KEY": "",
                    "CONCERNBOT_TELEGRAM_POLL_TIMEOUT": str(poll),
                    "CONCERNBOT_TEAM_CHAT_ID": str(TEAM_CHAT) if team else "",
                }
                command = [sys.executable, "-c", CONCERNBOT]
                samples.append(measure(command, env, server, idle))
        return samples[0], samples[1:]


def result(name: str, value: float, unit: str, target: float | None = None) -> None:
    if target is None:
        print(f"result: {name} = {value:.2f} {unit} (no target)")
    else:
        verdict = "ok" if value <= target else "MISSED"
        print(f"result: {name} = {value:.2f} {unit} (target <= {target:g} {unit}) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="starts of each bot")
    parser.add_argument("--idle", type=float, default=20.0, help="idle window, seconds")
    parser.add_argument("--poll", type=int, default=5, help="long-poll timeout, seconds")
    parser.add_argument("--quick", action="store_true", help="2 starts, a 3 s idle window")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.idle, args.poll = 2, 3.0, 2
    print(f"{args.runs} starts each, idle window {args.idle:g} s, long poll {args.poll} s")
    echo = echo_runs(args.runs, args.poll, args.idle)
    show("echo bot", echo)
    first, plain = concernbot_runs(args.runs, args.poll, args.idle, team=False)
    show("concernbot first start", [first])
    show("concernbot", plain)
    _, team = concernbot_runs(args.runs, args.poll, args.idle, team=True)
    show("concernbot with a team", team)
    e, c, t = median(echo), median(plain), median(team)
    result("cold start, echo bot", e.cold, "s")
    result("cold start, concernbot first run", first.cold, "s")
    result("cold start, concernbot", c.cold, "s", COLD_TARGET)
    result("cold start, concernbot with a team", t.cold, "s", COLD_TARGET)
    result("cold start ratio, concernbot / echo", c.cold / e.cold, "x")
    result("CPU to first getUpdates, echo bot", e.work, "s")
    result("CPU to first getUpdates, concernbot", c.work, "s")
    result("CPU to first getUpdates ratio, concernbot / echo", c.work / e.work, "x")
    result("idle RSS, echo bot", e.rss, "MiB")
    result("idle RSS, concernbot", c.rss, "MiB", RSS_TARGET)
    result("idle RSS, concernbot with a team", t.rss, "MiB", RSS_TARGET)
    result("idle RSS ratio, concernbot / echo", c.rss / e.rss, "x")
    result("idle CPU, echo bot", e.cpu, "%")
    result("idle CPU, concernbot", c.cpu, "%")
    result("idle CPU, concernbot with a team", t.cpu, "%")
    if e.cpu > 0:
        result("idle CPU ratio, concernbot with a team / echo", t.cpu / e.cpu, "x")


if __name__ == "__main__":
    main()
