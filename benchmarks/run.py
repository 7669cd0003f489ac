"""Every benchmark of issue 11, one after another, and a summary of their targets.

Runs `python benchmarks/<name>.py [--quick]` for each script below that exists (one that does
not is said and skipped), streaming its output, and collects the lines it ends with:
`result: <measure> = <value> <unit> (target <= X <unit>) ok|MISSED`. The summary table lists
them all with the machine and the date. The exit code is non-zero if a script failed; a
missed target is not a failure here, the table says MISSED.

Run: python benchmarks/run.py [--quick] [names...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sqlite3
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "telegram_load", "update_cpu", "priority", "turns", "start", "team_views", "exports", "replicas"
)  # fmt: skip
RESULT = re.compile(
    r"^result: (?P<measure>.+?) = (?P<value>.+?) \((?P<target>[^()]*)\)\s*(?P<verdict>ok|MISSED)?$"
)


def run(name: str, quick: bool) -> tuple[int, list[tuple[str, ...]]]:
    """Run one script, echoing its output; its exit code and its result lines."""
    command = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if quick else [])]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    results = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            found = RESULT.match(line.strip())
            if found:
                verdict = found["verdict"] or ("" if found["target"] == "no target" else "?")
                results.append((name, found["measure"], found["value"], found["target"], verdict))
    return process.returncode, results


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _postgres() -> str:
    url = os.environ.get("CONCERNBOT_BENCH_POSTGRES_URL")
    if not url:
        return "not used (CONCERNBOT_BENCH_POSTGRES_URL unset)"
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as connection:
            found = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return str(found)
    except Exception as error:  # the summary still prints without it
        return f"unknown ({type(error).__name__})"


def machine() -> list[str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor() or "unknown",
    )  # fmt: skip
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {cpu}, {os.cpu_count()} cores, {memory:.1f} GiB RAM, {platform.platform()}",
        f"python {platform.python_version()}, python-telegram-bot {_package('python-telegram-bot')}"
        f", SQLite {sqlite3.sqlite_version}, PostgreSQL {_postgres()}",
        f"load average at the end: {' '.join(f'{n:.2f}' for n in os.getloadavg())}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run of each, a smoke test")
    parser.add_argument("names", nargs="*", default=SCRIPTS, help="which benchmarks to run")
    args = parser.parse_args()
    failed, results = [], []
    for name in args.names:
        if not (HERE / f"{name}.py").exists():
            print(f"\n=== {name}: benchmarks/{name}.py is missing, skipped", flush=True)
            continue
        code, found = run(name, args.quick)
        results += found
        if code != 0:
            failed.append(f"{name} (exit {code})")
    width = max([len(r[1]) for r in results] + [7])
    print(f"\n=== summary{' (--quick)' if args.quick else ''}")
    print(f"{'script':<14} {'measure':<{width}}  {'value':>14}  {'target':<22} result")
    for name, measure, value, target, verdict in results:
        print(f"{name:<14} {measure:<{width}}  {value:>14}  {target:<22} {verdict}")
    print("\n".join(machine()))
    if failed:
        print(f"failed: {', '.join(failed)}")
    missed = sum(1 for r in results if r[4] == "MISSED")
    print(f"{len(results)} results, {missed} targets missed, {len(failed)} scripts failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
