"""Exports at any size: `concernbot export` (CSV, then XLSX) over many filed concerns.

Seeds a database (SQLite; PostgreSQL too when CONCERNBOT_BENCH_POSTGRES_URL is set) with
100,000 concerns (`--quick`: 2,000), then runs each export as its own process, the way an
operator does, and prints its wall time, CPU time and peak memory (the child's VmHWM).
Also prints what reading and decrypting one concern costs in this process, since every
exported row must be read and opened whatever the writer does.

Run: python benchmarks/exports.py [--quick] [--count N] [--code DIR]
`--code` measures another checkout's export (e.g. the main branch, for a before figure)
against the same database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from backends import POSTGRES_VARIABLE, postgres, sqlite
from seeding import seed
from sqlalchemy import text

from storage.crypto import new_key
from storage.database import SqlStorage
from storage.repositories import Storage
from storage.streaming import ConcernFilter

ROOT = Path(__file__).resolve().parent.parent
# The export, then its own peak resident set. Not wait4's ru_maxrss: that counts the child
# from the fork, when it still was a copy of this process and its 100,000 seeded concerns.
CHILD = """
import sys
from bot.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(f"peak-kib {peak}", file=sys.stderr)
sys.exit(code)
"""
FULL, QUICK = 100_000, 2_000
TARGETS = {"csv": 10.0, "xlsx": 30.0}  # seconds at 100,000 concerns
CSV_PEAK_MIB = 100.0
SEALED = ("description", "site", "programme", "organisation_other", "controls_detail",
          "further_actions", "assigned_to")  # fmt: skip


def export(
    url: str, key: str, form: str, code: Path, folder: Path
) -> tuple[float, float, float, str]:
    """Run `concernbot export --format form` as a child: wall seconds, CPU seconds (user and
    system: on a shared machine the fairer figure), peak MiB, and what it printed."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "CONCERNBOT_DATABASE_URL": url,
        "CONCERNBOT_SECRET_KEY": key,
        "CONCERNBOT_DATA_DIR": str(folder / "data"),
        "CONCERNBOT_LOG_LEVEL": "WARNING",
    }
    out = folder / f"register.{form}"
    command = [sys.executable, "-c", CHILD, "export", "--format", form, "--out", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    if child.returncode != 0:
        raise SystemExit(f"export failed ({child.returncode}): {stderr}")
    peak = int(stderr.rsplit("peak-kib ", 1)[1].split()[0]) / 1024
    return elapsed, usage.ru_utime + usage.ru_stime, peak, stdout.strip()


def read_cost(storage: SqlStorage, sample: int) -> tuple[float, float]:
    """Microseconds per concern to read one through `stream` (rows, identity records,
    decryption), and of that to open its sealed values alone."""
    with storage.unit_of_work() as uow:
        started = time.perf_counter()
        read = sum(
            1 for _ in zip(range(sample), uow.concerns.stream(ConcernFilter()), strict=False)
        )
        per_read = (time.perf_counter() - started) / read * 1e6
    columns = ", ".join(SEALED)
    with storage.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {columns} FROM concerns LIMIT {sample}")).all()
        owners = connection.execute(
            text(f"SELECT owner, name, contact FROM identities LIMIT {sample}")
        ).all()
    tokens = [value for row in [*rows, *owners] for value in row if value is not None]
    started = time.perf_counter()
    for token in tokens:
        storage.keys.decrypt(token)
    per_decrypt = (time.perf_counter() - started) / len(rows) * 1e6
    return per_read, per_decrypt


def written(said: str) -> int | None:
    """How many concerns the export says it wrote ("wrote N concerns to ..."), or None."""
    words = said.split()
    if len(words) > 2 and words[0] == "wrote" and words[1].isdigit():
        return int(words[1])
    return None


def result(name: str, value: float, unit: str, target: float | None) -> None:
    if target is None:
        print(f"result: {name} = {value:.1f} {unit} (no target)")
        return
    verdict = "ok" if value <= target else "MISSED"
    print(f"result: {name} = {value:.1f} {unit} (target <= {target:g} {unit}) {verdict}")


def run(
    name: str, backend: Callable[[str], AbstractContextManager[Storage]], count: int, code: Path
) -> None:
    key = new_key()
    with backend(key) as storage, tempfile.TemporaryDirectory() as folder:
        assert isinstance(storage, SqlStorage)
        seconds = seed(storage, count)
        print(f"{name}: seeded {count} concerns in {seconds:.1f} s")
        per_read, per_decrypt = read_cost(storage, min(count, 5000))
        print(f"{name}: read {per_read:.0f} us per concern, of which decrypting {per_decrypt:.0f}")
        url = storage.engine.url.render_as_string(hide_password=False)
        for form in ("csv", "xlsx"):
            elapsed, cpu, peak, said = export(url, key, form, code, Path(folder))
            print(f"{name}: {form} {elapsed:.1f} s, CPU {cpu:.1f} s, peak {peak:.0f} MiB ({said})")
            print(f"{name}: {form} CPU {cpu / count * 1e6:.0f} us per concern, start-up included")
            wrote = written(said)
            if wrote != count:  # a fast export of nothing is no result: fail loudly
                raise SystemExit(f"{name}: {form} export wrote {wrote} of {count} concerns")
            scale = f"{count // 1000}k"
            # The time targets are for 100,000 concerns; smaller runs report against them too.
            result(f"{form} export {scale} {name}", elapsed, "s", TARGETS[form])
            result(
                f"{form} export peak RSS {scale} {name}",
                peak,
                "MiB",
                CSV_PEAK_MIB if form == "csv" else None,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} concerns, not {FULL}")
    parser.add_argument("--count", type=int, help="how many concerns to seed")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to measure")
    args = parser.parse_args()
    count = args.count or (QUICK if args.quick else FULL)
    backends: list[tuple[str, Callable[[str], AbstractContextManager[Storage]]]] = [
        ("sqlite", lambda key: sqlite(key))
    ]
    server = os.environ.get(POSTGRES_VARIABLE)
    if server:
        backends.append(("postgresql", lambda key: postgres(server, key)))
    for name, backend in backends:
        run(name, backend, count, args.code.resolve())


if __name__ == "__main__":
    main()
