"""Run one external command off the UI's loop, bounded in time and output.

Used by Slurm's node source and by console actions (``scontrol``, ``scancel``).
The command runs in its own process group so that a timeout ends it *and* its
children (a wrapper script's ``sleep``), and the process is always reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_OUTPUT = 64 * 1024 * 1024
"""Bytes of standard output kept at most; more is an error."""
REAP_DRAIN = 5.0
"""Seconds to read what a killed process left in its pipes before reaping it."""
MAX_STDERR = 64 * 1024
"""Bytes of standard error kept (for its first line); the rest is read and dropped."""


@dataclass(frozen=True)
class CommandResult:
    """What a finished command said."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def error_line(self) -> str:
        """The command's own first line of complaint (stderr, else stdout), as text."""
        for stream in (self.stderr, self.stdout):
            for line in stream.decode("utf-8", "replace").splitlines():
                if line.strip():
                    return line.strip()[:300]
        return f"exit status {self.returncode}"


class CommandFailed(Exception):
    """The command could not run, or ran past its time: the message says which."""


async def run_command(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
    max_output: int = MAX_OUTPUT,
) -> CommandResult:
    """Run ``argv`` (no shell) and return its exit status and output.

    Raises :class:`CommandFailed` when it cannot start, runs over ``timeout``
    seconds (its whole process group is killed and reaped), or writes more than
    ``max_output`` bytes.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=None if env is None else dict(env),
        )
    except OSError as exc:
        raise CommandFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    finished = False
    try:
        async with asyncio.timeout(timeout):
            # Read as it comes, bounded: a flood is stopped at max_output, not held whole.
            out, err = await asyncio.gather(
                _read_capped(process.stdout, max_output, keep=True, name=argv[0]),
                _read_capped(process.stderr, MAX_STDERR, keep=False, name=argv[0]),
            )
            returncode = await process.wait()
            finished = True
    except TimeoutError:
        raise CommandFailed(f"{argv[0]} took over {timeout:g}s and was stopped") from None
    finally:
        if not finished:
            # Timeout, flood or cancellation (the engine's own timeout): the group too
            # (a child still holding the pipe after its shell exited), then reap it.
            # The wait is shielded so that a second cancellation cannot skip the reap.
            _kill_group(process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(_reap(process))
    return CommandResult(returncode, out, err)


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Wait for a killed process. Its pipes are read to their end first: asyncio's
    ``wait()`` returns only once every pipe is closed, and a pipe whose reader gave
    up (a flood past ``max_output``) is paused full and never sees its end."""
    with contextlib.suppress(TimeoutError, OSError, ValueError):
        async with asyncio.timeout(REAP_DRAIN):
            for stream in (process.stdout, process.stderr):
                while stream is not None and await stream.read(64 * 1024):
                    pass
    await process.wait()


async def _read_capped(
    stream: asyncio.StreamReader | None, limit: int, keep: bool, name: str
) -> bytes:
    """Read to EOF; past ``limit`` bytes fail (``keep``) or drop the rest (stderr)."""
    if stream is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(64 * 1024):
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        if keep and size > limit:
            raise CommandFailed(f"{name} wrote over {limit} bytes")
    return b"".join(chunks)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
