"""What one simulated cycle costs from the source to the store, stage by stage.

A seeded simulator (congested-link) of N nodes is polled as the demo's collector
polls it; each cycle is timed (CPU time of this process): the simulator's step,
the batch check (``check_batch``), the intake rules (``admit``) and the merge
(``Store.apply``). The first cycles (series being made) are left out. Prints ms.

Run: ``.venv/bin/python bench/intake_cycle.py [--nodes 1000] [--cycles 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

sys.path.insert(0, ".")

from console.core.batch_check import check_batch
from console.core.intake import admit
from console.core.store import Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=8)
    args = parser.parse_args()
    source = SimSource(Simulation("congested-link", 1, args.nodes, interval=1.0), 1.0)
    store = Store()
    stages: dict[str, list[float]] = {"step": [], "check": [], "admit": [], "apply": []}
    readings = 0
    for cycle in range(args.cycles + 2):
        clock = time.process_time
        began = clock()
        batch = asyncio.run(source.poll())
        stepped = clock()
        check_batch(batch)
        checked = clock()
        admit(batch, batch.time or 0.0, simulated_clock=True)
        admitted = clock()
        store.apply(batch, "sim", batch.time or 0.0)
        applied = clock()
        store.take_changes()
        if cycle < 2:
            continue
        readings = len(store._latest)
        spans = (stepped - began, checked - stepped, admitted - checked, applied - admitted)
        for name, span in zip(stages, spans, strict=True):
            stages[name].append(span)
    print(f"{args.nodes:,} nodes, {readings:,} series, median of {args.cycles} cycles (CPU ms):")
    for name, spans in stages.items():
        print(f"  {name:6} {statistics.median(spans) * 1000:8.1f}")
    total = sum(statistics.median(spans) for name, spans in stages.items() if name != "step")
    print(f"  check+admit+apply {total * 1000:8.1f}")


if __name__ == "__main__":
    main()
