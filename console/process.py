"""Running a command from a source (``squeue``, ``perfquery``): bounded in time and
output, and never leaving a process behind.

The command runs in its own session (process group). On a timeout, a cancellation
(the engine's own timeout) or too much output, the whole group is killed — a
shell script's children too, not only the shell — and the process is reaped
before this returns, so no child outlives the poll and no transport is left for
the garbage collector to close after the event loop is gone (the ``Exception
ignored … Event loop is closed`` tracebacks).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

MAX_STDERR_BYTES = 64 * 1024
"""Enough of stderr for its first line; the rest is read and dropped."""


class CommandError(Exception):
    """The command could not be run, ran too long or said too much (the message says which)."""


@dataclass(frozen=True)
class CommandResult:
    """What a finished command returned."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def first_error_line(self) -> str:
        """The first line of stderr, for a one-line reason."""
        lines = self.stderr.decode("utf-8", "replace").strip().splitlines()
        return lines[0] if lines else ""


async def _read_capped(stream: asyncio.StreamReader | None, limit: int, keep: bool) -> bytes:
    """Read to EOF; past ``limit`` bytes either stop (``keep``) with an error or drop the rest."""
    if stream is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(64 * 1024):
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        if keep and size > limit:
            raise CommandError(f"output larger than {limit:,} bytes")
    return b"".join(chunks)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: pgid == pid
    with contextlib.suppress(ProcessLookupError):
        process.kill()  # should the group be gone but the process not yet reaped


async def run_command(argv: Sequence[str], timeout: float, max_output: int) -> CommandResult:
    """Run ``argv`` (no shell) and return its exit status and output.

    Raises :class:`CommandError` when it cannot start, takes over ``timeout``
    seconds or writes over ``max_output`` bytes; the process group is killed and
    reaped in every case, a cancellation included.
    """
    name = argv[0] if argv else "?"
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise CommandError(f"cannot run {name}: {exc.strerror or exc}") from None
    finished = False
    try:
        async with asyncio.timeout(timeout):
            out, err = await asyncio.gather(
                _read_capped(process.stdout, max_output, keep=True),
                _read_capped(process.stderr, MAX_STDERR_BYTES, keep=False),
            )
            returncode = await process.wait()
            finished = True
    except TimeoutError:
        raise CommandError(f"{name} took over {timeout:g}s") from None
    except CommandError as exc:
        raise CommandError(f"{name}: {exc}") from None
    finally:
        if not finished:
            # The group too: a child still holding the pipe after its shell exited.
            _kill_group(process)
            # Reap it even when this task is being cancelled: a shielded wait
            # finishes on its own should a second cancellation arrive.
            await asyncio.shield(process.wait())
    return CommandResult(returncode, out, err)
