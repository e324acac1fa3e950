"""What a Prometheus refresh of 10,000 nodes costs after the source: the collector's
store merge and delta, and the UI's intake of it.

The batch is the ``prometheus`` source's own (``bench/prometheus_query.py``'s
stand-in and dcgm-exporter fleet, the stand-in in its own process). Timed:

- collector: ``Store.apply`` of a refresh (the merge), ``take_changes`` and the
  relay's delta document (``console.collector.delta.encode``);
- UI: splitting and checking the delta line by line (``decode_line``), the
  longest line alone (the UI answers keys between two lines: that is its
  longest wait), and ``Store.apply`` of the batch it makes.

Python's automatic full garbage collection is off, as in the UI
(``console.ui.pauses``): a full pass over a 4,000-node store took 1.9 s, and would
be counted to whichever line it fell on.

With ``--demo``, the same line-by-line read of the simulator's relay documents
(``watchfloor demo``: a full one, then a delta), whose entity lines are the widest.

Run: ``.venv/bin/python bench/prometheus_relay.py [--nodes 10000] [--runs 2] [--demo]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time

sys.path.insert(0, ".")
sys.path.insert(0, "bench")
from prometheus_query import rss_mb, stand_in

from console.api import Batch
from console.collector.delta import Lines, decode_header, decode_line, encode, split_lines
from console.core.config import Config
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store
from console.serve.relay import Relay
from console.ui.pauses import QuietCollector
from watchfloor_prometheus.dcgm import DcgmTable
from watchfloor_prometheus.http import Client
from watchfloor_prometheus.query_source import PrometheusSource


async def refreshes(nodes: int, count: int) -> list[Batch]:
    """``count`` refreshes of one source over ``nodes`` nodes."""
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=stand_in, args=(nodes * 8, theirs))
    server.start()
    url, _ = ours.recv()
    source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(600.0, None, None))
    try:
        return [await source.poll() for _ in range(count)]
    finally:
        await source.close()
        ours.send(None)
        server.join()


def ms(seconds: list[float]) -> str:
    return f"best {min(seconds) * 1000:6.0f} ms  median {statistics.median(seconds) * 1000:6.0f} ms"


def read(body: bytes) -> tuple[Lines, float, float, float]:
    """What the UI's relay source does to a document: the lines it makes, its longest step
    (parsing and checking one line) and its 99th percentile, in seconds, and the longest
    step's CPU time (a busy machine's scheduler adds to the wall time, not to that)."""
    lines = split_lines(body)
    decode_header(next(lines))
    found, steps, cpu = Lines(), [], 0.0
    while True:
        start, start_cpu = time.perf_counter(), time.thread_time()
        line = next(lines, None)
        if line is None:
            break
        decode_line(line, found)
        steps.append(time.perf_counter() - start)
        cpu = max(cpu, time.thread_time() - start_cpu)
    steps.sort()
    return found, steps[-1], steps[int(len(steps) * 0.99)], cpu


async def demo(nodes: int) -> None:
    """The simulator's relay documents at ``nodes``: a full one, then a cycle's delta."""
    registry = load_registry()
    options = DemoOptions("congested-link", nodes=nodes)
    engine = build_engine(build_sources(Config(), registry, options, local=False), registry)
    relay = Relay(engine)
    await engine.collect(2)
    full = relay.document(history=True)
    epoch, seq = relay.journal.epoch, relay.journal.seq
    await engine.collect(1)
    start = time.perf_counter()
    delta = relay.document(True, epoch, seq)
    took = time.perf_counter() - start
    for name, body in (("full", full), ("delta", delta)):
        _, worst, p99, cpu = read(body)
        widest = max(map(len, body.split(b"\n")))
        print(f"{nodes:,} nodes demo {name} ({len(body) / 1e6:.1f} MB, widest line "
              f"{widest / 1e3:.0f} kB): UI's longest line {worst * 1000:.1f} ms "
              f"({cpu * 1000:.1f} ms CPU), 99% under {p99 * 1000:.1f} ms")  # fmt: skip
    print(f"collector: delta {took * 1000:.0f} ms")
    await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10000, help="8 GPUs each")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--demo", action="store_true", help="the simulator's relay instead")
    args = parser.parse_args()
    QuietCollector().start()
    if args.demo:
        asyncio.run(demo(args.nodes))
        return
    batches = asyncio.run(refreshes(args.nodes, args.runs + 1))
    collector, ui = Store(history=1), Store(history=1)
    clock = time.time()
    collector.apply(batches[0], "prometheus", clock)
    collector.take_changes()
    merge, delta, intake, longest, apply = [], [], [], [], []
    size = widest = 0
    for n, batch in enumerate(batches[1:], 1):
        start = time.perf_counter()
        collector.apply(batch, "prometheus", clock + n)
        merge.append(time.perf_counter() - start)
        start = time.perf_counter()
        changes = collector.take_changes()
        body = encode(collector, [], "e", n, changes, history=False)
        delta.append(time.perf_counter() - start)
        size = len(body)
        widest = max(map(len, body.split(b"\n")))
        start = time.perf_counter()
        found, worst, _, _ = read(body)
        intake.append(time.perf_counter() - start)
        longest.append(worst)
        start = time.perf_counter()
        ui.apply(Batch(found.entities, time=clock + n, columns=found.columns), "console", clock + n)
        apply.append(time.perf_counter() - start)
    print(f"{args.nodes:,} nodes: {batches[-1].reading_count():,} readings, "
          f"{len(batches[-1].entities):,} entities a refresh")  # fmt: skip
    print(f"collector: store merge          {ms(merge)}")
    print(f"collector: delta ({size / 1e6:.1f} MB)      {ms(delta)}")
    print(f"UI: delta read, line by line    {ms(intake)}")
    print(f"UI: longest line (a key's wait) {ms(longest)}  ({widest / 1e3:.0f} kB the widest)")
    print(f"UI: store merge                 {ms(apply)}")
    print(f"max RSS (both stores, one process): {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
