"""What one simulated cycle costs from the source to the store, stage by stage.

A seeded simulator (congested-link) of N nodes is polled as the demo's collector
polls it; each cycle is timed (CPU time of this process): the simulator's step,
the batch check (``check_batch``), the intake rules (``admit``) and the merge
(``Store.apply``). The peer, in the same cycles: the same readings as one
``Sample`` each (what the simulator sent before ``Batch.columns``) into a store of
their own. The first cycles (series being made) are left out. Prints ms.

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
from console.core.model import Batch
from console.core.store import Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource

STAGES = ("check", "admit", "apply")


def merge(batch: Batch, store: Store) -> list[float]:
    """CPU seconds of each of :data:`STAGES` for one batch."""
    clock = time.process_time
    began = clock()
    check_batch(batch)
    checked = clock()
    admit(batch, batch.time or 0.0, simulated_clock=True)
    admitted = clock()
    store.apply(batch, "sim", batch.time or 0.0)
    applied = clock()
    store.take_changes()
    return [checked - began, admitted - checked, applied - admitted]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=8)
    args = parser.parse_args()
    source = SimSource(Simulation("congested-link", 1, args.nodes, interval=1.0), 1.0)
    ours, peer = Store(), Store()
    step: list[float] = []
    spans: dict[str, list[list[float]]] = {"columns": [], "samples (peer)": []}
    for cycle in range(args.cycles + 2):
        began = time.process_time()
        batch = asyncio.run(source.poll())
        stepped = time.process_time() - began
        same = Batch(batch.entities, batch.as_samples(), batch.time, batch.meta)
        spent = {"columns": merge(batch, ours), "samples (peer)": merge(same, peer)}
        if cycle >= 2:
            step.append(stepped)
            for form, each in spent.items():
                spans[form].append(each)
    stepped = statistics.median(step) * 1000
    print(f"{args.nodes:,} nodes, {len(list(ours.readings())):,} series, median of "
          f"{args.cycles} cycles, CPU ms; simulator step {stepped:.1f}")  # fmt: skip
    print(f"  {'':15}" + "".join(f"{stage:>9}" for stage in (*STAGES, "total")))
    for form, rows in spans.items():
        medians = [statistics.median(row[i] for row in rows) * 1000 for i in range(len(STAGES))]
        print(f"  {form:15}" + "".join(f"{m:9.1f}" for m in (*medians, sum(medians))))


if __name__ == "__main__":
    main()
