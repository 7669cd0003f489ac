"""`concernbot doctor`: the outbox at a glance, as the person running the bot reads it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from secret_keys import keys_for

from storage.database import open_storage, sqlite_url_for, upgrade
from storage.repositories import OutboxItem

CONCERNBOT = str(Path(sys.executable).parent / "concernbot")
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def doctor(data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONCERNBOT, "doctor"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**{k: v for k, v in os.environ.items() if k != "CONCERNBOT_TEAM_CHAT_ID"},
             "CONCERNBOT_DATA_DIR": str(data), "CONCERNBOT_DATABASE_URL": "",
             "CONCERNBOT_SMTP_URL": "", "CONCERNBOT_TEAM_EMAIL": "", **env},
    )  # fmt: skip


def test_doctor_counts_what_waits_and_lists_what_failed_for_good(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys_for(sqlite_url_for(data))  # the key an earlier run made (its first run says so)
    healthy = doctor(data, CONCERNBOT_TEAM_CHAT_ID="-100")
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.splitlines() == [
        "outbox: 0 pending, 0 waiting for a channel, 0 failed permanently"
    ]

    url = sqlite_url_for(data)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    with storage.unit_of_work() as uow:
        uow.outbox.add(OutboxItem.new("team_alert", {}, T0, "QC-AAAA-AAAA"))
        uow.outbox.add(OutboxItem.new("team_email", {}, T0, "QC-AAAA-AAAA"))
        dead = uow.outbox.add(OutboxItem.new("team_alert", {}, T0, "QC-BBBB-BBBB"))
        sent = uow.outbox.add(OutboxItem.new("team_alert", {}, T0, "QC-CCCC-CCCC"))
        uow.outbox.mark_dead(dead, "BadRequest.MessageTooLong")
        uow.outbox.mark_sent(sent, T0, "7")
    storage.close()

    unwell = doctor(data, CONCERNBOT_TEAM_CHAT_ID="-100")
    assert unwell.returncode == 1, unwell.stderr
    assert unwell.stdout.splitlines() == [
        "outbox: 1 pending, 1 waiting for a channel, 1 failed permanently",
        "  waiting: 1 team_email (no channel for it is set up: see the README)",
        "  failed: QC-BBBB-BBBB team_alert BadRequest.MessageTooLong (1 try)",
    ]


def test_doctor_counts_the_alerts_that_wait_for_a_team_channel(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = sqlite_url_for(data)
    upgrade(url, keys_for(url))
    storage = open_storage(url, keys_for(url))
    with storage.unit_of_work() as uow:
        for reference in ("QC-AAAA-AAAA", "QC-BBBB-BBBB"):
            uow.outbox.add(OutboxItem.new("team_waiting", {}, T0, reference))
        handed = uow.outbox.add(OutboxItem.new("team_waiting", {}, T0, "QC-CCCC-CCCC"))
        uow.outbox.mark_sent(handed, T0, "team_alert:9")
    storage.close()

    unset = doctor(data)  # no team chat, no email
    assert unset.returncode == 0, unset.stderr  # waiting is not failing
    assert unset.stdout.splitlines() == [
        "outbox: 0 pending, 2 waiting for a channel, 0 failed permanently",
        "  waiting: 2 alert(s) for the Quality team, saved while no team channel is set up:"
        " they go to the team once one is (see the README)",
    ]
    for channel in ({"CONCERNBOT_TEAM_CHAT_ID": "-100"},
                    {"CONCERNBOT_SMTP_URL": "smtp://localhost:25",
                     "CONCERNBOT_TEAM_EMAIL": "quality@example.nhs.uk"}):  # fmt: skip
        set_up = doctor(data, **channel)
        assert set_up.returncode == 0, set_up.stderr
        assert set_up.stdout.splitlines() == [
            "outbox: 2 pending, 0 waiting for a channel, 0 failed permanently",
            "  pending: 2 alert(s) for the Quality team, saved before a team channel was set"
            " up: the bot hands them on when it runs",
        ]
