"""Model integrity on a 20 GB tree: the agent's cycle time while it hashes, and how
many cycles a one-byte change takes to become an event.

The agent's collection path is run in process (Collector over the integrity source
and a simulated node, as ``watchfloor agent`` wires it) once per interval. The
weight files are sparse (they read as zeros at page-cache speed, not disk
speed), so this measures the hashing and the scheduling, not the disk.

    python bench/integrity.py [--gb 20] [--interval 1] [--budget-mb 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from console.agent.server import Collector
from console.core.engine import Engine
from console.core.store import Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource
from watchfloor_security.integrity import IntegritySource, ModelTree

GIB = 1 << 30


def make_tree(root: Path, gigabytes: int) -> Path:
    model = root / "models" / "llama-70b"
    model.mkdir(parents=True)
    for index in range(gigabytes // 2):
        with open(model / f"model-{index:05d}.safetensors", "wb") as handle:
            handle.truncate(2 * GIB)
    small = model / "tokenizer.json"
    small.write_text('{"vocab": 128256}' * 100)
    return small


async def run(gigabytes: int, interval: float, budget_mb: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        small = make_tree(Path(folder), gigabytes)
        tree = ModelTree([str(Path(folder) / "models")], budget_bytes=budget_mb << 20)
        integrity = IntegritySource(tree, interval, node="node02")
        sim = SimSource(Simulation(), interval, name="sim-node02", scope="node02")
        collector = Collector(Engine(Store(history=1), [sim, integrity]), "node02", interval / 2)
        cycles: list[float] = []
        started = time.perf_counter()
        baseline_at = None
        changed_at_cycle = None
        found_at_cycle = None
        cycle = 0
        while found_at_cycle is None and cycle < 100_000:
            cycle += 1
            begin = time.perf_counter()
            await collector.latest()
            cycles.append(time.perf_counter() - begin)
            summary, events = tree.report()
            if baseline_at is None and summary.get("files") and not summary["pending_bytes"]:
                baseline_at = time.perf_counter() - started
                data = bytearray(small.read_bytes())
                data[5] ^= 1
                small.write_bytes(bytes(data))
                os.utime(small, ns=(time.time_ns(), time.time_ns() + 1_000_000))
                changed_at_cycle = cycle
            if changed_at_cycle is not None and events:
                found_at_cycle = cycle
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - begin)))
        await integrity.close()
        cycles.sort()
        print(f"tree: {gigabytes} GB in {gigabytes // 2} sparse files + 1 small file; "
              f"interval {interval:g}s, budget {budget_mb} MiB/cycle")  # fmt: skip
        print(f"agent cycle time over {len(cycles)} cycles: median "
              f"{statistics.median(cycles) * 1000:.1f} ms, p99 "
              f"{cycles[int(len(cycles) * 0.99) - 1] * 1000:.1f} ms, max {cycles[-1] * 1000:.1f} ms"
              f" (interval {interval * 1000:.0f} ms)")  # fmt: skip
        print(
            f"first full baseline after {baseline_at:.1f} s "
            f"({gigabytes * 1024 / max(baseline_at or 1, 1e-9):,.0f} MiB/s)"
        )
        if changed_at_cycle is not None and found_at_cycle is not None:
            print(f"one-byte change found {found_at_cycle - changed_at_cycle} cycle(s) after it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--budget-mb", type=int, default=1024)
    args = parser.parse_args()
    asyncio.run(run(args.gb, args.interval, args.budget_mb))


if __name__ == "__main__":
    main()
