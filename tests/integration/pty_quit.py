"""Waiting for a console on a pseudo-terminal to quit, reading as a terminal does."""

from __future__ import annotations

import os
import select
import subprocess
import time


def wait_reading(process: subprocess.Popen[bytes], main: int, timeout: float = 30.0) -> bytes:
    """What the console wrote until it ended (AssertionError after ``timeout``).

    Keep reading while it quits: a console whose last frames fill the pseudo-terminal's
    buffer waits on that write until someone reads (a test that only waited timed out).
    """
    seen = b""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        assert time.monotonic() < deadline, f"still running {timeout:.0f} s on: {seen[-2000:]!r}"
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                seen += os.read(main, 65536)
            except OSError:  # the console closed its end
                break
    process.wait(timeout=timeout)
    return seen
