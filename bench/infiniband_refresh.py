"""Figures for the real-fabrics issue: one ``type: infiniband`` refresh on ibsim.

Builds leaf/spine fabrics of growing size in ibsim (real ibnetdiscover, perfquery
and opensm, as the tests run them), and times one full refresh of the source
(``ibnetdiscover --ports`` + ``perfquery -x`` of every switch, parse, entities)
and one counters-only refresh (the topology is re-read less often): wall time,
and CPU time of this process and of the tools it ran.

Run (as root, packages from tests/system-deps.sh):
``.venv/bin/python bench/infiniband_refresh.py``
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.ibsim import leaf_spine_net, start_fabric
from watchfloor_fabric.infiniband import InfinibandSource

SIZES = ((12, 4, 8), (48, 8, 8), (96, 16, 8))
"""(leaves, spines, hosts a leaf): 16, 56 and 112 switches."""


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    tools = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, tools.ru_utime + tools.ru_stime


async def _timed(source: InfinibandSource) -> tuple[float, float, float, int, int]:
    cpu_before, tools_before = _cpu()
    start = time.perf_counter()
    batch = await source.poll()
    wall = time.perf_counter() - start
    cpu_after, tools_after = _cpu()
    return (
        wall,
        cpu_after - cpu_before,
        tools_after - tools_before,
        len(batch.entities),
        batch.reading_count(),
    )


async def measure(leaves: int, spines: int, hosts: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        fabric = start_fabric(Path(directory), leaf_spine_net(leaves, spines, hosts))
        os.environ["IBSIM_SOCKNAME"] = fabric.sockname
        try:
            source = InfinibandSource(
                ibnetdiscover=str(fabric.bin / "ibnetdiscover"),
                perfquery=str(fabric.bin / "perfquery"),
                interval=10.0, timeout=60.0, topology_interval=3600.0, concurrency=concurrency,
            )  # fmt: skip
            full = await _timed(source)
            counters = await _timed(source)
            switches = leaves + spines
            ports = leaves * (hosts + spines) + spines * max(leaves, 2) + leaves * hosts
            print(
                f"{switches:4d} switches {ports:5d} ports  conc {concurrency:2d}  "
                f"full refresh {full[0]:6.2f} s wall, CPU {full[1]:5.2f} s here + "
                f"{full[2]:5.2f} s tools ({full[3]} entities, {full[4]} samples)  |  "
                f"counters only {counters[0]:6.2f} s wall, CPU {counters[1]:5.2f} s + "
                f"{counters[2]:5.2f} s tools"
            )
        finally:
            fabric.stop()


async def main() -> None:
    print("one type: infiniband refresh on ibsim (times include ibsim answering MADs)")
    for leaves, spines, hosts in SIZES:
        await measure(leaves, spines, hosts, concurrency=8)
    await measure(*SIZES[-1], concurrency=1)


if __name__ == "__main__":
    asyncio.run(main())
