"""One refresh of the ``prometheus`` source over 8,000 GPUs (target < 1 s).

The server is a stand-in, not Prometheus (``tests/fakes/prometheus_api.py``): an
aiohttp app on loopback that holds one series per (field, GPU) for the 17
dcgm-exporter default fields the table maps, 1,000 hosts × 8 GPUs with
dcgm-exporter's labels plus ``instance`` and ``job``, and answers the source's
``max by (…)`` / ``count by (…)`` queries as Prometheus would (values as strings,
``[timestamp, "value"]`` pairs). Loading 1,000 agents' worth of data into a real
Prometheus does not fit this 2-core machine; the integration tests check the
queries and answers against a real Prometheus. Answers are built once per query
text, and the stand-in's own objects are frozen out of the garbage collector's
sight (they would not be in the console's process); each refresh pays for the
HTTP transfer, the JSON decode and the mapping into the store's batch.

Three ways of reading are timed:

- the first refresh: the values query and the identity query (GPU model, PCI
  address, MIG profile, pods), joined;
- a later refresh: the values query alone (the identity is re-read every
  ``identity_interval`` seconds, 30 by default, or when new GPUs appear);
- one query with every label (how the source read before the two were split).

Run: ``.venv/bin/python bench/prometheus_query.py [--gpus 8000] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time

sys.path.insert(0, ".")
from tests.fakes.prometheus_api import PrometheusApi
from tests.integration.agents import serving
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


async def timed(source: PrometheusSource) -> float:
    start = time.perf_counter()
    await source.poll()
    return time.perf_counter() - start


def line(label: str, times: list[float]) -> str:
    return (f"{label}: best {min(times) * 1000:5.0f} ms   median "
            f"{statistics.median(times) * 1000:5.0f} ms   ({len(times)} runs)")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    api = PrometheusApi(fleet(args.gpus))
    gc.freeze()  # the stand-in's 136,000 series would not be in the console's process
    async with serving(api.app()) as url:
        first, later, whole = [], [], []
        for _ in range(args.runs):  # a new source: the identity and the values
            source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(30.0, None, None))
            first.append(await timed(source))
            await source.close()
        source = PrometheusSource(url, 1.0, [DcgmTable()], client=Client(30.0, None, None))
        await source.poll()
        for _ in range(args.runs):  # the same source, within identity_interval: values only
            later.append(await timed(source))
        batch = await source.poll()
        await source.close()
        source = PrometheusSource(url, 1.0, [WholeDcgmTable()], client=Client(30.0, None, None))
        for _ in range(args.runs):
            whole.append(await timed(source))
        before = await source.poll()
        await source.close()
    gpus = sum(1 for e in batch.entities if e.kind == "gpu")
    same = sorted((s.ref, s.metric, s.value) for s in batch.samples) == sorted(
        (s.ref, s.metric, s.value) for s in before.samples
    ) and {e.ref: e.attrs for e in batch.entities} == {e.ref: e.attrs for e in before.entities}
    print(f"{len(api.series):,} series; mapped {gpus:,} GPUs, {len(batch.samples):,} samples; "
          f"split and whole reads {'the same' if same else 'DIFFER'}")  # fmt: skip
    for query in dict.fromkeys(api.queries):
        print(f"  {len(api.answer(query)) / 1e6:5.1f} MB  {query[:100]}…")
    print(line("refresh, values + identity", first))
    print(line("refresh, values only      ", later))
    print(line("one query, every label    ", whole))
    print("target: one refresh < 1000 ms")


if __name__ == "__main__":
    asyncio.run(main())
