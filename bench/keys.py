"""Key-to-pane latency of the real console at fleet size, on a pseudo-terminal.

Starts ``watchfloor demo --nodes N`` on a 120x40 pty (as in tmux), waits for the
first frame with data, then presses g, Esc, j, Esc, f, Esc, p, Esc, s, Esc in
rounds while the data keeps refreshing, and times each key from the moment it is
written to the moment its pane's title is drawn. Prints first frame, p50 and p95 per
key and overall, the CPU the console used (all its processes: a collector too)
and their RSS, in all and per process.

    python bench/keys.py --nodes 100 1000 4000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from terminal import PtyProgram

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
KEYS: list[tuple[str, bytes, bytes]] = [
    ("g", b"g", b"Overview \xe2\x80\xba GPUs"),
    ("Esc", b"\x1b", b"Nodes \xc3\x97 GPUs"),
    ("j", b"j", b"Overview \xe2\x80\xba Jobs"),
    ("Esc", b"\x1b", b"Nodes \xc3\x97 GPUs"),
    ("f", b"f", b"Overview \xe2\x80\xba Fabric"),
    ("Esc", b"\x1b", b"Nodes \xc3\x97 GPUs"),
    ("p", b"p", b"Overview \xe2\x80\xba Power"),
    ("Esc", b"\x1b", b"Nodes \xc3\x97 GPUs"),
    ("s", b"s", b"Overview \xe2\x80\xba Security"),
    ("Esc", b"\x1b", b"Nodes \xc3\x97 GPUs"),
]
"""(label, bytes to send, what the drawn pane shows)."""


def visible_since(program: PtyProgram, mark: int) -> bytes:
    """What the program wrote after ``mark`` bytes, without escape sequences."""
    with program.changed:
        new = program.bytes_written - mark
        chunk = bytes(program.output[-new:]) if new > 0 else b""
    return ANSI.sub(b"", chunk)


def wait_after(program: PtyProgram, mark: int, needle: bytes, timeout: float) -> float | None:
    """Seconds until ``needle`` is drawn after ``mark``, or None at the timeout."""
    began = time.perf_counter()
    deadline = began + timeout
    while True:
        if needle in visible_since(program, mark):
            return time.perf_counter() - began
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        with program.changed:
            program.changed.wait(min(left, 0.005))


FRAME = b"Nodes \xc3\x97 GPUs"
"""The overview's grid title: the console's frame is drawn, with data or not."""
DATA = b"RUNNING"
"""A job row judged running: the first frame with data (jobs come only from a collection;
a running job the console has no pace for yet reads MEASURING, not RUNNING)."""
WAITING_KEYS: list[tuple[bytes, bytes]] = [(b"?", b"Keys"), (b"\x1b", FRAME)]
"""Pressed while the first collection runs: help, and back (both must be answered)."""


def keys_while_waiting(program: PtyProgram, timeout: float) -> dict[str, object]:
    """Presses ``?`` and Esc until the first frame with data (a key a second), timing
    each; returns the first frame's time and those keys' p50 and max."""
    waits: list[float] = []
    deadline = time.perf_counter() + timeout
    while True:
        with program.changed:
            data = DATA in ANSI.sub(b"", bytes(program.output))
        if data:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no first frame with data in {timeout:.0f} s")
        for key, needle in WAITING_KEYS:
            with program.changed:
                mark = program.bytes_written
            program.send(key)
            took = wait_after(program, mark, needle, 30)
            waits.append(30.0 if took is None else took)
        time.sleep(1.0)
    found: dict[str, object] = {"first_frame_s": round(time.perf_counter() - program.started, 2)}
    if waits:
        found["waiting_keys"] = len(waits)
        found["waiting_key_p50_ms"] = round(1000 * statistics.median(waits), 1)
        found["waiting_key_max_ms"] = round(1000 * max(waits), 1)
    return found


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total / 2**20


def rss_by_process(processes: list[psutil.Process]) -> dict[str, float]:
    """RSS of each console process: the UI (the one started) and its collector."""
    found: dict[str, float] = {}
    for index, process in enumerate(processes):
        with contextlib.suppress(psutil.NoSuchProcess):
            collector = "collector" in process.cmdline()
            name = "ui" if index == 0 else "collector" if collector else "other"
            found[name] = round(found.get(name, 0.0) + process.memory_info().rss / 2**20, 1)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(
    nodes: int, rounds: int, key_timeout: float, extra: list[str], slow_ms: float
) -> dict[str, object]:
    argv = [sys.executable, "-m", "console.cli", "demo", "--nodes", str(nodes), *extra]
    program = PtyProgram(argv)
    result: dict[str, object] = {"nodes": nodes}
    try:
        drawn = wait_after(program, 0, FRAME, 60)
        result["frame_drawn_s"] = None if drawn is None else round(drawn, 2)
        result.update(keys_while_waiting(program, 300))
        result["first_frame_s"] = round(time.perf_counter() - program.started, 2)
        time.sleep(2.0)  # let the data refresh a couple of times before pressing keys
        processes = tree(program.process.pid)
        cpu_before, wall_before = cpu_seconds(processes), time.perf_counter()
        times: dict[str, list[float]] = {}
        missed = 0
        for _ in range(rounds):
            for label, key, needle in KEYS:
                with program.changed:
                    mark = program.bytes_written
                sent_at = time.time()
                program.send(key)
                took = wait_after(program, mark, needle, key_timeout)
                if took is not None and 1000 * took > slow_ms:
                    print(f"slow key {label} sent at {sent_at:.3f} took {1000 * took:.0f} ms")
                if took is None:
                    missed += 1
                    took = key_timeout
                times.setdefault(label, []).append(took)
                time.sleep(0.3)  # a person's pace; the data refreshes meanwhile
        wall = time.perf_counter() - wall_before
        processes = tree(program.process.pid)
        result["cpu_percent"] = round(100 * (cpu_seconds(processes) - cpu_before) / wall, 1)
        result["rss_mb"] = round(rss_mb(processes), 1)
        result["rss_by_process_mb"] = rss_by_process(processes)
        every = [t for values in times.values() for t in values]
        result["p50_ms"] = round(1000 * statistics.median(every), 1)
        result["p95_ms"] = round(1000 * percentile(every, 0.95), 1)
        result["max_ms"] = round(1000 * max(every), 1)
        result["missed"] = missed
        result["per_key_p50_ms"] = {
            label: round(1000 * statistics.median(values), 1) for label, values in times.items()
        }
        result["per_key_p95_ms"] = {
            label: round(1000 * percentile(values, 0.95), 1) for label, values in times.items()
        }
    except TimeoutError as exc:
        result["error"] = str(exc)
    finally:
        program.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[100, 1000, 4000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--key-timeout", type=float, default=30.0)
    parser.add_argument("--slow-ms", type=float, default=150.0,
                        help="print each key slower than this, with when it was sent")  # fmt: skip
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more flags for `watchfloor demo`")  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
    for nodes in args.nodes:
        result = run(nodes, args.rounds, args.key_timeout, args.extra, args.slow_ms)
        print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
