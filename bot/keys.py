"""`concernbot keys`: make a key, rotate to the first key, check what no key opens.

Rotation (see `storage.rotation`): put the new key first in CONCERNBOT_SECRET_KEY (or the
key file), the old one after it, run `concernbot keys rotate`, then drop the old key.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from bot.app import App
from bot.settings import Settings
from dialogues.prompts import Prompts
from storage.crypto import KeyProblem, new_key
from storage.rotation import Rotation, count_rows, rotate

# Rows named when some cannot be opened; the rest are counted.
_NAMED = 20

# One line per kind of key problem (storage.crypto.KeyProblem); never the key itself.
KEY_ADVICE = {
    "missing": "no encryption key is set for the database server: set CONCERNBOT_SECRET_KEY"
    " (`concernbot keys new` makes one; keep a copy somewhere safe).",
    "bad": "{error}: a key is 44 characters as `concernbot keys new` makes them, several"
    " separated by commas.",
    "wrong": "this database ({where}) was encrypted with another key: set"
    " CONCERNBOT_SECRET_KEY to the key it was made with.",
    "wrong_embedded": "this database ({where}) was encrypted with another key: it opens with"
    " the key file beside it, so unset CONCERNBOT_SECRET_KEY, or set it to that file's key.",
    "lost": "the key file {key_file} is missing, but the database {where} was encrypted with"
    " it: put the file back from your backup (or set CONCERNBOT_SECRET_KEY to its key)."
    " No new key was made: it could not open what is stored.",
}


def key_problem(error: KeyProblem, embedded_with_key_file: bool = False) -> str:
    """The one line an operator reads when the keys do not fit. `embedded_with_key_file`:
    CONCERNBOT_SECRET_KEY was set for an embedded database whose key file is there."""
    problem = error.problem
    if problem == "wrong" and embedded_with_key_file:
        problem = "wrong_embedded"
    return KEY_ADVICE.get(problem, "{error}").format(
        error=error, where=getattr(error, "where", ""), key_file=getattr(error, "key_file", "")
    )


def add_keys_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    run: Callable[[argparse.Namespace, Settings], int],
) -> None:
    """`concernbot keys new | rotate [--batch N] | check`, each handled by `run`."""
    keys = commands.add_parser("keys", help="the encryption keys")
    chosen = keys.add_subparsers(dest="keys_command", required=True)
    chosen.add_parser("new", help="print a new key").set_defaults(run=run)
    rotate = chosen.add_parser("rotate", help="re-encrypt everything with the first key")
    rotate.add_argument("--batch", type=int, default=200, help="rows per transaction")
    rotate.set_defaults(run=run)
    chosen.add_parser(
        "check", help="count values under older keys; name rows no key opens"
    ).set_defaults(run=run)


def say_key_made(settings: Settings, prompts: Prompts) -> None:
    """Where the key made on this run is kept, and to back it up: once, on stdout."""
    print(prompts.terminal_say("key_made", file=settings.key_file) + "\n", flush=True)


def run_keys(command: str, batch: int, open_app: Callable[[], App]) -> int:
    """`concernbot keys new`, `rotate` or `check`; only the last two open the database."""
    if command == "new":
        return print_new_key()
    app = open_app()
    try:
        return rotate_keys(app, batch) if command == "rotate" else check_keys(app)
    finally:
        app.close()


def print_new_key(out: TextIO = sys.stdout) -> int:
    """A fresh key, on a line of its own, for CONCERNBOT_SECRET_KEY."""
    print(new_key(), file=out)
    return 0


def rotate_keys(app: App, batch: int, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Seal every value again with the first key, with a progress bar on a terminal."""
    engine, keys = app.storage.engine, app.storage.keys
    total = count_rows(engine)
    from tqdm import tqdm  # only this command draws a bar: not loaded by the others

    # disable=None: no bar when stderr is not a terminal (a log, a pipe).
    with tqdm(total=total, unit="row", desc="re-encrypting", file=err, disable=None) as bar:
        done = rotate(engine, keys, batch=batch, progress=bar.update)
    print(
        f"re-encrypted {done.rotated} of {done.rows} rows with the first key"
        f" ({keys.size} key{'s' if keys.size != 1 else ''} given)",
        file=out,
    )
    if done.unreadable:
        print(f"concernbot: {_unreadable(done)}", file=err)
        return 1
    if keys.size > 1:
        print("every value now opens with the first key: the others may be dropped", file=out)
    return 0


def check_keys(app: App, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Count the values sealed with an older key, and name rows no key opens (exit 1)."""
    found = rotate(app.storage.engine, app.storage.keys, write=False)
    print(
        f"{found.rows} rows: {found.rotated} sealed with an older key"
        + (" (run `concernbot keys rotate`)" if found.rotated else ""),
        file=out,
    )
    if found.unreadable:
        print(f"concernbot: {_unreadable(found)}", file=err)
        return 1
    return 0


def _unreadable(rotation: Rotation) -> str:
    rows = rotation.unreadable
    named = ", ".join(f"{table} {key}" for table, key in rows[:_NAMED])
    more = f" and {len(rows) - _NAMED} more" if len(rows) > _NAMED else ""
    return (
        f"{len(rows)} rows hold a value none of the keys opens, left as they are ({named}{more})."
        " Add the key they were written with to CONCERNBOT_SECRET_KEY, after the first."
    )
