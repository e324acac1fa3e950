"""One refresh of the ``prometheus`` source over 1,000 or 10,000 nodes (target < 2 s).

The server is a stand-in, not Prometheus (``tests/fakes/prometheus_api.py``): an
aiohttp app on loopback that holds one series per (field, GPU) for the 17
dcgm-exporter default fields the table maps, 1,000 hosts × 8 GPUs with
dcgm-exporter's labels plus ``instance`` and ``job``, and answers the source's
``max by (…)`` / ``count by (…)`` queries as Prometheus would (values as strings,
``[timestamp, "value"]`` pairs). Loading 1,000 agents' worth of data into a real
Prometheus does not fit this 2-core machine; the integration tests check the
queries and answers against a real Prometheus. The stand-in runs in a process of
its own (as Prometheus would), builds each answer once per query text (an untimed
first refresh asks them all), and its share is timed apart: the same queries
fetched without decoding. Each refresh pays for the HTTP transfer, the JSON
decode and the mapping into the store's batch; RSS is the console side's.

Three ways of reading are timed:

- the first refresh: the values query and the identity query (GPU model, PCI
  address, MIG profile, pods), joined;
- a later refresh: the values query alone (the identity is re-read every
  ``identity_interval`` seconds, 30 by default, or when new GPUs appear), with the
  CPU of its two stages (decoding and joining the answers; mapping them into the
  batch: the rest is HTTP and the event loop);
- a later refresh that reads the identity again (and finds the same label sets);
- one query with every label (how the source read before the two were split).

Run: ``.venv/bin/python bench/prometheus_query.py [--nodes 1000] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import resource
import statistics
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

sys.path.insert(0, ".")
from console.api import Batch, SourceError
from tests.fakes.prometheus_api import PrometheusApi
from tests.integration.agents import serving
from watchfloor_prometheus import query_source
from watchfloor_prometheus.dcgm import DcgmTable
from watchfloor_prometheus.http import Client
from watchfloor_prometheus.query_source import PrometheusSource

FIELDS = {
    "DCGM_FI_DEV_SM_CLOCK": 1755, "DCGM_FI_DEV_MEM_CLOCK": 2619,
    "DCGM_FI_DEV_GPU_TEMP": 61, "DCGM_FI_DEV_POWER_USAGE": 612.481,
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": 81238771234, "DCGM_FI_DEV_GPU_UTIL": 97,
    "DCGM_FI_DEV_MEM_COPY_UTIL": 41, "DCGM_FI_DEV_XID_ERRORS": 0,
    "DCGM_FI_DEV_FB_FREE": 12034, "DCGM_FI_DEV_FB_USED": 69012,
    "DCGM_FI_DEV_FB_RESERVED": 513, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 0,
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 0, "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0,
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.95312, "DCGM_FI_PROF_PCIE_TX_BYTES": 1203311,
    "DCGM_FI_PROF_PCIE_RX_BYTES": 5512033,
}  # fmt: skip


class WholeDcgmTable(DcgmTable):
    """The dcgm table read as before: one query, every label with every value."""

    identity: tuple[str, ...] = ()


def fleet(gpus: int) -> list[tuple[str, dict[str, str], float]]:
    series = []
    for name, value in FIELDS.items():
        for n in range(gpus):
            host, gpu = divmod(n, 8)
            series.append((name, {
                "Hostname": f"gpu{host:04d}", "gpu": str(gpu),
                "UUID": f"GPU-{host:08x}-{gpu:04x}-4b1c-9d2e-5f0a1b2c3d4e",
                "instance": f"gpu{host:04d}.example:9400", "job": "dcgm",
                "modelName": "NVIDIA H100 80GB HBM3",
                "pci_bus_id": f"00000000:{0x18 + 16 * gpu:02X}:00.0",
            }, float(value)))  # fmt: skip
    return series


CPU: list[float] = []
"""This process's CPU time of each timed refresh (all threads): steadier than wall time
on a shared machine."""


STAGES: dict[str, list[float]] = {"decode": [], "map": []}
"""CPU of each refresh's stages (their thread's): decoding the answers and joining them,
then mapping them into the batch; the rest of a refresh's CPU is HTTP and the loop."""


def staged(source: PrometheusSource) -> PrometheusSource:
    """The source, its decode and map stages timed into :data:`STAGES`."""
    for stage, work in (("decode", source._decode), ("map", source._map)):

        def timed_stage(*args: Any, _stage: str = stage, _work: Any = work) -> Any:
            start = time.thread_time()
            try:
                return _work(*args)
            finally:
                STAGES[_stage].append(time.thread_time() - start)

        setattr(source, f"_{stage}", timed_stage)
    return source


RETRIED: list[str] = []
"""Refreshes asked again: on this loaded machine a pooled connection the stand-in has
closed now and then fails a request ("Can not write request body")."""


async def timed(source: PrometheusSource) -> float:
    for attempt in range(2):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            await source.poll()
        except SourceError as exc:
            if attempt or "Can not write request body" not in str(exc):
                raise
            RETRIED.append(str(exc))
            await source.close()  # new connections
            continue
        break
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - start


