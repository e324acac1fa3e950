"""Wall mode over a long run: memory, CPU and the widget tree must stay flat.

Runs the wall headless under Textual's Pilot on the simulator, with the clock
fast-forwarded one second per cycle (a 1 s refresh): each cycle is one poll of
the simulated fleet, one analysis, and one refresh tick of the wall (tiles,
rotation, ribbon, the visible pane), then waits until the screen has been
composed. 7,200 cycles are two hours of wall time, done as fast as the machine
allows. Compares the first five minutes with the last five.

Run: ``.venv/bin/python bench/wall.py [--cycles 7200] [--nodes 4] [--size 200x60]``
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psutil

from console.core.config import Config, WallConfig
from console.core.engine import EXPIRE_AFTER
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.sim.cluster import EPOCH
from console.ui.app import WatchfloorApp
from console.ui.wall import WallScreen

WINDOW = 300
"""Cycles compared at each end: five minutes at 1 s."""


class Clock:
    """The console's clock, moved one refresh interval per cycle."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def run(cycles: int, nodes: int, size: tuple[int, int]) -> None:
    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(nodes=nodes), local=False)
    clock = Clock()
    app = WatchfloorApp(registry, sources, theme_name="wall", live=False, warm_cycles=1,
                        clock=clock, wall=WallConfig(dwell=30, hold=120))  # fmt: skip
    process = psutil.Process()
    marks: dict[str, tuple[float, float, int, int]] = {}
    print(f"{'sim time':>9} {'RSS MiB':>8} {'CPU s':>7} {'widgets':>8} {'history pts':>12} "
          f"{'rotated':>8}")  # fmt: skip
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        assert isinstance(screen, WallScreen)
        started = time.perf_counter()

        def mark(cpu: float) -> tuple[float, float, int, int]:
            widgets = sum(1 for _ in screen.walk_children())
            return process.memory_info().rss, cpu, widgets, app.store.history_points()

        window_cpu_start = cpu_seconds(process)
        switches, last_pane = 0, ""
        for cycle in range(1, cycles + 1):
            clock.now += 1.0
            await app.engine.collect(1)
            app.store.expire(clock.now - EXPIRE_AFTER)
            screen.redraw()
            await pilot.pause()
            if screen.view is not None and screen.view.pane != last_pane:
                switches, last_pane = switches + 1, screen.view.pane
            if cycle == WINDOW:
                marks["first"] = mark(cpu_seconds(process) - window_cpu_start)
            if cycle == cycles - WINDOW:
                window_cpu_start = cpu_seconds(process)
            if cycle % 600 == 0 or cycle in (1, WINDOW):
                rss = process.memory_info().rss / 2**20
                widgets = sum(1 for _ in screen.walk_children())
                print(f"{cycle // 60:>6}min {rss:>8.1f} {cpu_seconds(process):>7.1f} "
                      f"{widgets:>8} {app.store.history_points():>12,} {switches:>8}")  # fmt: skip
        marks["last"] = mark(cpu_seconds(process) - window_cpu_start)
        elapsed = time.perf_counter() - started
    rss0, cpu0, widgets0, points0 = marks["first"]
    rss1, cpu1, widgets1, points1 = marks["last"]
    print(f"\n{cycles} refreshes ({cycles / 3600:.1f} h at 1 s) of {nodes} nodes at "
          f"{size[0]}x{size[1]} in {elapsed:.0f} s wall time")  # fmt: skip
    print(f"RSS after 5 min  {rss0 / 2**20:7.1f} MiB   after {cycles // 60} min "
          f"{rss1 / 2**20:7.1f} MiB   growth {(rss1 / rss0 - 1) * 100:+.1f} %")  # fmt: skip
    first, last = cpu0 / WINDOW * 1000, cpu1 / WINDOW * 1000
    print(f"CPU first 5 min  {first:7.2f} ms/refresh   last 5 min {last:7.2f} ms/refresh   "
          f"growth {(cpu1 / cpu0 - 1) * 100:+.1f} %")  # fmt: skip
    print(f"widgets {widgets0} → {widgets1}   history points {points0:,} → {points1:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=7200)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--size", default="200x60", help="terminal COLSxROWS")
    args = parser.parse_args()
    columns, rows = (int(part) for part in args.size.split("x"))
    asyncio.run(run(args.cycles, args.nodes, (columns, rows)))


if __name__ == "__main__":
    main()
