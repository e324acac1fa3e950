"""Cost per analysis cycle of the early warnings and of alerting, at fleet size.

A seeded simulator (congested-link) of N nodes is collected for a few minutes of
sim time; then each cycle is timed: the whole analysis (on alternate cycles a full
recompute, the peer: ``console.analysis.incremental``), the trend analyzer alone, and
alerting's per-cycle work (rules, inhibition, the alert book). Prints ms.

Run: ``.venv/bin/python bench/alerting_cycle.py [--nodes 1000 4000] [--cycles 40]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from console.alerting.config import AlertingConfig, Inhibit
from console.alerting.service import Alerting
from console.analysis.incremental import set_full
from console.analysis.trends import early_warnings
from console.collector.watch import Cycle
from console.core.config import Config
from console.core.model import Finding
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f}"


async def run(nodes: int, cycles: int, state: Path) -> None:
    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    sources = build_sources(Config(interval=5.0), registry,
                            DemoOptions("congested-link", 1, nodes), local=False)  # fmt: skip
    engine = build_engine(sources, registry)
    config = AlertingConfig(
        alertmanager=("http://127.0.0.1:9",), state_file=state,
        inhibit=(Inhibit(("link-down",), ("link-down",), ("switch",)),),
    )  # fmt: skip
    alerting = Alerting(config)
    alerting.senders = []  # the cost of deciding, not of the network
    analysis: list[float] = []
    trends, paging = [], []
    run_analysis = engine.analyse

    def timed_analysis() -> list[Finding]:
        # The analysis that follows the polls (a second run would find nothing moved).
        started = time.perf_counter()
        try:
            return run_analysis()
        finally:
            analysis.append(time.perf_counter() - started)

    engine.analyse = timed_analysis  # type: ignore[method-assign]
    kept: list[float] = []
    for number in range(1, cycles + 1):
        # The peer run: cycles 1, 4, 5, 8, 9... recompute everything, the others keep what
        # did not move (in pairs, so that work due every other cycle falls on both alike).
        full = number % 4 in (0, 1)
        set_full(engine.store, full)
        await engine.collect(1)  # polls, then the timed analysis
        if not full:
            kept.append(analysis.pop())
        started = time.perf_counter()
        list(early_warnings(engine.store))
        trends.append(time.perf_counter() - started)
        started = time.perf_counter()
        await alerting.on_cycle(Cycle(engine.store, engine.statuses(), number + 3))
        paging.append(time.perf_counter() - started)
    findings = len(engine.store.findings)
    print(f"{nodes:6d} nodes  {engine.store.count('gpu'):6d} GPUs  {findings:4d} findings  "
          f"analysis {median_ms(kept)} ms (full recompute {median_ms(analysis)} ms)  "
          f"trends {median_ms(trends)} ms  alerting {median_ms(paging)} ms  "
          f"(median of {cycles // 2} cycles each)")  # fmt: skip


def outage(ports: int, switches: int) -> None:
    """Rules and inhibition over an outage: ``ports`` link-downs under ``switches``."""
    from console.alerting.rules import paging
    from console.core.model import Batch, Entity, Finding
    from console.core.store import Store

    store = Store()
    store.apply(Batch(entities=[Entity(f"switch/leaf{i}", f"leaf{i}") for i in range(switches)]),
                "bench", received=0.0)  # fmt: skip
    findings = [Finding(f"port/leaf{i % switches}/p{i}", "link-down", "critical", "down")
                for i in range(ports)]  # fmt: skip
    config = AlertingConfig(inhibit=(Inhibit(("link-down",), ("link-down",), ("switch",)),))
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        pages = paging(store, findings, config)
        samples.append(time.perf_counter() - started)
    print(
        f"outage: {ports} link-downs under {switches} switches -> {len(pages)} pages, "
        f"rules + inhibition {median_ms(samples)} ms (median of 5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--cycles", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for nodes in args.nodes:
            asyncio.run(run(nodes, args.cycles, Path(directory) / f"alerts-{nodes}.json"))
    outage(4000, 100)


if __name__ == "__main__":
    main()
