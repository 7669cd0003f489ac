"""The composition root: settings in, a wired turn service out. Nothing else builds parts."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.service import TurnService
from bot.settings import Settings
from bot.triage import Team, TriageService, enqueue_alerts
from dialogues.bundle import Content, load_content
from dialogues.engine import Dialogue
from dialogues.working_hours import Calendar
from storage.database import SqlStorage, open_storage, schema_is_current, upgrade


class SchemaBehind(Exception):
    """The database needs `concernbot db upgrade` before the bot can use it."""


@dataclass(frozen=True)
class App:
    settings: Settings
    content: Content
    storage: SqlStorage
    service: TurnService
    triage: TriageService

    def close(self) -> None:
        self.storage.close()


def build(settings: Settings, terminal: str | None = None) -> App:
    """Load and check the content, open (and, if embedded, upgrade) storage, wire the service.

    `terminal`: the command that starts the learner's chat in a terminal, as they can type
    it; the dialogue then speaks the terminal's words and its hints name that command.
    """
    content = load_content(settings.content_dir)
    resume_hint = "/resume"
    if terminal is not None:
        content = replace(content, prompts=content.prompts.for_terminal(terminal))
        resume_hint = f"`{terminal} --resume`"
    url = settings.db_url
    if settings.embedded:
        upgrade(url)  # the embedded database is created and migrated on first run
    elif not schema_is_current(url):
        raise SchemaBehind("the database schema is not up to date: run `concernbot db upgrade`")
    storage = open_storage(url)
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
    return App(settings, content, storage, service, triage)
