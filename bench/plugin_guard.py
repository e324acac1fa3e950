"""What plugin isolation costs (issue 9): the batch check on every poll, and the
refresh timing of every pane.

1. ``check_batch`` — every batch a source returns is checked whole before it lands
   (so a malformed one never half-merges). Measured on simulated-cluster batches of
   several sizes, next to ``Store.apply`` of the same batch: microseconds per
   sample, and the check as a share of the apply.
2. The pane guard — the Overview pane of the demo cluster refreshed through
   ``ViewScreen.redraw`` (timed, budget-checked) and by calling ``refresh_view``
   directly: the guard's overhead per refresh.

Best of ``--repeat`` runs each. Run: ``.venv/bin/python bench/plugin_guard.py``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

from console.core.batch_check import check_batch
from console.core.store import Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def batch_figures(nodes: int, repeat: int) -> None:
    simulation = Simulation("congested-link", 1, nodes, interval=1.0)
    batch = asyncio.run(SimSource(simulation, 1.0).poll())
    samples = batch.reading_count()
    check = best(repeat, lambda: check_batch(batch))
    apply = best(repeat, lambda: Store().apply(batch, "sim", 0.0))
    print(f"  {nodes:>5} nodes  {samples:>7} samples  check {check * 1000:7.2f} ms "
          f"({check / samples * 1e6:.2f} us/sample)  apply {apply * 1000:7.2f} ms  "
          f"check/apply {check / apply:.0%}")  # fmt: skip


async def guard_figures(refreshes: int) -> None:
    from console.core.config import Config
    from console.core.runtime import DemoOptions, build_sources, load_registry
    from console.ui.app import WatchfloorApp
    from console.ui.screens import ViewScreen

    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(nodes=64), local=False)
    app = WatchfloorApp(registry, sources, live=False, clock=lambda: 0.0)
    async with app.run_test(size=(200, 60)):
        screen = app.screen
        assert isinstance(screen, ViewScreen)

        def guarded() -> None:
            for _ in range(refreshes):
                app.store.version += 1  # as if a poll landed
                screen.redraw()

        def bare() -> None:
            for _ in range(refreshes):
                screen.pane.refresh_view()

        with_guard = best(3, guarded) / refreshes
        without = best(3, bare) / refreshes
        print(f"  overview of 64 nodes: redraw {with_guard * 1000:.2f} ms, refresh_view alone "
              f"{without * 1000:.2f} ms (the guard and the chrome: "
              f"{(with_guard - without) * 1000:.2f} ms)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("batch check (best of", args.repeat, "runs):")
    for nodes in (4, 64, 256, 1024):
        batch_figures(nodes, args.repeat)
    print("pane guard:")
    asyncio.run(guard_figures(50))


if __name__ == "__main__":
    main()
