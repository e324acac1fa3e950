"""One console process polling 1,000 simulated agents at 1 s (issue 4, figure a; issue 17).

A simulated fleet (one process, one port per node, replaying ticks it recorded at
start: ``console/agent/fleet.py``) is started on loopback; this process polls every
agent through the real agent source and engine for the measurement window.
Reported: polls per agent per second that brought data (1.0 means every cycle
completed within the interval) and tried, the slowest poll, this process's CPU as
a share of one core and per landed poll (the figure other processes on the cores
disturb least), and its RSS; then, apart, the fleet process's CPU and RSS over the
same window, and the machine's load. Targets: every cycle within the interval, CPU < 50 %,
RSS < 400 MB.

``--wire snapshot`` polls ``/v1/snapshot`` (a request per agent per cycle) instead of
reading each agent's ``/v2/stream``, for a before/after in the same minute.

The window opens once every agent has landed a poll (``--warm-up`` seconds at most: the
first polls bring whole documents, a startup's cost, not a cycle's); the cyclic garbage
collector's share of the console's CPU is printed apart (its thresholds the collector
process's: ``console.core.garbage``).

Run: ``.venv/bin/python bench/fleet_poll.py [--nodes 1000] [--seconds 60] [--wire W]
[--warm-up S] [--profile FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import subprocess
import sys
import time
from collections import Counter

import psutil

from console.agent.client import AgentSource
from console.agent.stream_client import AgentStreamSource
from console.api import Batch
from console.core.engine import Engine
from console.core.garbage import young_collections_rarer
from console.core.store import Store


def start_fleet(nodes: int) -> tuple[subprocess.Popen[bytes], list[str]]:
    fleet = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "agent", "--sim-fleet", "--nodes", str(nodes),
         "--listen", "127.0.0.1:0", "--scenario", "healthy"],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert fleet.stdout is not None
    urls = [fleet.stdout.readline().decode().split()[1] for _ in range(nodes)]
    return fleet, urls


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class GcTime:
    """Seconds spent in the cyclic collector, by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.seconds[info["generation"]] += time.process_time() - self._began
            self.runs[info["generation"]] += 1


def counted(kind: type[AgentSource], landed: list[int]) -> type[AgentSource]:
    """``kind`` counting its polls that brought a batch (a failed poll is a poll too)."""

    class Counted(kind):  # type: ignore[valid-type,misc]
        async def poll(self) -> Batch:
            batch = await super().poll()
            landed[0] += 1
            return batch

    return Counted


async def poll(
    urls: list[str],
    seconds: float,
    interval: float,
    wire: str,
    fleet: int,
    profile: str | None,
    warm_up: float,
) -> None:
    landed = [0]
    kind = counted(AgentStreamSource if wire == "stream" else AgentSource, landed)
    engine = Engine(Store(), [kind(url, interval, timeout=interval * 2) for url in urls])
    process, fleet_process = psutil.Process(), psutil.Process(fleet)
    engine.start()
    # Warm-up: the first polls open every connection and bring whole documents (all
    # entities, every series new), far more work than a cycle; the window measures the
    # steady state, from when every agent has landed once (or the warm-up gives up).
    began = time.monotonic()
    await asyncio.sleep(5)
    while time.monotonic() - began < warm_up:
        if all(s.last_ok is not None for s in engine.statuses()):
            break
        await asyncio.sleep(1)
    first = sum(1 for s in engine.statuses() if s.last_ok is not None)
    print(f"warm-up: {first}/{len(urls)} agents landed once in {time.monotonic() - began:.0f} s",
          flush=True)  # fmt: skip
    start_polls, start_landed = sum(s.polls for s in engine.statuses()), landed[0]
    cpu_start, fleet_start = cpu_seconds(process), cpu_seconds(fleet_process)
    wall_start = time.monotonic()
    gc_time = GcTime()
    gc.callbacks.append(gc_time)
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    await asyncio.sleep(seconds)  # the measurement window itself
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    cpu_end, fleet_end = cpu_seconds(process), cpu_seconds(fleet_process)
    wall = time.monotonic() - wall_start
    gc.callbacks.remove(gc_time)
    load = os.getloadavg()[0]
    fleet_rss = fleet_process.memory_info().rss / 2**20
    statuses = engine.statuses()
    await engine.stop()
    polls = sum(s.polls for s in statuses) - start_polls
    good = landed[0] - start_landed
    cpu = (cpu_end - cpu_start) / wall
    ok = sum(1 for s in statuses if s.status == "ok")
    slowest = max((s.duration or 0.0) for s in statuses)
    rss = process.memory_info().rss / 2**20
    print(f"{len(urls)} agents at {interval:g} s for {wall:.0f} s over {wire}, one console "
          "process:")  # fmt: skip
    rate, tried = good / len(urls) / wall, polls / len(urls) / wall
    print(f"  polls per agent per second {rate:.2f} that landed, {tried:.2f} tried (1.00 = "
          f"every cycle within the interval); {ok}/{len(urls)} ok at the end; slowest last "
          f"poll {slowest:.2f} s")  # fmt: skip
    per_poll = (cpu_end - cpu_start) / max(good, 1) * 1000
    most = 0.5 * interval / len(urls) * 1000
    print(f"  console CPU per landed poll {per_poll:.2f} ms (the target needs at most "
          f"{most:.2f} ms: half a core over {len(urls)} agents)")  # fmt: skip
    print(f"  console CPU {cpu * 100:.0f}% of one core (target < 50%), RSS {rss:.0f} MB "
          f"(target < 400 MB); {engine.store.count('gpu')} GPUs in the store")  # fmt: skip
    collected = ", ".join(f"gen{g} {gc_time.runs[g]}× {gc_time.seconds[g]:.2f} s" for g in range(3))
    print(f"  of which the cyclic garbage collector: {collected}")
    reasons = Counter(s.reason.split(":")[0] for s in statuses if s.status != "ok")
    for reason, count in reasons.most_common(3):
        print(f"  not ok at the end: {count} × {reason}")
    fleet_cpu = (fleet_end - fleet_start) / wall
    print(f"  fleet process (same cores, measured apart): CPU {fleet_cpu * 100:.0f}% "
          f"of one core, RSS {fleet_rss:.0f} MB; machine load average {load:.1f} "
          f"on {os.cpu_count()} cores")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--wire", choices=("stream", "snapshot"), default="stream",
                        help="read /v2/stream (default), or poll /v1/snapshot")  # fmt: skip
    parser.add_argument("--warm-up", type=float, default=60.0,
                        help="longest wait, in seconds, for every agent to land once before "
                             "the window opens")  # fmt: skip
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the console over the window into FILE (CPU figures "
                             "then include the profiler's cost)")  # fmt: skip
    args = parser.parse_args()
    began = time.monotonic()
    fleet, urls = start_fleet(args.nodes)
    print(f"fleet of {args.nodes} agents up in {time.monotonic() - began:.0f} s", flush=True)
    try:
        with young_collections_rarer():  # as the collector process (console.collector.main)
            asyncio.run(
                poll(urls, args.seconds, args.interval, args.wire, fleet.pid, args.profile,
                     args.warm_up)
            )  # fmt: skip
    finally:
        fleet.terminate()
        fleet.wait()


if __name__ == "__main__":
    main()
