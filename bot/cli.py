"""The `concernbot` command line: chat in the terminal, diagrams, database, keys and content."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import shutil
import sys
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from bot.app import App, SchemaBehind
from bot.keeping_cli import add_keeping_commands
from bot.keys import add_keys_commands, key_problem, say_key_made
from bot.settings import Settings
from dialogues.catalogue import ContentError
from dialogues.journeys import JOURNEYS, Dependent
from dialogues.machines import mermaid
from dialogues.prompts import Prompts
from storage.crypto import KEY_FILE, KeyProblem
from storage.database import StorageUnavailable

DIAGRAM_HEADER = (
    "# The journeys\n\n"
    "Generated from the journeys declared in `dialogues/journeys.py` by `concernbot diagram"
    " --write docs/journeys.md`; a test fails when this file is stale. Back, pause, cancel,"
    " help and the review's edits jump between states and are not drawn, nor is the passing"
    " over of steps the learner's story answered, nor the answers that follow from others:"
    " they are listed under each diagram.\n"
)


# Libraries that would log what must not be logged: httpx puts the bot token in every URL,
# python-telegram-bot at DEBUG prints whole updates (names, ids, text).
QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "telegram": logging.INFO,
         "transitions": logging.WARNING, "tornado.access": logging.WARNING}  # fmt: skip


# The exit code when the database cannot be used (2: the set-up or the input is wrong).
DATABASE_UNAVAILABLE = 3
# One line for the operator per kind of database problem: what is wrong, then what to do.
DATABASE_ADVICE = {
    "unreachable": "cannot reach the database at {where} ({reason}). Start PostgreSQL or set"
    " CONCERNBOT_DATABASE_URL.",
    "lost": "lost the connection to the database at {where} ({reason}). Check that PostgreSQL"
    " is running, then try again.",
    "login": "the database at {where} refused the login ({reason}). Check the user and password"
    " in CONCERNBOT_DATABASE_URL.",
    "missing": "the database at {where} cannot be found ({reason}). Create it, or set"
    " CONCERNBOT_DATABASE_URL.",
    "locked": "the database {where} is busy ({reason}) for longer than the wait allows. Stop the"
    " other program or let it finish, then try again.",
    "not_a_folder": "cannot use {where} as the data folder ({reason}). Set CONCERNBOT_DATA_DIR"
    " to a folder.",
    "no_permission": "cannot write {where} ({reason}). Make the data folder writable, or set"
    " CONCERNBOT_DATA_DIR to a folder you can write to.",
    "read_only": "cannot write {where} ({reason}). Make them writable, or set"
    " CONCERNBOT_DATA_DIR to a folder you can write to.",
    "full": "cannot write {where} ({reason}). Free some space, then try again.",
    "not_a_database": "{where} is not a concernbot database ({reason}); it was left as it is."
    " Move it away, or set CONCERNBOT_DATA_DIR to another folder.",
    "damaged": "the database {where} cannot be read ({reason}); it was left as it is. Restore it"
    " from a backup, or set CONCERNBOT_DATA_DIR to another folder.",
    "bad_url": "CONCERNBOT_DATABASE_URL is not a database URL ({reason}). Set it to one such as"
    " postgresql+psycopg://user@host/db, or leave it unset for the data folder.",
    "undecryptable": "a value in the database at {where} cannot be decrypted ({reason}). Set"
    " CONCERNBOT_SECRET_KEY to the keys it was written with, the newest first; `concernbot keys"
    " check` names the rows.",
    "other": "cannot use the database at {where} ({reason}). Check CONCERNBOT_DATABASE_URL or"
    " CONCERNBOT_DATA_DIR.",
}


def database_problem(error: StorageUnavailable) -> str:
    """The one line an operator reads when the database cannot be used."""
    return DATABASE_ADVICE[error.problem].format(where=error.where, reason=error.reason)


def configure_logging(level_name: str) -> None:
    level = logging.getLevelNamesMapping().get(level_name.upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(max(floor, level))


def diagrams() -> str:
    parts = [DIAGRAM_HEADER]
    for name, journey in JOURNEYS.items():
        parts.append(f"\n## The {name} journey\n\n```mermaid\n{mermaid(journey)}```\n")
        if journey.prefilled:
            steps = ", ".join(s for s in journey.states if s in journey.prefilled)
            parts.append(
                f"\nPassed over on the way through once the learner has confirmed what their"
                f" story said about them: {steps}.\n"
            )
        if journey.sections:
            parts.append("\nThe review's sections, each asked again by its Change button:\n\n")
            parts += [f"- {s.name}: {', '.join(s.steps)}\n" for s in journey.sections]
        if journey.edit_follows:
            parts.append(
                f"\nWhile {journey.edit_follows} holds, an answer asked again goes where the"
                " transitions drawn lead, rather than on through its review section.\n"
            )
        if journey.dependents:
            parts.append(
                "\nAnswers that follow from others: each is dropped, and asked again, when an"
                " answer it was given on changes or its condition no longer holds:\n\n"
            )
            parts += [f"- {_dependent(d)}\n" for d in journey.dependents]
    return "".join(parts)


def _dependent(dependent: Dependent) -> str:
    on = f" on {', '.join(dependent.on)}" if dependent.on else ""
    guard = f" while {dependent.guard}" if dependent.guard else ""
    # Kept through a change that it still fits, and through a first answer to what it is on.
    fits = (
        f" (kept through a change while {dependent.fits}, and through a first answer)"
        if dependent.fits
        else ""
    )
    return f"{dependent.answer}:{on}{',' if on and guard else ''}{guard}{fits}"


def typed_program(argv0: str | None = None, path: str | None = None) -> str:
    """This program as the learner can type it again from where they are: its bare name when
    that finds this very program on PATH, otherwise the path they ran it by (after
    `.venv/bin/concernbot chat`, the venv's `bin` is usually not on PATH)."""
    ran = sys.argv[0] if argv0 is None else argv0
    program = Path(ran)
    if program.suffix == ".py":  # python -m bot.cli
        return f"{shlex.quote(sys.executable)} -m bot.cli"
    found = shutil.which(program.name, path=path)
    if "/" not in ran or (found is not None and Path(found).resolve() == program.resolve()):
        return program.name
    return shlex.quote(ran)


def chat_command(user: str | None, argv0: str | None = None, path: str | None = None) -> str:
    """The command that starts this learner's chat, as they can type it where they are."""
    named = f" --user {shlex.quote(user)}" if user else ""
    return f"{typed_program(argv0, path)} chat{named}"


def _terminal_app(args: argparse.Namespace, settings: Settings) -> App:
    """The app as a terminal learner meets it; on the first run in the user's data folder,
    one line says where their answers are kept."""
    from bot.app import build

    database = settings.database_file
    # Said only for the default folder: whoever set CONCERNBOT_DATA_DIR knows where it is.
    first = (
        database is not None
        and not database.exists()
        and "data_dir" not in settings.model_fields_set
    )
    said = False

    def say_where(prompts: Prompts) -> None:
        nonlocal said
        if first and not said:
            said = True
            print(prompts.terminal_say("data_folder", folder=settings.data_dir) + "\n")

    def key_made(prompts: Prompts) -> None:
        # Said as soon as the key is made: a run that stops before the chat starts has
        # still said it, and no later run will (the key is made once).
        say_where(prompts)
        say_key_made(settings, prompts)

    app = build(settings, terminal=chat_command(args.user), on_new_key=key_made)
    say_where(app.content.prompts)
    return app


def _chat_of(args: argparse.Namespace) -> str:
    from bot.channels.console import chat_key

    return chat_key(args.user)


def _app(settings: Settings) -> App:
    """The app for a command other than the chat; a key made now is announced on stdout."""
    from bot.app import build

    return build(settings, on_new_key=partial(say_key_made, settings))


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.console import ConsoleChat

    app = _terminal_app(args, settings)
    try:
        warning = app.keeping.warning_for(_chat_of(args))
        if warning is not None:
            print(warning + "\n")
        chat = ConsoleChat(app.service, sys.stdin, sys.stdout, user=args.user)
        return asyncio.run(chat.run(journey=args.journey, resume=args.resume))
    finally:
        app.close()


def _status(args: argparse.Namespace, settings: Settings) -> int:
    """The learner's concerns and where each stands, and any concern still in progress."""
    from bot.channels.console import chat_key

    app = _terminal_app(args, settings)
    try:
        service = app.service
        key = chat_key(args.user)
        lines = [service.status(key).text]
        progress = service.conversation(key)
        if progress is not None and not progress.finished:
            lines.append(
                service.dialogue.prompts.terminal_say(
                    "in_progress",
                    count=service.dialogue.answers_given(progress),
                    resume=service.dialogue.resume_hint,
                )
            )
    finally:
        app.close()
    print("\n".join(lines))
    return 0


def _telegram(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.telegram_runner import TelegramStartError, run

    app = _app(settings)
    try:
        asyncio.run(run(settings, app.service, app.triage, app.keeping, app.privacy()))
    except TelegramStartError as error:
        print(f"concernbot: {error}", file=sys.stderr)
        return 2
    finally:
        app.close()
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    """The register (CSV or XLSX, filtered), or one concern as its QCA document."""
    from datetime import date

    from tqdm import tqdm

    from bot.reports.register import register_filter, write_csv, write_xlsx
    from dialogues.filing import read_reference

    app = _app(settings)
    out = Path(args.out)
    try:
        # Read-only: tens of seconds at 100,000 concerns, and learners' turns go on meanwhile.
        with app.storage.reading() as uow:
            if args.qca:
                reference = read_reference(args.qca)
                concern = None if reference is None else uow.concerns.get(reference)
                if concern is None or not concern.queued_for_team:
                    print(f"concernbot: no concern {args.qca}", file=sys.stderr)
                    return 2
                from bot.reports.qca import qca_docx  # python-docx: only for a document

                out.write_bytes(qca_docx(concern, app.content))
                print(f"wrote {out}")
                return 0
            chosen = register_filter(
                date.fromisoformat(args.since) if args.since else None,
                date.fromisoformat(args.until) if args.until else None,
                args.status,
                args.organisation,
            )
            # Written as it is read, one batch in memory; the bar (a terminal's stderr
            # only: disable=None) counts rows, never shows what they say, and stays as the last
            # "n/n concerns" line (leave=False erased a quick export's bar: none was seen).
            with tqdm(
                uow.concerns.stream(chosen),
                total=uow.concerns.tally(chosen),
                disable=None,
                unit=" concerns",
                file=sys.stderr,
                leave=True,
            ) as concerns:
                write = write_xlsx if args.format == "xlsx" else write_csv
                written = write(concerns, app.content, out)
        print(f"wrote {written} concerns to {out}")
        return 0
    finally:
        app.close()


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    """The outbox: what is still to go, waiting for a channel, or failed for good (exit 1)."""
    from bot.doctor import outbox_report, sendable_kinds

    app = _app(settings)
    try:
        lines, healthy = outbox_report(app.storage, sendable_kinds(settings))
    finally:
        app.close()
    print("\n".join(lines))
    return 0 if healthy else 1


def _diagram(args: argparse.Namespace, _settings: Settings) -> int:
    text = diagrams()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import key_ring
    from dialogues.bundle import load_content
    from storage.database import upgrade

    def made() -> None:  # the content is read only for the words of a key made now
        say_key_made(settings, load_content(settings.content_dir).prompts)

    upgrade(settings.db_url, key_ring(settings, made))
    print("database upgraded to the newest schema")
    return 0


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from bot.keys import run_keys

    return run_keys(args.keys_command, getattr(args, "batch", 0), lambda: _app(settings))


def _content(args: argparse.Namespace, settings: Settings) -> int:
    from dialogues.bundle import load_content

    content = load_content(Path(args.dir) if args.dir else settings.content_dir)
    framework = content.catalogue.framework
    print(
        f"content ok (version {content.version}): {len(framework.standards)} standards, "
        f"{len(framework.topics)} topics, {len(content.catalogue.pathways.groups)} learner groups, "
        f"{len(content.prompts.steps)} steps, {len(content.story.fields)} story fields"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="concernbot",
        description="Raise a concern about the quality of NHS education and training.",
    )
    commands = top.add_subparsers(dest="command")
    chat = commands.add_parser("chat", help="chat in the terminal (the default)")
    chat.add_argument(
        "--journey",
        choices=sorted(JOURNEYS),
        default="concern",
        help="concern: raise a concern; pathway: which pathway applies to me?",
    )
    chat.add_argument("--resume", action="store_true", help="continue a paused concern")
    chat.add_argument("--user", help="whose chat this is (default: your login name)")
    chat.set_defaults(run=_chat)
    status = commands.add_parser("status", help="my concerns and where each stands")
    status.add_argument("--user", help="whose concerns (default: your login name)")
    status.set_defaults(run=_status)
    telegram = commands.add_parser("telegram", help="run the Telegram bot (polling, or a webhook)")
    telegram.set_defaults(run=_telegram)
    export = commands.add_parser("export", help="the register (CSV, XLSX) or one QCA document")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    export.add_argument("--out", required=True, metavar="FILE")
    export.add_argument("--qca", metavar="REF", help="write this concern as a QCA document")
    export.add_argument("--since", metavar="YYYY-MM-DD", help="received on or after")
    export.add_argument("--until", metavar="YYYY-MM-DD", help="received on or before")
    export.add_argument("--status", help="e.g. queued, received, under_review, closed")
    export.add_argument("--organisation", metavar="KEY", help="an organisation's key")
    export.set_defaults(run=_export)
    doctor = commands.add_parser("doctor", help="what the outbox holds; what failed for good")
    doctor.set_defaults(run=_doctor)
    diagram = commands.add_parser("diagram", help="print the journeys as Mermaid diagrams")
    diagram.add_argument("--write", metavar="FILE", help="write them to FILE instead")
    diagram.set_defaults(run=_diagram)
    db = commands.add_parser("db", help="database administration")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser(
        "upgrade", help="migrate the database to the newest schema"
    ).set_defaults(run=_db)
    add_keys_commands(commands, _keys)
    add_keeping_commands(commands, _terminal_app, lambda _args, settings: _app(settings))
    content = commands.add_parser("content", help="content files")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    check = content_commands.add_parser("check", help="load and validate the content files")
    check.add_argument("--dir", help="a content folder (default: CONCERNBOT_CONTENT_DIR)")
    check.set_defaults(run=_content)
    return top


def setting_problem(error: ValidationError) -> str:
    """A bad setting in one line per setting: its variable and what is wrong (not the value,
    which may be a secret such as a token)."""
    lines = []
    for problem in error.errors():
        name = "CONCERNBOT_" + "_".join(str(part) for part in problem["loc"]).upper()
        lines.append(f"setting {name}: {problem['msg']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        args = parser().parse_args(["chat", *(argv or [])])
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"concernbot: {setting_problem(error)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        code: int = args.run(args, settings)
        return code
    except ContentError as error:
        print(f"concernbot: content error: {error}", file=sys.stderr)
        return 2
    except SchemaBehind as error:
        print(f"concernbot: {error}", file=sys.stderr)
        return 2
    except KeyProblem as error:
        key_file = settings.embedded and (settings.data_dir / KEY_FILE).exists()
        own_file = key_file and settings.secret_key is not None
        print(f"concernbot: {key_problem(error, own_file)}", file=sys.stderr)
        return 2
    except StorageUnavailable as error:
        print(f"concernbot: {database_problem(error)}", file=sys.stderr)
        return DATABASE_UNAVAILABLE
    except KeyboardInterrupt:
        print("\nStopped. Your answers so far are saved.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
