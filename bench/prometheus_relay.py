"""What a Prometheus refresh of 10,000 nodes costs after the source: the collector's
store merge and delta, and the UI's intake of it.

The batch is the ``prometheus`` source's own (``bench/prometheus_query.py``'s
stand-in and dcgm-exporter fleet, the stand-in in its own process). Timed:

- collector: ``Store.apply`` of a refresh (the merge), ``take_changes`` and the
  relay's delta document (``console.collector.delta.encode``);
- UI: splitting and checking the delta line by line (``decode_line``), the
  longest line alone (the UI answers keys between two lines: that is its
  longest wait), and ``Store.apply`` of the batch it makes.

Run: ``.venv/bin/python bench/prometheus_relay.py [--nodes 10000] [--runs 2]``
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
from console.core.store import Store
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10000, help="8 GPUs each")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
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
        lines = split_lines(body)
        decode_header(next(lines))
        found, worst = Lines(), 0.0
        while True:
            line_start = time.perf_counter()
            line = next(lines, None)
            if line is None:
                break
            decode_line(line, found)
            worst = max(worst, time.perf_counter() - line_start)
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
