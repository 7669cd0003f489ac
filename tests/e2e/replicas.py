"""Several `concernbot telegram` processes in webhook mode on one PostgreSQL database, behind
one address (a round-robin proxy), against the Bot API test server: replicas, as an operator
would run them on several machines."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from botapi import BotApiServer
from botapi.user import ChatUser
from secret_keys import SECRET_ENV, keys_for

from bot.channels.telegram_runner import SECRET_HEADER
from storage.database import open_storage, upgrade
from storage.repositories import InboxItem, Storage

from .conftest import BotProcess
from .round_robin import RoundRobinProxy

SECRET = "replicas-test-secret"
HOOK = "/telegram/hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Cluster:
    server: BotApiServer
    proxy: RoundRobinProxy
    replicas: list[BotProcess]
    ports: list[int]
    storage: Storage

    def logs(self) -> str:
        return "".join(replica.logs() for replica in self.replicas)

    def inbox(self, user: ChatUser) -> list[InboxItem]:
        with self.storage.unit_of_work() as uow:
            return uow.inbox.for_chat(f"telegram:{user.chat_id}")

    def wait_until_handled(self, user: ChatUser, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            items = self.inbox(user)
            if len(items) >= count and all(i.handled_at is not None for i in items):
                return
            done = sum(i.handled_at is not None for i in items)
            assert time.monotonic() < deadline, f"{done} of {count} handled in {timeout} s"
            time.sleep(0.2)

    def post(self, replica: int, update: dict[str, object]) -> int:
        """POST an update straight to one replica, as Telegram's webhook would; the status."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports[replica]}{HOOK}",
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)


@contextlib.contextmanager
def cluster(
    server: BotApiServer, tmp_path: Path, postgres_url: str, count: int, **env: str
) -> Iterator[Cluster]:
    """`count` replicas started together, each with its own port, all with the same webhook
    address (the proxy), secret, database and key; ready once each has set the webhook."""
    upgrade(postgres_url, keys_for(postgres_url))
    ports = [free_port() for _ in range(count)]
    with RoundRobinProxy(ports) as proxy:
        common = {
            "CONCERNBOT_DATABASE_URL": postgres_url,
            "CONCERNBOT_TELEGRAM_WEBHOOK_URL": f"{proxy.url}{HOOK}",
            "CONCERNBOT_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "CONCERNBOT_TELEGRAM_LISTEN": "127.0.0.1",
            **SECRET_ENV,
            **env,
        }
        replicas = [
            BotProcess(
                server,
                tmp_path / f"replica-{n}" / "data",
                extra_env={**common, "CONCERNBOT_TELEGRAM_PORT": str(port)},
            )
            for n, port in enumerate(ports)
        ]
        storage = open_storage(postgres_url, keys_for(postgres_url))
        try:
            for replica in replicas:
                replica.data_dir.parent.mkdir(parents=True, exist_ok=True)
                replica.start()
            server.wait_for_request("setWebhook", count=count, timeout=60)
            yield Cluster(server, proxy, replicas, ports, storage)
        finally:
            for replica in replicas:  # all at once: each waits for its turns in hand
                if replica.process is not None and replica.process.poll() is None:
                    replica.process.send_signal(signal.SIGTERM)
            for replica in replicas:
                if replica.process is not None:
                    replica.stop()
            storage.close()
