"""`concernbot tidy | forget | withdraw | keep | privacy`: retention and forget-me in a terminal.

`tidy` is the sweep for the terminal and cron (the Telegram runner sweeps by itself); the
learner's commands act for the terminal's learner (`--user`, default the login name), as
`concernbot status` does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bot.app import App
from bot.settings import Settings

OpenApp = Callable[[argparse.Namespace, Settings], App]


def add_keeping_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    learner_app: OpenApp,
    operator_app: OpenApp,
) -> None:
    """The commands, each opening the app it needs: the learner's or the operator's."""

    def runs(handler: Callable[[argparse.Namespace, App], int], opener: OpenApp) -> object:
        def run(args: argparse.Namespace, settings: Settings) -> int:
            app = opener(args, settings)
            try:
                return handler(args, app)
            finally:
                app.close()

        return run

    tidy = commands.add_parser(
        "tidy", help="anonymise old closed concerns, delete old drafts (for cron)"
    )
    tidy.set_defaults(run=runs(_tidy, operator_app))
    forget = commands.add_parser(
        "forget", help="delete my drafts and unlink me from my concerns (asks first)"
    )
    forget.add_argument("--user", help="whose (default: your login name)")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    forget.set_defaults(run=runs(_forget, learner_app))
    withdraw = commands.add_parser(
        "withdraw", help="withdraw a concern of mine the team has not started on"
    )
    withdraw.add_argument("reference", metavar="REF")
    withdraw.add_argument("--user", help="whose (default: your login name)")
    withdraw.set_defaults(run=runs(_withdraw, learner_app))
    keep = commands.add_parser(
        "keep", help="keep a concern's free text when it is anonymised (the team's flag)"
    )
    keep.add_argument("reference", metavar="REF")
    keep.set_defaults(run=runs(_keep, operator_app))
    privacy = commands.add_parser(
        "privacy", help="what is stored, where, for how long, who reads it"
    )
    privacy.add_argument("--user", help=argparse.SUPPRESS)
    privacy.set_defaults(run=runs(_privacy, learner_app))


def _tidy(args: argparse.Namespace, app: App) -> int:
    swept = app.keeping.sweep()
    print(
        app.content.prompts.keeping_say(
            "tidy_done", anonymised=swept.anonymised, expired=swept.expired, warned=swept.warned
        )
    )
    return 0


def _owner(args: argparse.Namespace) -> str:
    from bot.channels.console import chat_key

    return chat_key(args.user)


def _forget(args: argparse.Namespace, app: App) -> int:
    keeping = app.keeping
    say = app.content.prompts.keeping_say
    plan = keeping.forgettable(_owner(args))
    print(keeping.preview_words(plan))
    if plan.empty:
        return 0
    if not args.yes:
        print(say("forget_confirm_terminal"), end=" ", flush=True)
        answer = sys.stdin.readline().strip().casefold()
        if answer not in ("yes", "y"):
            print(say("forget_kept"))
            return 1
    print(keeping.forget_words(keeping.forget(_owner(args))))
    return 0


def _withdraw(args: argparse.Namespace, app: App) -> int:
    from dialogues.filing import read_reference

    reference = read_reference(args.reference)
    if reference is None:
        print(app.content.prompts.keeping_say("not_a_reference", typed=args.reference))
        return 2
    outcome = app.keeping.withdraw(_owner(args), reference)
    print(app.keeping.withdrawal_words(outcome))
    return 0 if outcome.result == "withdrawn" else 2


def _keep(args: argparse.Namespace, app: App) -> int:
    from dialogues.filing import read_reference

    reference = read_reference(args.reference)
    if reference is None:
        print(app.content.prompts.keeping_say("not_a_reference", typed=args.reference))
        return 2
    if not app.keeping.keep(reference, "operator"):
        print(app.content.prompts.keeping_say("keep_unknown", reference=reference))
        return 2
    print(app.content.prompts.keeping_say("keep_done", reference=reference))
    return 0


def _privacy(args: argparse.Namespace, app: App) -> int:
    print(app.privacy())
    return 0
