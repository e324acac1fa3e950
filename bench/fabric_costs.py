"""Figures for the drill-down issue.

1. ``explain`` on a 1,000-node simulated fabric (about 200 jobs): ms per call,
   after the engine has collected twice (target < 200 ms).
2. Fabric pane refresh with 20,000 links: ms per refresh (target < 50 ms). The
   links are a synthetic fabric (10,000 hosts, 313 leaves, 32 spines) with
   counters, fed to the real store and pane.

Run: ``.venv/bin/python bench/fabric_costs.py``
"""

from __future__ import annotations

import asyncio
import statistics
import time

from console.analysis import CORE_ANALYZERS
from console.analysis.causes import explain
from console.core.config import Config
from console.core.engine import Engine
from console.core.model import Batch, Entity, Sample, link_ref, port_ref
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.ui.app import WatchfloorApp


async def explain_cost(nodes: int = 1000, calls: int = 20) -> None:
    registry = load_registry()
    engine = build_engine(
        build_sources(Config(), registry, DemoOptions(nodes=nodes), False), registry
    )
    await engine.collect(2)
    jobs = engine.store.count("job")
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        result = explain(engine.store, "job/4711")
        times.append((time.perf_counter() - started) * 1000)
    assert result is not None
    links = engine.store.count("link")
    median, first = statistics.median(times), times[0]
    print(f"explain job/4711 on {nodes} nodes, {links} links, {jobs} jobs: median {median:.1f} ms, "
          f"first call {first:.1f} ms (target < 200 ms)")  # fmt: skip


class Links:
    """A synthetic fabric of ``hosts`` hosts and their uplinks, as a source would report it."""

    def __init__(self, hosts: int = 10_000, per_leaf: int = 32, spines: int = 32) -> None:
        self.entities: list[Entity] = []
        self.ports: list[str] = []
        leaves = (hosts + per_leaf - 1) // per_leaf
        for host in range(hosts):
            leaf = f"leaf{host // per_leaf:03d}"
            self._link(port_ref(f"h{host:05d}", "mlx5_0:1"), port_ref(leaf, f"p{host % per_leaf}"))
        for leaf in range(leaves):
            for spine in range(spines):
                self._link(
                    port_ref(f"leaf{leaf:03d}", f"u{spine}"),
                    port_ref(f"spine{spine:02d}", f"p{leaf}"),
                )

    def _link(self, a: str, b: str) -> None:
        ref = link_ref(a, b)
        self.entities.append(Entity(ref, ref[5:], attrs={"a": a, "b": b, "speed_gbps": 400}))
        self.ports += [a, b]

    def batch(self, tick: int) -> Batch:
        samples = [Sample(port, "port.tx_bytes", float(tick * (1 + i % 97) * 1e8))
                   for i, port in enumerate(self.ports)]  # fmt: skip
        return Batch(entities=self.entities, samples=samples, time=float(tick))


async def fabric_pane_cost(refreshes: int = 10) -> None:
    fabric = Links()
    registry = load_registry()
    app = WatchfloorApp(registry, [], live=False)
    async with app.run_test(size=(200, 60)) as pilot:
        store = app.store
        for tick in range(2):
            store.apply(fabric.batch(tick), "synthetic", float(tick))
        analysis = Engine(store, [], CORE_ANALYZERS)
        analysis.analyse()
        await pilot.press("f")
        pane = app.screen.pane  # type: ignore[attr-defined]
        times = []
        for tick in range(2, 2 + refreshes):
            store.apply(fabric.batch(tick), "synthetic", float(tick))
            analysis.analyse()  # link scores, as the engine does each cycle (not timed)
            started = time.perf_counter()
            pane.refresh_view()
            times.append((time.perf_counter() - started) * 1000)
            await pilot.pause()
        median, worst = statistics.median(times), max(times)
        print(f"fabric pane, {store.count('link')} links: refresh median {median:.1f} ms, "
              f"max {worst:.1f} ms (target < 50 ms)")  # fmt: skip


def main() -> None:
    asyncio.run(explain_cost())
    asyncio.run(fabric_pane_cost())


if __name__ == "__main__":
    main()
