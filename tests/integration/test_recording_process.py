"""A recording made by another process: killed with SIGKILL, it opens and answers
``snapshot --at`` and ``explain --at`` exactly as that console saw it then."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from console.recording import Recording, RecordingError
from console.recording.layout import demo_recording
from tests.integration.pty_quit import wait_reading
from tests.integration.test_cli import run

ONSET = 2.0
CONFIG = "interval: 0.1\nthresholds: {stall_seconds: 1.0}\n"
"""A tick is a tenth of a second (of the simulator's clock too): the stall begins at
the 20th cycle and counts from the 30th."""


def _record_then_kill(state: Path, config: Path) -> tuple[list[dict[str, Any]], float]:
    """Cycles the child reported (time, wall, document) and when it was killed."""
    env = {**os.environ, "XDG_STATE_HOME": str(state), "XDG_CONFIG_HOME": "/nonexistent"}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.record_child", str(ONSET), str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    try:
        assert child.stdout is not None
        while len(lines) < 60:  # past the onset and the 20 s a stall takes to count
            assert time.monotonic() < deadline, "the recording console did not get going"
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "child died"
            lines.append(json.loads(line))
    finally:
        child.send_signal(signal.SIGKILL)
        killed = time.time()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return lines, killed


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat()


@dataclass
class Recorded:
    path: Path
    at: tuple[str, ...]
    lines: list[dict[str, Any]]
    killed: float


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """One recording by another process, killed with SIGKILL, for every test here."""
    tmp_path = tmp_path_factory.mktemp("recorded")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    lines, killed = _record_then_kill(tmp_path, config)
    path = tmp_path / demo_recording().relative_to(Path(os.environ["XDG_STATE_HOME"]))
    return Recorded(path, ("--recording", str(path), "--config", str(config)), lines, killed)


def test_a_killed_console_loses_at_most_the_last_seconds_and_answers_as_it_saw(
    recorded: Recorded,
) -> None:
    path, at, lines, killed = recorded.path, recorded.at, recorded.lines, recorded.killed
    with Recording(path) as recording:
        recorded = set(recording.times())
        span = recording.span()
    assert span is not None
    for line in lines:
        if line["wall"] < killed - 2.0:
            assert line["time"] in recorded, "a cycle older than two seconds was lost"
    # Field by field, a moment before the onset and one after the stall counted.
    by_time = {line["time"]: line["document"] for line in lines}
    before = min(t for t in by_time if t >= lines[0]["time"] + ONSET / 2)
    after = max(t for t in by_time if t in recorded)
    for when in (before, after):
        answer = run("snapshot", "--at", _iso(when), *at, "--format", "json")
        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout) == json.loads(json.dumps(by_time[when])), when
    injected = by_time[after]["sim"]["injected"]
    stalled = run("explain", "4711", "--at", _iso(after), *at, "--format", "json")
    assert stalled.returncode == 0, stalled.stderr
    chain = json.loads(stalled.stdout)
    assert chain["stalled"] is True and chain["since"] == injected["onset"]
    assert chain["causes"][0]["ref"] == injected["link"]
    running = run("explain", "4711", "--at", _iso(before), *at)
    assert running.returncode == 0, running.stderr
    assert "not stalled" in running.stdout and "No suspect found." in running.stdout
    text = run("explain", "4711", "--at", _iso(after), *at)
    assert "STALLED since" in text.stdout
    assert injected["link"] in text.stdout


def test_export_is_one_file_that_replays_and_answers(recorded: Recorded, tmp_path: Path) -> None:
    out = tmp_path / "bug-report.sqlite"
    last = recorded.lines[-1]["time"]
    done = run("recording", "export", str(out), "--recording", str(recorded.path),
               "--since", _iso(last - 2.0))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.is_file() and not Path(f"{out}-wal").exists()
    with Recording(out) as recording:
        span = recording.span()
        assert span is not None and span[0] <= last - 2.0  # from the keyframe before
    info = run("recording", "info", "--recording", str(out))
    assert info.returncode == 0 and "frames" in info.stdout, info.stderr
    assert "job-stalled" in info.stdout  # the incident went with it
    again = run("recording", "export", str(out), "--recording", str(recorded.path))
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("snapshot", "--at", "-1m", "--recording", "/nonexistent/rec"), "no recording there"),
        (("explain", "4711", "--at", "soon"), "is not a time"),
        (("snapshot", "--at", "1970-01-01T00:00:00+00:00"), "nothing recorded at or before"),
        (("replay", "/nonexistent/rec"), "no recording there"),
        (("replay", "REC", "--speed", "-1"), "--speed must be"),
        (("explain", "9999", "--at", "-0s"), "no job job/9999 then"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    recorded: Recorded, args: tuple[str, ...], message: str
) -> None:
    args = tuple(str(recorded.path) if a == "REC" else a for a in args)
    if args[0] != "replay" and "--recording" not in args:
        args = (*args, "--recording", str(recorded.path))
    answer = run(*args)
    assert answer.returncode == 2, answer.stderr
    assert message in answer.stderr and "Traceback" not in answer.stderr
    assert len(answer.stderr.strip().splitlines()) == 1


def _demo_on_a_terminal(state: Path, *flags: str) -> tuple[int, bytes]:
    """``watchfloor demo`` as a user starts it, on a pseudo-terminal: until its
    recording holds three frames (or, with ``--no-record``, it has drawn), then q."""
    import pty
    import select

    main, secondary = pty.openpty()
    env = {**os.environ, "XDG_STATE_HOME": str(state), "XDG_CONFIG_HOME": "/nonexistent",
           "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "demo", "--interval", "0.2", *flags],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    recording = state / "watchfloor" / "demo-recording"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert time.monotonic() < deadline, seen[-2000:]
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                seen += os.read(main, 65536)
            if b"node01" not in seen:
                continue
            if "--no-record" in flags:
                break
            if (recording / "frames.sqlite").exists():
                try:
                    with Recording(recording) as opened:
                        if len(opened.times()) >= 3:
                            break
                except RecordingError:
                    continue  # the console is still making its tables

        os.write(main, b"q")
        seen += wait_reading(process, main)
        code = process.returncode
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        os.close(main)
    return code, seen


def test_the_console_records_by_default_and_not_with_no_record(tmp_path: Path) -> None:
    code, seen = _demo_on_a_terminal(tmp_path / "on")
    assert code == 0 and b"Traceback" not in seen
    with Recording(tmp_path / "on" / "watchfloor" / "demo-recording") as recording:
        assert len(recording.times()) >= 3
    code, seen = _demo_on_a_terminal(tmp_path / "off", "--no-record")
    assert code == 0 and b"Traceback" not in seen
    assert not (tmp_path / "off" / "watchfloor").exists()
