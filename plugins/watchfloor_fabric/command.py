"""Run a diagnostic tool with its output bounded in size and its run bounded in time.

The fabric tools (``ibnetdiscover``, ``perfquery``) talk to every switch: on a sick
fabric they hang on MAD timeouts. Each run gets its own process group, so a tool
that outlives its time is killed with anything it started, and is waited for (no
zombies). Output past the cap is an error, never a silent truncation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from console.api import SourceError, plain

MAX_ERROR_BYTES = 4096
"""What is kept of stderr for the error message."""


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return b"".join(chunks), False
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def run_tool(argv: list[str], timeout: float, max_bytes: int) -> str:
    """The tool's stdout as text; SourceError naming the tool on failure, timeout or flood."""
    tool = os.path.basename(argv[0])
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: killed whole on timeout
        )
    except OSError as exc:
        raise SourceError(f"cannot run {plain(argv[0], 120)}: {exc.strerror or exc}") from None
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout, process.stderr

    async def read_out() -> tuple[bytes, bool]:
        out, flooded = await _read_capped(stdout, max_bytes)
        if flooded:
            _kill(process)  # at once: it would block on a full pipe, and stderr never end
        return out, flooded

    try:
        async with asyncio.timeout(timeout):
            (out, flooded), (err, _) = await asyncio.gather(
                read_out(), _read_capped(stderr, MAX_ERROR_BYTES * 16)
            )
            await process.wait()
    except TimeoutError:
        _kill(process)
        await process.wait()
        raise SourceError(f"{tool} took over {timeout:g}s (killed)") from None
    except asyncio.CancelledError:
        _kill(process)
        with contextlib.suppress(Exception):
            await asyncio.shield(process.wait())
        raise
    if flooded:
        raise SourceError(f"{tool} printed over {max_bytes // 1024} KiB (killed)")
    if process.returncode != 0:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        useful = [line for line in lines if "sim_connect" not in line] or lines
        why = plain(useful[-1], 160) if useful else "no message"
        raise SourceError(f"{tool} exited {process.returncode}: {why}")
    return out.decode("utf-8", "replace")
