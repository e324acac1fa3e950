"""Commands run by sources: timeouts and cancellations kill the whole process group
and reap it, with real slow processes (a shell with children of its own)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.core.run_command import CommandFailed, run_command

SLOW = 'echo $$ > "$1/shell.pid"; sleep 60 & echo $! > "$1/child.pid"; wait'
"""A shell that starts a child and waits on it: killing the shell alone orphans the child."""


def _gone(pid: int) -> bool:
    """The process no longer runs (exited; a zombie waiting for init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _all_gone(*pids: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in pids):
            return True
        time.sleep(0.02)
    return False


def _pids(folder: Path) -> tuple[int, int]:
    return int((folder / "shell.pid").read_text()), int((folder / "child.pid").read_text())


async def test_a_timeout_kills_the_group_and_reaps_the_shell(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(CommandFailed, match=r"^sh took over 0.5s and was stopped$"):
        await run_command(["sh", "-c", SLOW, "sh", str(tmp_path)], 0.5)
    assert time.monotonic() - started < 5
    shell, child = _pids(tmp_path)
    assert not Path(f"/proc/{shell}").exists()  # reaped by us, not left a zombie
    assert _all_gone(child)  # the orphan-to-be was killed with its group


async def test_a_cancelled_poll_kills_the_group_too(tmp_path: Path) -> None:
    task = asyncio.create_task(run_command(["sh", "-c", SLOW, "sh", str(tmp_path)], 60))
    # Until the child's pid is written whole (the file exists a moment before its
    # number): a loaded machine can take seconds to start the shell.
    child_pid = tmp_path / "child.pid"
    deadline = time.monotonic() + 30
    while not (child_pid.exists() and child_pid.read_text().endswith("\n")):
        assert time.monotonic() < deadline, "the shell never started its child"
        await asyncio.sleep(0.02)
    task.cancel()  # what the engine's own timeout does
    with pytest.raises(asyncio.CancelledError):
        await task
    shell, child = _pids(tmp_path)
    assert not Path(f"/proc/{shell}").exists()
    assert _all_gone(child)


async def test_output_bounded_exit_status_and_stderr(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match=r"^sh wrote over 1000 bytes$"):
        await run_command(["sh", "-c", "yes"], 10, max_output=1000)  # stopped, not held whole
    result = await run_command(
        ["sh", "-c", "echo out; echo 'first\nsecond' >&2; exit 3"], 10, max_output=100
    )
    assert (result.returncode, result.stdout, result.error_line) == (3, b"out\n", "first")
    with pytest.raises(CommandFailed, match=f"cannot run {tmp_path}/nope"):
        await run_command([str(tmp_path / "nope")], 10, max_output=100)


def test_a_slow_squeue_leaves_no_traceback_and_no_child(tmp_path: Path) -> None:
    squeue = tmp_path / "squeue"
    squeue.write_text(f"#!/bin/sh\n{SLOW.replace('$1', str(tmp_path))}\n")
    squeue.chmod(squeue.stat().st_mode | stat.S_IXUSR)
    program = f"""
import asyncio
from watchfloor_jobs import slurm
slurm.SQUEUE_TIMEOUT = 0.5
async def main():
    try:
        await slurm.SlurmSource({str(squeue)!r}, 1.0).poll()
    except slurm.SourceError as exc:
        print("reason:", exc)
asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", program], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONASYNCIODEBUG": "0"},
    )  # fmt: skip
    assert done.stdout.strip() == f"reason: {squeue} took over 0.5s and was stopped"
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert _all_gone(*_pids(tmp_path))


async def test_a_flood_past_the_cap_is_reaped_though_its_pipe_is_full() -> None:
    """asyncio's wait() returns only once every pipe is closed; a pipe left full when
    its reader gave up was paused and never closed (the test run hung here)."""
    flood = ["sh", "-c", "head -c 4000000 /dev/zero; sleep 60"]
    for _ in range(5):  # the pause was a race, lost 26 times in 30
        with pytest.raises(CommandFailed, match="wrote over 1000 bytes"):
            await asyncio.wait_for(run_command(flood, 30, max_output=1000), 20)
