"""Settings, read from CONCERNBOT_* environment variables and a .env file."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogues.catalogue import DEFAULT_CONTENT_DIR
from storage.crypto import KEY_FILE
from storage.database import DATABASE_FILE, DEFAULT_SYNCHRONOUS, Synchronous, sqlite_url_for


def user_data_folder() -> Path:
    """The user's own data folder (on Linux ~/.local/share/concernbot): the same whichever
    folder a command runs in, so a chat paused in one is resumed from any other."""
    return platformdirs.user_data_path("concernbot")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONCERNBOT_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(
        default_factory=user_data_folder, description="Folder for the embedded SQLite database."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; PostgreSQL for more than one machine."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Encryption key(s), comma-separated: the first encrypts, all decrypt"
        " (`concernbot keys new` makes one). Unset: the key file in the data folder, made on"
        " first run, for the embedded database; required with CONCERNBOT_DATABASE_URL.",
    )
    sqlite_synchronous: Synchronous = Field(
        DEFAULT_SYNCHRONOUS,
        description="The embedded database's flush at commit: NORMAL (a crashed bot loses"
        " nothing; a power cut may lose the last seconds of turns) or FULL (nothing lost, a"
        " slower turn). See the README, Speed and safety.",
    )
    content_dir: Path = Field(DEFAULT_CONTENT_DIR, description="Folder of the TOML content files.")
    log_level: str = Field("WARNING", description="DEBUG, INFO, WARNING or ERROR.")

    telegram_token: SecretStr | None = Field(None, description="The bot's token from BotFather.")
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API server (a self-hosted one, or tests')."
    )
    telegram_webhook_url: str | None = Field(
        None, description="Public HTTPS URL for webhook mode; unset: long polling."
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="Secret every webhook request must carry (required with a webhook)."
    )
    telegram_listen: str = Field("127.0.0.1", description="Webhook server's listen address.")
    telegram_port: int = Field(8443, description="Webhook server's port.")
    telegram_poll_timeout: int = Field(30, description="Long-poll timeout in seconds.")
    telegram_messages_per_second: float = Field(
        30.0, ge=0, description="Bot API messages a second in all (Telegram's limit); 0: no limit."
    )
    telegram_group_messages_per_minute: float = Field(
        20.0, ge=0, description="Messages a minute in one group (Telegram's limit); 0: no limit."
    )
    team_chat_id: int | None = Field(None, description="The Quality team's Telegram group.")
    team_members: str = Field("", description="Telegram user ids allowed to act, comma-separated.")
    team_email: str | None = Field(None, description="Where alert emails go (comma-separated).")
    smtp_url: SecretStr | None = Field(
        None, description="smtp://, smtp+starttls:// or smtps://user:password@host:port"
    )
    email_from: str = Field("concernbot@localhost", description="The alerts' From address.")
    team_reminder_hours: float = Field(8.0, description="Working hours before a reminder.")
    team_working_days: str = Field("mon-fri", description="The team's working days.")
    team_working_hours: str = Field("09:00-17:00", description="The team's working day.")

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def members(self) -> frozenset[int]:
        return frozenset(
            int(part) for part in self.team_members.replace(" ", "").split(",") if part
        )

    retention_months: int = Field(
        12, ge=1, description="Months after a concern is closed before it is anonymised."
    )
    draft_days: int = Field(30, ge=1, description="Days a draft may lie untouched; then deleted.")
    draft_warning_days: int = Field(
        3, ge=0, description="Days before a draft is deleted that its owner is told."
    )

    outbox_send_timeout: float = Field(
        30.0, description="Seconds one outbox send may take; a crashed send goes again after 3x."
    )
    outbox_retry_seconds: float = Field(5.0, description="First wait after a failed send.")
    telegram_request_timeout: float = Field(
        15.0, description="Seconds to wait for the Bot API before retrying a request."
    )

    @property
    def db_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir)

    @property
    def embedded(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def database_file(self) -> Path | None:
        """The embedded database's file, or None when the database is a server."""
        return None if self.database_url else self.data_dir / DATABASE_FILE

    @property
    def key_file(self) -> Path:
        """Where the embedded database's key is kept when CONCERNBOT_SECRET_KEY is unset."""
        return self.data_dir / KEY_FILE
