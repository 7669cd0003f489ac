"""`concernbot chat` as a running process: a test types lines one at a time, waits for what the
chat prints, and can break the database or kill the process in between."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

CONCERNBOT = str(Path(sys.executable).parent / "concernbot")
# A whole concern typed, one answer an item: the first half pauses after "how many are
# affected". A text answer ends with an empty line, so those items end in a newline.
DESCRIPTION = "On most night shifts the FY1s cover the wards alone with nobody to escalate to."
NAME = "Dr Sam Example"
ABOUT = [
    "FY1", "Addenbrookes, ward C9",  # the group, then the hospital typed with the ward
    "2", "often", "2 to 5",  # when it started, how often, learners affected
]  # fmt: skip
FIRST_HALF = ["3", DESCRIPTION + "\n", "yes", *ABOUT]  # the story read, and what it said checked
SECOND_HALF = [
    "2",  # patients could be harmed
    "2", "done",  # what is being done: a senior I can call on
    "4", "3",  # likely, moderate
    "1", "done", "3",  # told the supervisor; still unresolved
    "1", "done", "2",  # no reason to skip a level; send only if the advice says so
    "confidential", f"{NAME}, sam.example@nhs.net\n", "submit",
]  # fmt: skip


class LiveChat:
    """One chat process with its standard input a pipe, its output collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(  # our own console script
            [CONCERNBOT, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            cwd=cwd,
        )
        self._changed = threading.Condition()
        self._out = bytearray()
        self._err = bytearray()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, buffer), daemon=True)
            for stream, buffer in ((self.process.stdout, self._out),
                                   (self.process.stderr, self._err))
        ]  # fmt: skip
        for reader in self._readers:
            reader.start()

    def _collect(self, stream: IO[bytes], buffer: bytearray) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            with self._changed:
                buffer.extend(chunk)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def out(self) -> bytes:
        with self._changed:
            return bytes(self._out)

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        with self._changed:
            return bytes(self._err).decode("utf-8", errors="replace")

    def send(self, line: str) -> int:
        """Type a line; the length of the output before it, to find what answers it."""
        assert self.process.stdin is not None
        with self._changed:
            before = len(self._out)
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()
        return before

    def wait_for(self, text: str, after: int = 0, timeout: float = 60.0) -> None:
        """Until the output after byte `after` holds `text`; fails if the chat ends first."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        with self._changed:
            while wanted not in self._out[after:]:
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(f"the chat ended before {text!r}:\n{self.stderr}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {text!r} within {timeout} s:\n{self.stdout[-2000:]}")
                self._changed.wait(min(left, 0.5))

    def answer(self, line: str, then: str) -> None:
        """Type a line and wait for the question that shows it was taken."""
        self.wait_for(then, after=self.send(line))

    def close_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def finish(self, timeout: float = 120.0) -> int:
        """Close the input, wait for the process to end, and give its exit code."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.close_input()
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self) -> None:
        """SIGKILL: no handler, no flush, no clean-up runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for reader in self._readers:
            reader.join(30)
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
