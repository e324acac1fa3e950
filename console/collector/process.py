"""Start the collector as a child process and find its relay.

The UI's event loop then only draws and merges what changed; a slow collection
cycle (a thousand nodes, a hung plugin that blocks its loop) delays data, never a
key. A thread would not do: the collector's Python work would hold the GIL.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from console.collector.main import READY_PREFIX
from console.serve.run import write_token

READY_TIMEOUT = 60.0
"""Seconds the collector may take to start listening (imports, a large simulator)."""


class CollectorError(Exception):
    """The collector did not start; the message is its own last line of complaint."""


@dataclass
class Collector:
    """A running collector: where its relay is, and its token."""

    url: str
    token: str
    process: subprocess.Popen[bytes]


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffered = b""
    while b"\n" not in buffered:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CollectorError(f"the collector did not start within {timeout:g}s")
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait()
                reason = _last_line(log) or f"exit status {process.returncode}"
                raise CollectorError(reason.removeprefix("watchfloor: "))
            buffered += chunk
    line = buffered.split(b"\n", 1)[0].decode("utf-8", "replace")
    if not line.startswith(READY_PREFIX):
        raise CollectorError(f"unexpected first line from the collector: {line[:80]!r}")
    return line.removeprefix(READY_PREFIX)


@contextlib.contextmanager
def running_collector(flags: list[str], timeout: float = READY_TIMEOUT) -> Iterator[Collector]:
    """A collector run with these ``watchfloor collector`` flags, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="watchfloor-collector-") as secret_dir:
        token, token_file = write_token(Path(secret_dir))
        log = Path(secret_dir) / "collector.log"
        argv = [sys.executable, "-m", "console.cli", "collector",
                "--token-file", str(token_file), *flags]  # fmt: skip
        with log.open("wb") as errors:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                # Its own process group, so a Ctrl+C reaches the UI only; the UI's session,
                # so the kernel's autogroup scheduling weighs the two as one. In a session of
                # its own the collector's group won the core the terminal's input thread woke
                # on (that thread's group had almost no weight there) for 100-160 ms: a key's
                # outlier at 1,000 nodes. In one group the input thread waits a time slice.
                close_fds=True, process_group=0,
            )  # fmt: skip
        try:
            url = _wait_ready(process, log, timeout)
            yield Collector(url, token, process)
        finally:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()  # the collector stops when its stdin closes
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
