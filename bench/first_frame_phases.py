"""Where the first frame of ``watchfloor demo --nodes N`` goes, phase by phase.

Runs, in this one process and in order, what the collector and the UI do before the
first frame with data: build the simulator, its first tick (with the jobs' history),
the engine's poll of it (check, intake, merge, and whether the engine refused it as
blocking), analysis (and its slowest analyzer), the relay's full document, then the
UI's decode of that document and its merge into a mirror store. Prints seconds per
phase and the machine's load.

    python bench/first_frame_phases.py --nodes 1000 4000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Iterable

from console.api import Analyzer, Batch, Finding
from console.collector.delta import Lines, decode_header, decode_line, encode, split_lines
from console.collector.journal import Journal
from console.core.config import Config
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store
from console.ui.app import MIRROR_HISTORY, MIRROR_LONGER


class Timed:
    """An analyzer that counts the seconds it took (the engine calls it by name)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.name = getattr(analyzer, "__qualname__", repr(analyzer))
        self.__qualname__ = self.name
        self.seconds = 0.0

    def __call__(self, store: Store) -> Iterable[Finding]:
        began = time.perf_counter()
        try:
            return list(self.analyzer(store))
        finally:
            self.seconds += time.perf_counter() - began


async def phases(nodes: int) -> dict[str, object]:
    found: dict[str, object] = {"nodes": nodes}
    began = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal began
        now = time.perf_counter()
        found[name] = round(now - began, 2)
        began = now

    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(nodes=nodes), local=False)
    lap("sim_build_s")
    engine = build_engine(sources, registry)
    analysers = [Timed(analyzer) for analyzer in engine.analyzers]
    engine.analyzers = list(analysers)
    journal = Journal()
    engine.cycle_hooks.append(journal)
    await engine.collect(1)  # the tick, checks, intake and merge, as the collector runs them
    (status, *_) = engine.statuses()
    found["sim_poll_s"] = round(status.duration or 0.0, 2)
    landed = engine.store.count("node") > 0
    found["first_poll"] = "landed" if landed else f"{status.status}: {status.reason[:60]}"
    lap("collector_cycle_s")
    slowest = max(analysers, key=lambda timed: timed.seconds)
    found["analysis_s"] = round(sum(timed.seconds for timed in analysers), 2)
    found["slowest_analyzer"] = f"{slowest.name}:{slowest.seconds:.2f}s"
    document = encode(engine.store, engine.statuses(), journal.epoch, journal.seq, None, True)
    found["document_mb"] = round(len(document) / 1e6, 1)
    lap("relay_encode_s")
    lines = split_lines(document)
    header = decode_header(next(lines))
    decoded = Lines()
    for line in lines:
        decode_line(line, decoded)
    lap("ui_decode_s")
    mirror = Store(MIRROR_HISTORY, MIRROR_LONGER)
    batch = Batch(entities=decoded.entities, time=header.time, columns=decoded.columns)
    mirror.apply(batch, "console", time.time())
    lap("ui_merge_s")
    found["readings"] = batch.reading_count()
    await engine.stop()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
    for nodes in args.nodes:
        result = asyncio.run(phases(nodes))
        print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
