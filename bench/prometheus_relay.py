"""What a Prometheus refresh of 10,000 nodes costs after the source: the collector's
store merge and delta, and the UI's intake of it.

The batch is the ``prometheus`` source's own (``bench/prometheus_query.py``'s
stand-in and dcgm-exporter fleet, the stand-in in its own process). Timed:

- collector: ``Store.apply`` of a refresh (the merge), ``take_changes`` and the
  relay's delta document (``console.collector.delta.encode``);
- UI: splitting and checking the delta line by line (``decode_line``), the
  longest line alone (the UI answers keys between two lines: that is its
  longest wait), and ``Store.apply`` of the batch it makes;
- UI: the same batch landed as the UI lands it, through its engine as a mirror
  source (admitted and merged in slices of ``--slice`` readings), then the cycle's
  end (analysis, forgetting the changes): how long until it landed, and the longest
  step of the event loop meanwhile (what a key pressed then waits for at most).

Python's automatic full garbage collection is off, as in the UI
(``console.ui.pauses``): a full pass over a 4,000-node store took 1.9 s, and would
be counted to whichever line it fell on.

With ``--demo``, the same line-by-line read of the simulator's relay documents
(``watchfloor demo``: a full one, then a delta, then the next delta), whose entity lines
are the widest, each landed as the UI lands it: its longest loop step, and the garbage
collector's passes meanwhile (in this process the collector's engine runs too: its
objects may be among those a pass walks). The second document is the one that turns the
first's :class:`~console.core.ring.FirstPoint` rings into rings.

Run: ``.venv/bin/python bench/prometheus_relay.py [--nodes 10000] [--runs 2] [--slice N] [--demo]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import statistics
import sys
import time

sys.path.insert(0, ".")
sys.path.insert(0, "bench")
from prometheus_query import rss_mb, stand_in

from console.api import Batch, Source
from console.collector.delta import Lines, decode_header, decode_line, encode, split_lines
from console.core import engine as engine_module
from console.core.config import Config
from console.core.engine import Engine
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store
from console.serve.relay import Relay
from console.ui.app import MIRROR_HISTORY, MIRROR_LONGER
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


class Relayed(Source):
    """The UI's relay source, its document already read: the batch it makes."""

    name = "console"
    type = "relay"
    mirror = True

    def __init__(self) -> None:
        self.batch = Batch()

    async def poll(self) -> Batch:
        return self.batch


