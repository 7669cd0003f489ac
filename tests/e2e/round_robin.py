"""A round-robin HTTP reverse proxy on the loopback: one webhook address in front of several
bot replicas, as a load balancer would stand in front of several machines.

Each POST goes to the next replica in turn, with its headers (the webhook secret) and body,
and the replica's answer comes back as it was. A replica that refuses the connection (it
was killed) is passed over for the next one, as a load balancer's health check would; if
none answers, 502, and Telegram delivers the update again later.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class RoundRobinProxy:
    """Spreads POSTs over `ports` on 127.0.0.1; `served` records (port, update_id, status)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = list(ports)
        self.served: list[tuple[int, int | None, int]] = []
        self._turns = itertools.count()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k in FORWARDED if (v := self.headers.get(k)) is not None}
                status, answer = proxy.forward(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads `served`."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self._lock:
            first = next(self._turns)
        for turn in range(first, first + len(self.ports)):
            port = self.ports[turn % len(self.ports)]
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except OSError:
                continue  # that replica is down: the next one
            finally:
                connection.close()
            with self._lock:
                self.served.append((port, _update_id(body), response.status))
            return response.status, answer
        return 502, b""

    def replicas_of(self, update_ids: set[int]) -> set[int]:
        """The ports that answered 200 to any of these updates."""
        with self._lock:
            return {p for p, u, status in self.served if u in update_ids and status == 200}


def _update_id(body: bytes) -> int | None:
    try:
        update = json.loads(body)
    except ValueError:
        return None
    found = update.get("update_id") if isinstance(update, dict) else None
    return found if isinstance(found, int) else None
