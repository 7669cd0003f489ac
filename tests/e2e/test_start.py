"""What `concernbot telegram` loads to start: no reports, documents, pictures or migrations.

The real command runs against the Bot API test server until its first getUpdates, is
stopped, and says on its way out which of the heavy libraries it had imported. Each is
loaded when first used (a /stats picture, a QCA document, an export) and Alembic only when
the database is not at the newest migration, as on the very first start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botapi import BotApiServer

pytestmark = pytest.mark.e2e
HEAVY = ("matplotlib", "numpy", "docx", "openpyxl", "alembic")
REPORTING = f"""
import atexit, sys
atexit.register(lambda: print("loaded:", *[m for m in {HEAVY!r} if m in sys.modules]))
from bot.cli import main
sys.exit(main(["telegram"]))
"""


def loaded_at_start(server: BotApiServer, data_dir: Path, team: bool) -> list[str]:
    """Start the bot, wait for its first long poll, stop it: the heavy modules it held."""
    env = {
        **os.environ,
        "CONCERNBOT_TELEGRAM_TOKEN": server.token,
        "CONCERNBOT_TELEGRAM_API_URL": server.url,
        "CONCERNBOT_DATA_DIR": str(data_dir),
        "CONCERNBOT_DATABASE_URL": "",
        "CONCERNBOT_SECRET_KEY": "",
        "CONCERNBOT_TELEGRAM_POLL_TIMEOUT": "1",
        "CONCERNBOT_TEAM_CHAT_ID": "-1009000" if team else "",
        "CONCERNBOT_TEAM_MEMBERS": "9001" if team else "",
    }
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-c", REPORTING],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # A request is logged when it ends: the last run's long poll may be logged after it
        # stopped. This run's is the first to have come in since it started.
        server.state.wait_until(
            lambda: [r for r in server.requests("getUpdates") if r.received >= started] or None,
            60,
            "this run's first getUpdates",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    lines = [line for line in output.splitlines() if line.startswith("loaded:")]
    assert lines, output
    return lines[-1].split()[1:]


def test_a_start_loads_no_report_document_picture_or_migration_library(
    server: BotApiServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"

    # The first start creates the database: migrating it needs Alembic.
    assert loaded_at_start(server, data_dir, team=False) == ["alembic"]
    # Every later start finds it at the newest migration.
    assert loaded_at_start(server, data_dir, team=False) == []
    assert loaded_at_start(server, data_dir, team=True) == []