async def land(
    engine: Engine, source: Relayed, batch: Batch
) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Land ``batch`` through ``engine`` as the UI does, then end the cycle: how long
    until it landed, and the loop's longest step meanwhile and at the cycle's end, each
    in wall and CPU time (a busy machine's scheduler adds to the wall time, not to that)."""
    source.batch = batch
    gaps: list[tuple[float, float]] = []
    running = True
    PASSES.clear()

    async def other_work() -> None:  # what a key press is to the UI: a turn of the loop
        last, last_cpu = time.perf_counter(), time.thread_time()
        while running:
            await asyncio.sleep(0)
            now, cpu = time.perf_counter(), time.thread_time()
            gaps.append((now - last, cpu - last_cpu))
            last, last_cpu = now, cpu

    ticker = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    start, start_cpu = time.perf_counter(), time.thread_time()
    await engine._poll(engine._states[0])
    landed = time.perf_counter() - start, time.thread_time() - start_cpu
    merging = len(gaps)
    engine.analyse()  # the cycle's end: nobody reads its changes (no cycle hooks)
    drop = getattr(engine, "_drop_litter", None)  # a peer's engine frees them in one go
    if drop is not None:
        await drop()
    running = False
    await ticker
    status = engine.statuses()[0]
    assert status.status == "ok", status.reason
    return landed, _longest(gaps[:merging]), _longest(gaps[merging:])


PASSES: list[tuple[int, float, int]] = []
"""The garbage collector's passes while a batch lands: ``(generation, CPU seconds, young)``
(``young``: the objects made since the last pass, that it walks at least)."""
_began: list[float] = [0.0, 0]


def _time_passes(phase: str, info: dict[str, int]) -> None:
    """A ``gc.callbacks`` hook: each pass's generation and wall time into :data:`PASSES`."""
    if phase == "start":
        _began[:] = [time.thread_time(), gc.get_count()[0]]
    else:
        PASSES.append((info["generation"], time.thread_time() - _began[0], int(_began[1])))


def _passes() -> str:
    """The passes of the last landing: their CPU time in all, and by generation how many
    there were and the longest (a key that comes while one runs waits for it)."""
    by_generation: dict[int, list[tuple[float, int]]] = {}
    for generation, took, young in PASSES:
        by_generation.setdefault(generation, []).append((took, young))
    if not PASSES:
        return "none"
    generations = ", ".join(
        f"gen {generation}: {len(passes)} passes, longest {max(passes)[0] * 1000:.1f} ms CPU "
        f"(young objects {max(passes)[1]:,}; most {max(young for _, young in passes):,})"
        for generation, passes in sorted(by_generation.items())
    )
    return f"{sum(took for _, took, _ in PASSES) * 1000:.0f} ms CPU in all; {generations}"


def _longest(gaps: list[tuple[float, float]]) -> tuple[float, float]:
    """The longest wall time among ``gaps``, and the longest CPU time."""
    return max(wall for wall, _ in gaps), max(cpu for _, cpu in gaps)


def _mirrored(found: Lines, when: float) -> Batch:
    """The batch the UI's relay source makes of the lines it read."""
    return Batch(found.entities, time=when, columns=found.columns, removed=found.removed)


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
    seq = relay.journal.seq
    mirror, relayed = Store(MIRROR_HISTORY, MIRROR_LONGER), Relayed()
    ui = Engine(mirror, [relayed], [], clock=lambda: store_time)
    await engine.collect(1)
    again = relay.document(True, epoch, seq)
    gc.callbacks.append(_time_passes)
    for name, body in (("full", full), ("delta", delta), ("next delta", again)):
        found, worst, p99, cpu = read(body)
        store_time = engine.store.time or time.time()
        landed, step, end = await land(ui, relayed, _mirrored(found, store_time))
        widest = max(map(len, body.split(b"\n")))
        print(f"{nodes:,} nodes demo {name} ({len(body) / 1e6:.1f} MB, widest line "
              f"{widest / 1e3:.0f} kB): UI's longest line {worst * 1000:.1f} ms "
              f"({cpu * 1000:.1f} ms CPU), 99% under {p99 * 1000:.1f} ms")  # fmt: skip
        print(f"  UI lands it via engine (slice {engine_module.MIRROR_SLICE}) in "
              f"{landed[1] * 1000:.0f} ms CPU; longest step {step[1] * 1000:.1f} ms CPU "
              f"({step[0] * 1000:.1f} ms wall), {end[1] * 1000:.1f} ms CPU at the cycle's "
              f"end")  # fmt: skip
        print(f"  garbage collector while it landed: {_passes()}")
    print(f"collector: delta {took * 1000:.0f} ms")
    await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10000, help="8 GPUs each")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--demo", action="store_true", help="the simulator's relay instead")
    parser.add_argument("--slice", type=int, default=engine_module.MIRROR_SLICE,
                        help="readings a mirror merges a step")  # fmt: skip
    args = parser.parse_args()
    engine_module.MIRROR_SLICE = args.slice
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
    landed: list[tuple[float, float]] = []
    merging: list[tuple[float, float]] = []
    ending: list[tuple[float, float]] = []
    mirror, relayed = Store(MIRROR_HISTORY, MIRROR_LONGER), Relayed()
    engine = Engine(mirror, [relayed], [], clock=lambda: clock + len(landed) + 1)
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
        took, step, end_step = asyncio.run(land(engine, relayed, _mirrored(found, clock + n)))
        landed.append(took)
        merging.append(step)
        ending.append(end_step)
    print(f"{args.nodes:,} nodes: {batches[-1].reading_count():,} readings, "
          f"{len(batches[-1].entities):,} entities a refresh")  # fmt: skip
    print(f"collector: store merge          {ms(merge)}")
    print(f"collector: delta ({size / 1e6:.1f} MB)      {ms(delta)}")
    print(f"UI: delta read, line by line    {ms(intake)}")
    print(f"UI: longest line (a key's wait) {ms(longest)}  ({widest / 1e3:.0f} kB the widest)")
    print(f"UI: store merge                 {ms(apply)}")
    for name, steps in (
        (f"lands via engine, slice {args.slice:<5}", landed),
        ("its longest loop step ", merging),
        ("cycle's end, longest  ", ending),
    ):
        walls, cpus = [wall for wall, _ in steps], [cpu for _, cpu in steps]
        print(f"UI: {name}          {ms(walls)}  (CPU: {ms(cpus)})")
    print(f"max RSS (both stores, one process): {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
