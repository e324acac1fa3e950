"""Fabric tool runs are bounded: killed with their children when late, refused when flooding."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from console.api import SourceError
from watchfloor_fabric.command import run_tool


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): it has exited all the same
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def test_a_tool_past_its_timeout_is_killed_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"^sh took over 0.5s \(killed\)$"):
        await run_tool(["sh", "-c", script], timeout=0.5, max_bytes=1024)
    assert time.monotonic() - started < 5
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child)


async def test_a_flood_of_output_is_refused_not_truncated() -> None:
    with pytest.raises(SourceError, match=r"^yes printed over 64 KiB \(killed\)$"):
        await run_tool(["yes", "a line of output"], timeout=10, max_bytes=64 * 1024)


async def test_failure_and_a_missing_tool_say_why() -> None:
    with pytest.raises(SourceError, match=r"^sh exited 3: no fabric here$"):
        await run_tool(["sh", "-c", "echo 'no fabric here' >&2; exit 3"], 5, 1024)
    with pytest.raises(SourceError, match=r"^cannot run /nonexistent/ibnetdiscover: "):
        await run_tool(["/nonexistent/ibnetdiscover"], 5, 1024)
    assert await run_tool(["echo", "ok"], 5, 1024) == "ok\n"
