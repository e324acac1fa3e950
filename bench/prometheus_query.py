"""One refresh of the ``prometheus`` source over 8,000 GPUs (target < 1 s).

The server is a stand-in, not Prometheus: an aiohttp app on loopback that answers
``POST /api/v1/query`` with exactly the JSON Prometheus returns for the source's
dcgm query (``max by (__name__, <the labels the table reads>) (...)``): one series
per (field, GPU) for the 17 dcgm-exporter default fields the table maps, 1,000
hosts × 8 GPUs, values as strings, ``[timestamp, "value"]`` pairs. Loading 1,000
agents' worth of data into a real Prometheus does not fit this 2-core machine; the
integration tests check the query and answer shapes against a real Prometheus.
The answer is built once; each refresh pays for the HTTP transfer, the JSON
decode and the mapping into the store's batch.

Run: ``.venv/bin/python bench/prometheus_query.py [--gpus 8000] [--runs 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from aiohttp import web

sys.path.insert(0, ".")
from tests.integration.agents import serving
from watchfloor_prometheus.http import Client
from watchfloor_prometheus.query_source import PrometheusSource
from watchfloor_prometheus.tables import select

FIELDS = {
    "DCGM_FI_DEV_SM_CLOCK": "1755", "DCGM_FI_DEV_MEM_CLOCK": "2619",
    "DCGM_FI_DEV_GPU_TEMP": "61", "DCGM_FI_DEV_POWER_USAGE": "612.481",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": "81238771234", "DCGM_FI_DEV_GPU_UTIL": "97",
    "DCGM_FI_DEV_MEM_COPY_UTIL": "41", "DCGM_FI_DEV_XID_ERRORS": "0",
    "DCGM_FI_DEV_FB_FREE": "12034", "DCGM_FI_DEV_FB_USED": "69012",
    "DCGM_FI_DEV_FB_RESERVED": "513", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "0",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": "0", "DCGM_FI_DEV_ROW_REMAP_FAILURE": "0",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "0.95312", "DCGM_FI_PROF_PCIE_TX_BYTES": "1203311",
    "DCGM_FI_PROF_PCIE_RX_BYTES": "5512033",
}  # fmt: skip


def answer(gpus: int) -> bytes:
    now = time.time()
    result = []
    for name, value in FIELDS.items():
        for n in range(gpus):
            host, gpu = divmod(n, 8)
            result.append({
                "metric": {
                    "__name__": name, "Hostname": f"gpu{host:04d}",
                    "UUID": f"GPU-{host:08x}-{gpu:04x}-4b1c-9d2e-5f0a1b2c3d4e", "gpu": str(gpu),
                    "instance": f"gpu{host:04d}.example:9400",
                    "modelName": "NVIDIA H100 80GB HBM3",
                    "pci_bus_id": f"00000000:{0x18 + 16 * gpu:02X}:00.0",
                },
                "value": [now, value],
            })  # fmt: skip
    document = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return json.dumps(document, separators=(",", ":")).encode()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    body = answer(args.gpus)
    queries: list[str] = []

    async def query(request: web.Request) -> web.Response:
        queries.append((await request.post())["query"])  # type: ignore[arg-type]
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/v1/query", query)
    async with serving(app) as url:
        source = PrometheusSource(url, 1.0, select("dcgm"), client=Client(30.0, None, None))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            batch = await source.poll()
            times.append(time.perf_counter() - start)
        await source.close()
    gpus = sum(1 for e in batch.entities if e.kind == "gpu")
    print(f"answer {len(body) / 1e6:.1f} MB, {len(FIELDS) * args.gpus:,} series; "
          f"mapped {gpus:,} GPUs, {len(batch.samples):,} samples")  # fmt: skip
    print(f"query: {queries[0][:120]}…")
    print(f"one refresh: best {min(times) * 1000:.0f} ms   median "
          f"{statistics.median(times) * 1000:.0f} ms   (target < 1000 ms)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
