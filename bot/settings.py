"""Settings, read from CONCERNBOT_* environment variables and a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogues.catalogue import DEFAULT_CONTENT_DIR
from storage.database import sqlite_url_for


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONCERNBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the embedded SQLite database.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; PostgreSQL for more than one machine."
    )
    content_dir: Path = Field(DEFAULT_CONTENT_DIR, description="Folder of the TOML content files.")
    log_level: str = Field("WARNING", description="DEBUG, INFO, WARNING or ERROR.")

    @property
    def db_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir)

    @property
    def embedded(self) -> bool:
        return self.db_url.startswith("sqlite")
