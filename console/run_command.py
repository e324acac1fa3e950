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
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(process.pid)
        await process.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise CommandFailed(f"{argv[0]} took over {timeout:g}s and was stopped") from None
    if len(out) > max_output:
        raise CommandFailed(f"{argv[0]} wrote over {max_output} bytes")
    return CommandResult(process.returncode or 0, out, err[: 64 * 1024])


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
