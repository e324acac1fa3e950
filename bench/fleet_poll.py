"""One console process polling 1,000 simulated agents at 1 s (issue 4, figure a; issue 17).

A simulated fleet (one process, one port per node) is started on loopback; this
process polls every agent through the real agent source and engine for the
measurement window. Reported: polls per agent per second (1.0 means every cycle
completed within the interval), the slowest poll, this process's CPU as a share
of one core, and its RSS. Targets: every cycle within the interval, CPU < 50 %,
RSS < 400 MB.

``--wire snapshot`` polls ``/v1/snapshot`` (a request per agent per cycle) instead of
reading each agent's ``/v2/stream``, for a before/after in the same minute.

Run: ``.venv/bin/python bench/fleet_poll.py [--nodes 1000] [--seconds 60] [--wire W]``
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

import psutil

from console.agent.client import AgentSource
from console.agent.stream_client import AgentStreamSource
from console.core.engine import Engine
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


async def poll(urls: list[str], seconds: float, interval: float, wire: str) -> None:
    kind = AgentStreamSource if wire == "stream" else AgentSource
    engine = Engine(Store(), [kind(url, interval, timeout=interval * 2) for url in urls])
    process = psutil.Process()
    engine.start()
    await asyncio.sleep(5)  # warm-up: connections opened, first snapshots in
    start_polls = sum(s.polls for s in engine.statuses())
    cpu_start, wall_start = process.cpu_times(), time.monotonic()
    await asyncio.sleep(seconds)  # the measurement window itself
    cpu_end, wall = process.cpu_times(), time.monotonic() - wall_start
    statuses = engine.statuses()
    await engine.stop()
    polls = sum(s.polls for s in statuses) - start_polls
    cpu = (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system) / wall
    ok = sum(1 for s in statuses if s.status == "ok")
    slowest = max((s.duration or 0.0) for s in statuses)
    rss = process.memory_info().rss / 2**20
    print(f"{len(urls)} agents at {interval:g} s for {wall:.0f} s over {wire}, one console "
          "process:")  # fmt: skip
    rate = polls / len(urls) / wall
    print(f"  polls per agent per second {rate:.2f} (1.00 = every cycle within the interval); "
          f"{ok}/{len(urls)} ok at the end; slowest last poll {slowest:.2f} s")  # fmt: skip
    print(f"  console CPU {cpu * 100:.0f}% of one core (target < 50%), RSS {rss:.0f} MB "
          f"(target < 400 MB); {engine.store.count('gpu')} GPUs in the store")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--wire", choices=("stream", "snapshot"), default="stream",
                        help="read /v2/stream (default), or poll /v1/snapshot")  # fmt: skip
    args = parser.parse_args()
    fleet, urls = start_fleet(args.nodes)
    try:
        asyncio.run(poll(urls, args.seconds, args.interval, args.wire))
    finally:
        fleet_cpu = psutil.Process(fleet.pid).cpu_times()
        fleet.terminate()
        fleet.wait()
        print(f"  (the simulated fleet, a separate process on the same cores, used "
              f"{fleet_cpu.user + fleet_cpu.system:.0f} s of CPU in all)")  # fmt: skip


if __name__ == "__main__":
    main()
