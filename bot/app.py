"""The composition root: settings in, a wired turn service out. Nothing else builds parts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.service import TurnService
from bot.settings import Settings
from dialogues.bundle import Content, load_content
from dialogues.engine import Dialogue
from storage.database import SqlStorage, open_storage, schema_is_current, upgrade


class SchemaBehind(Exception):
    """The database needs `concernbot db upgrade` before the bot can use it."""


@dataclass(frozen=True)
class App:
    settings: Settings
    content: Content
    storage: SqlStorage
    service: TurnService

    def close(self) -> None:
        self.storage.close()


def build(settings: Settings, resume_hint: str = "/resume") -> App:
    """Load and check the content, open (and, if embedded, upgrade) storage, wire the service."""
    content = load_content(settings.content_dir)
    url = settings.db_url
    if settings.embedded:
        upgrade(url)  # the embedded database is created and migrated on first run
    elif not schema_is_current(url):
        raise SchemaBehind("the database schema is not up to date: run `concernbot db upgrade`")
    storage = open_storage(url)
    service = TurnService(Dialogue(content, resume_hint=resume_hint), storage)
    return App(settings, content, storage, service)
