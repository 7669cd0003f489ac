"""The privacy words say what the settings make true, in several configurations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import privacy_facts
from bot.settings import Settings
from dialogues.bundle import load_content
from dialogues.privacy import UnnamedColumn, privacy_words, sealed_fields
from storage.rotation import sealed_tables

PROMPTS = load_content().prompts


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]


def test_every_encrypted_column_is_named_and_only_those() -> None:
    sealed = {f"{t.name}.{c}" for t in sealed_tables() for c in t.columns}
    assert set(PROMPTS.privacy_fields) == sealed


def test_the_default_installation(tmp_path: Path) -> None:
    words = privacy_words(PROMPTS, privacy_facts(settings(tmp_path)))
    assert "one database file on the computer that runs this bot" in words
    assert "PostgreSQL" not in words
    assert "The key is a file in the same folder as the database" in words
    assert "untouched for 30 days is deleted; you are told 3 days before" in words
    assert "12 months after a concern is closed" in words
    assert "none is yet" in words and "Telegram group" not in words
    assert "Your name, your contact, " in words and "your description" in words
    assert "Fernet" in words and "/forgetme" in words


def test_a_server_with_a_key_in_the_settings_and_both_team_channels(tmp_path: Path) -> None:
    chosen = settings(
        tmp_path, database_url="postgresql+psycopg://bot@db/concerns",
        secret_key=SecretStr("k"), retention_months=6, draft_days=14, draft_warning_days=2,
        team_chat_id=-100, team_email="q@nhs.net", smtp_url=SecretStr("smtp://mail"),
    )  # fmt: skip
    words = privacy_words(PROMPTS, privacy_facts(chosen, terminal=True))
    assert "PostgreSQL database" in words and "one database file" not in words
    assert "CONCERNBOT_SECRET_KEY" in words and "a copy of the database alone" in words
    assert "untouched for 14 days is deleted; you are told 2 days before" in words
    assert "6 months after a concern is closed" in words and "12 months" not in words
    assert "in their Telegram group and by email" in words
    assert "`concernbot forget`" in words and "/forgetme" not in words


@pytest.mark.parametrize(
    ("values", "how"),
    [({"team_chat_id": -5}, "(in their Telegram group)"),
     ({"team_email": "q@nhs.net", "smtp_url": SecretStr("smtp://m")}, "(by email)"),
     ({"team_email": "q@nhs.net"}, "none is yet")],  # an address without a mail server
)  # fmt: skip
def test_who_reads_it_follows_the_team_channels(
    tmp_path: Path, values: dict[str, object], how: str
) -> None:
    assert how in privacy_words(PROMPTS, privacy_facts(settings(tmp_path, **values)))


def test_a_column_without_words_is_refused() -> None:
    with pytest.raises(UnnamedColumn, match=r"concerns\.new_secret"):
        sealed_fields(PROMPTS, ("concerns.description", "concerns.new_secret"))
