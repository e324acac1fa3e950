"""Memory over a long run: the store's history is bounded, so RSS must level off.

Runs the engine on the simulator as fast as it can (no waiting between cycles)
and prints RSS and stored history points as it goes. At the default 1 s refresh,
20,000 cycles is five and a half hours of data.

Run: ``.venv/bin/python bench/soak.py [--cycles N] [--nodes N]``
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psutil

from console.core.config import Config
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry


async def soak(cycles: int, nodes: int) -> None:
    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(nodes=nodes), local=False)
    engine = build_engine(sources, registry)
    process = psutil.Process()
    started = time.perf_counter()
    print(f"{'cycle':>7} {'RSS MiB':>8} {'history points':>15} {'entities':>9}")
    step = max(1, cycles // 10)
    for cycle in range(1, cycles + 1):
        await engine.collect(1)
        if cycle % step == 0 or cycle == 1:
            rss = process.memory_info().rss / 2**20
            store = engine.store
            print(f"{cycle:>7} {rss:>8.1f} {store.history_points():>15,} {len(store.entities):>9}")
    elapsed = time.perf_counter() - started
    each = elapsed / cycles * 1000
    print(f"{cycles} cycles of {nodes} nodes in {elapsed:.1f} s ({each:.2f} ms each)")
    await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--nodes", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(soak(args.cycles, args.nodes))


if __name__ == "__main__":
    main()
