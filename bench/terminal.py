"""Run a terminal program on a pseudo-terminal of a given size, reading its output.

Shared by the benchmarks: the program sees a real terminal (as in tmux or over
SSH), and its output is drained on a thread so it never blocks on a full pty.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time


def _take_terminal() -> None:
    """In the child, after its ``setsid``: standard input's pty becomes its controlling
    terminal (``/dev/tty``, window-size signals, job control)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProgram:
    """A program on its own pseudo-terminal."""

    def __init__(self, argv: list[str], columns: int = 120, lines: int = 40) -> None:
        self.main, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns),
               "LINES": str(lines), "XDG_CONFIG_HOME": "/nonexistent"}  # fmt: skip
        self.started = time.perf_counter()
        # In a session of its own with the pty as its controlling terminal, as a shell
        # under tmux or sshd runs: the kernel's autogroup scheduling then weighs the
        # program (and what it starts in its session) apart from whatever else runs
        # here, as it would be in use.
        self.process = subprocess.Popen(
            argv, stdin=secondary, stdout=secondary, stderr=secondary, env=env,
            close_fds=True, start_new_session=True, preexec_fn=_take_terminal,
        )  # fmt: skip
        os.close(secondary)
        self.output = bytearray()
        """Everything the program wrote so far."""
        self.bytes_written = 0
        self.changed = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.main, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.changed:
                self.bytes_written += len(chunk)
                self.output += chunk[-200_000:]
                del self.output[:-400_000]
                self.changed.notify_all()

    def wait_for(self, *needles: bytes, timeout: float = 60.0) -> float:
        """Seconds from start until every needle has appeared in the output."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(n in self.output for n in needles):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{needles!r} never appeared")
                self.changed.wait(left)
            return time.perf_counter() - self.started

    def send(self, data: bytes) -> None:
        os.write(self.main, data)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        os.close(self.main)