def line(label: str, times: list[float]) -> str:
    return (f"{label}: best {min(times) * 1000:5.0f} ms   median "
            f"{statistics.median(times) * 1000:5.0f} ms   ({len(times)} runs)")  # fmt: skip


def stand_in(gpus: int, pipe: Connection) -> None:
    """The stand-in's process: serve ``gpus`` GPUs' series until the pipe closes."""

    async def serve() -> None:
        api = PrometheusApi(fleet(gpus))
        gc.freeze()
        async with serving(api.app()) as url:
            pipe.send((url, len(api.series)))
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(serve())


async def fetch_only(source: PrometheusSource, queries: list[str]) -> float:
    """The stand-in's share of a refresh: its answers fetched, none decoded."""
    start = time.perf_counter()
    await asyncio.gather(*(source._query("bench", query) for query in queries))
    return time.perf_counter() - start


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000, help="8 GPUs each")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-whole", action="store_true", help="skip the every-label read")
    parser.add_argument(
        "--peer",
        action="store_true",
        help="the peer: the cyclic GC left running during a refresh (as before)",
    )
    parser.add_argument(
        "--with-uuid",
        action="store_true",
        help="the peer: the values read with the UUID in their key (as before)",
    )
    args = parser.parse_args()
    if args.peer:
        query_source._without_cyclic_gc = lambda work, *more: work(*more)
    if args.with_uuid:
        DcgmTable.spare = ()
    gpus = args.nodes * 8
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=stand_in, args=(gpus, theirs))
    server.start()
    url, count = ours.recv()
    try:
        await measure(url, count, args)
    finally:
        ours.send(None)
        server.join()


async def measure(url: str, count: int, args: argparse.Namespace) -> None:
    asked: list[str] = []
    source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(600.0, None, None))
    query = source._query

    async def recorded(what: str, text: str) -> bytes:
        asked.append(text)
        return await query(what, text)

    source._query = recorded
    start = time.perf_counter()
    await source.poll()  # the stand-in builds its answers (once per query text)
    asked.clear()  # a later refresh reads the values with the key the label sets need
    await source.poll()
    print(f"stand-in: answers built in {time.perf_counter() - start:.1f} s (untimed)")
    await source.close()  # its connections sat idle while the stand-in worked: the server
    # may have closed them (a reused one then fails "Can not write request body")
    source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(60.0, None, None))
    fetched = [await fetch_only(source, list(dict.fromkeys(asked))) for _ in range(args.runs)]
    await source.close()
    first, later, whole = [], [], []
    for _ in range(args.runs):  # a new source: the identity and the values
        source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(60.0, None, None))
        first.append(await timed(source))
        await source.close()
    source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(60.0, None, None))
    await source.poll()  # the identity, and the values with the whole key
    await source.poll()  # the values with the key the label sets need: as from now on
    staged(source)
    for _ in range(args.runs):  # the same source, within identity_interval: values only
        later.append(await timed(source))
    stages = {stage: list(times) for stage, times in STAGES.items()}
    batch = await source.poll()
    await source.close()
    rss = rss_mb()
    again = []  # the same source, the identity read again (every identity_interval)
    source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(60.0, None, None),
                              identity_interval=0.0)  # fmt: skip
    await source.poll()
    await source.poll()
    for _ in range(args.runs):
        again.append(await timed(source))
    await source.close()
    same = "not compared (--no-whole)"
    if not args.no_whole:
        source = PrometheusSource(url, 1.0, [WholeDcgmTable()], client=Client(60.0, None, None))
        for _ in range(args.runs):
            whole.append(await timed(source))
        before = await source.poll()
        await source.close()
        same = "the same" if _same(batch, before) else "DIFFER"
    gpus = sum(1 for e in batch.entities if e.kind == "gpu")
    print(f"{count:,} series; mapped {gpus:,} GPUs, {batch.reading_count():,} readings; "
          f"split and whole reads {same}")  # fmt: skip
    print(line("stand-in's share (fetch)  ", fetched))
    print(line("refresh, values + identity", first))
    print(line("refresh, values only      ", later))
    print(line("  its CPU (this process)  ", CPU[args.runs : 2 * args.runs]))
    print(line("    decode and join (CPU) ", stages["decode"]))
    print(line("    map into batch (CPU)  ", stages["map"]))
    print(line("refresh, identity again   ", again))
    print(line("  its CPU (this process)  ", CPU[2 * args.runs : 3 * args.runs]))
    if whole:
        print(line("one query, every label    ", whole))
    print(f"console side max RSS after the split reads: {rss:.0f} MB")
    if RETRIED:
        print(f"refreshes asked again after a closed connection: {len(RETRIED)}")
    print("target: one refresh < 2000 ms at 10,000 nodes")


def _same(batch: Batch, before: Batch) -> bool:
    return sorted((s.ref, s.metric, s.value) for s in batch.as_samples()) == sorted(
        (s.ref, s.metric, s.value) for s in before.as_samples()
    ) and {e.ref: e.attrs for e in batch.entities} == {e.ref: e.attrs for e in before.entities}


if __name__ == "__main__":
    asyncio.run(main())
