"""The real `concernbot telegram` process against the Bot API test server, over the loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botapi import BotApiServer
from botapi.state import BotMessage
from botapi.user import ChatUser
from secret_keys import keys_for

from storage.database import open_storage, sqlite_url_for
from storage.repositories import Storage

CONCERNBOT = str(Path(sys.executable).parent / "concernbot")


@dataclass
class BotProcess:
    """The bot as an operating-system process that a test can start, kill and restart."""

    server: BotApiServer
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    log: Path | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONCERNBOT_TELEGRAM_TOKEN": self.server.token,
            "CONCERNBOT_TELEGRAM_API_URL": self.server.url,
            "CONCERNBOT_DATA_DIR": str(self.data_dir),
            "CONCERNBOT_DATABASE_URL": "",
            "CONCERNBOT_TELEGRAM_POLL_TIMEOUT": "1",
            "CONCERNBOT_LOG_LEVEL": "INFO",
            **self.extra_env,
        }

    def start(self) -> BotProcess:
        self.log = (
            self.data_dir.parent / f"bot-{len(list(self.data_dir.parent.glob('bot-*.log')))}.log"
        )
        self.process = subprocess.Popen(  # our own console script
            [CONCERNBOT, "telegram"],
            env=self.env(),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def kill(self) -> None:
        """kill -9: no clean-up, no goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def logs(self) -> str:
        return "".join(
            p.read_text(encoding="utf-8") for p in sorted(self.data_dir.parent.glob("bot-*.log"))
        )

    def storage(self) -> Storage:
        url = sqlite_url_for(self.data_dir)
        return open_storage(url, keys_for(url))


@pytest.fixture
def server() -> Iterator[BotApiServer]:
    with BotApiServer() as running:
        yield running


@pytest.fixture
def bot(server: BotApiServer, tmp_path: Path) -> Iterator[BotProcess]:
    process = BotProcess(server, tmp_path / "data").start()
    try:
        yield process
    finally:
        process.stop()


def after(
    user: ChatUser, action: Callable[[], object], expect: str, timeout: float = 20
) -> BotMessage:
    """Do `action`, then wait for a bot message sent or edited after it showing `expect` in its
    text or on a button."""
    with user.state.cond:
        since = user.state.seq
    action()

    def check() -> BotMessage | None:
        for record in sorted(user._bot_records(), key=lambda r: -r.seq):
            snapshot = record.snapshot()
            shown = [snapshot.text, *snapshot.labels]
            if record.seq > since and any(expect in part for part in shown):
                return snapshot
        return None

    try:
        found: BotMessage = user.state.wait_until(
            check, timeout, f"a message containing {expect!r}"
        )
    except AssertionError:
        texts = [m.text[:100] for m in user.messages()[-5:]]
        raise AssertionError(
            f"no new message containing {expect!r}; last messages: {texts}"
        ) from None
    return found
