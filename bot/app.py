"""The composition root: settings in, a wired turn service out. Nothing else builds parts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from bot.keeping import Keeping, Periods
from bot.service import TurnService
from bot.settings import Settings
from bot.triage import Team, TriageService, enqueue_alerts
from dialogues.bundle import Content, load_content
from dialogues.engine import Dialogue
from dialogues.privacy import PrivacyFacts, privacy_words
from dialogues.prompts import Prompts
from dialogues.working_hours import Calendar
from storage.crypto import KeyRing, MissingKey
from storage.database import (
    SqlStorage,
    check_url,
    embedded_keys,
    open_storage,
    schema_is_current,
    upgrade,
)

log = logging.getLogger(__name__)


class SchemaBehind(Exception):
    """The database needs `concernbot db upgrade` before the bot can use it."""


@dataclass(frozen=True)
class App:
    settings: Settings
    content: Content
    storage: SqlStorage
    service: TurnService
    triage: TriageService
    keeping: Keeping
    terminal: bool = False

    def privacy(self) -> str:
        """The privacy words for this installation, for its channel."""
        return privacy_words(self.content.prompts, privacy_facts(self.settings, self.terminal))

    def close(self) -> None:
        self.storage.close()


def _log_new_key(settings: Settings, prompts: Prompts) -> None:
    log.warning("%s", prompts.terminal_say("key_made", file=settings.key_file))


def periods(settings: Settings) -> Periods:
    return Periods(settings.retention_months, settings.draft_days, settings.draft_warning_days)


def privacy_facts(settings: Settings, terminal: bool = False) -> PrivacyFacts:
    """What the privacy words depend on, read from the settings and the tables."""
    from storage.rotation import sealed_tables

    sealed = tuple(f"{t.name}.{c}" for t in sealed_tables() for c in t.columns)
    return PrivacyFacts(
        closed_months=settings.retention_months,
        draft_days=settings.draft_days,
        warn_days=settings.draft_warning_days,
        postgresql=not settings.embedded,
        key_in_settings=settings.secret_key is not None,
        team_chat=settings.team_chat_id is not None,
        team_email=bool(settings.smtp_url and settings.team_email),
        sealed=sealed,
        terminal=terminal,
    )


def key_ring(settings: Settings, on_new_key: Callable[[], None] | None = None) -> KeyRing:
    """The keys that seal what is stored: CONCERNBOT_SECRET_KEY, or for the embedded database
    the data folder's key file, made on first run (then `on_new_key` is called, once ever).
    MissingKey for a database server without CONCERNBOT_SECRET_KEY; BadKey if a key is not
    one; StorageUnavailable if the data folder cannot hold the key file."""
    if settings.secret_key is not None:
        return KeyRing.parse(settings.secret_key.get_secret_value(), "CONCERNBOT_SECRET_KEY")
    if not settings.embedded:
        check_url(settings.db_url)  # a URL that is no database's is the first thing to fix
        raise MissingKey()
    keys, made = embedded_keys(settings.data_dir)
    if made and on_new_key is not None:
        on_new_key()
    return keys


def build(
    settings: Settings,
    terminal: str | None = None,
    on_new_key: Callable[[Prompts], None] | None = None,
) -> App:
    """Load and check the content, open (and, if embedded, upgrade) storage, wire the service.

    `terminal`: the command that starts the learner's chat in a terminal, as they can type
    it; the dialogue then speaks the terminal's words and its hints name that command.
    `on_new_key`: called at once when this run made the embedded database's key, to say
    where it is kept and that it must be backed up (prompt "key_made"); by default, the log.
    """
    content = load_content(settings.content_dir)
    if on_new_key is None:
        on_new_key = partial(_log_new_key, settings)
    keys = key_ring(settings, partial(on_new_key, content.prompts))
    resume_hint = "/resume"
    if terminal is not None:
        content = replace(content, prompts=content.prompts.for_terminal(terminal))
        resume_hint = f"`{terminal} --resume`"
    url = settings.db_url
    if settings.embedded:
        upgrade(url, keys)  # the embedded database is created and migrated on first run
    elif not schema_is_current(url):
        raise SchemaBehind("the database schema is not up to date: run `concernbot db upgrade`")
    storage = open_storage(url, keys, settings.sqlite_synchronous)
    team = Team(
        chat_id=settings.team_chat_id,
        members=settings.members,
        email=bool(settings.smtp_url and settings.team_email),
        reminder_hours=settings.team_reminder_hours,
        calendar=Calendar.parse(settings.team_working_days, settings.team_working_hours),
    )
    service = TurnService(
        Dialogue(content, resume_hint=resume_hint, team_channel=team.reachable),
        storage,
        on_filed=lambda uow, concern, now: enqueue_alerts(uow, concern, now, team),
    )
    triage = TriageService(storage, content, team, service.clock)
    keeping = Keeping(storage, content.prompts, periods(settings), service.clock, resume_hint)
    return App(settings, content, storage, service, triage, keeping, terminal is not None)
