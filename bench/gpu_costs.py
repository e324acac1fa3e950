"""Collection and refresh costs for the GPU issue.

1. NVML collection: CPU ms per cycle per GPU of the NVML reader, over a binding
   that replays the recorded H100 (no GPU here, so the driver's own time is not
   in this figure; on a lent GPU machine run tests/gpu for real timings).
2. Host collection: CPU ms per collection of the host source against
   node_exporter's sysfs fixture tree.
3. GPU table refresh with 8,000 GPUs (1,000 simulated nodes): ms per refresh
   of the GPU pane (rows rebuilt from the store and synced into the table).

Run: ``.venv/bin/python bench/gpu_costs.py``
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from console.core.config import Config  # noqa: E402
from console.core.runtime import DemoOptions, build_sources, load_registry  # noqa: E402
from console.ui.app import WatchfloorApp  # noqa: E402
from tests.fakes.fake_nvml import FakeGpu, FakeNvml  # noqa: E402
from watchfloor_gpu.nvml import NvmlReader  # noqa: E402
from watchfloor_host.source import HostSource  # noqa: E402


def cpu_ms(call, repeat: int) -> float:  # type: ignore[no-untyped-def]
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat * 1000


def nvml_cost(gpus: int = 8, cycles: int = 300) -> None:
    fake = FakeNvml([FakeGpu(uuid=f"GPU-{i}") for i in range(gpus)])
    reader = NvmlReader(fake, "bench")  # type: ignore[arg-type]
    reader.collect()  # identity and slow fields cached, as in steady state
    per_cycle = cpu_ms(reader.collect, cycles)
    print(f"NVML reader, {gpus} recorded H100s: {per_cycle:.3f} ms CPU per cycle, "
          f"{per_cycle / gpus:.3f} ms per GPU (target < 1 ms per GPU)")  # fmt: skip


def host_cost(cycles: int = 300) -> None:
    tree = ROOT / "tests" / "fixtures" / "node_exporter" / "sys" / "sys"
    source = HostSource(1.0, str(tree), node="bench")
    source.collect()
    per_cycle = cpu_ms(source.collect, cycles)
    print(f"host source on the node_exporter fixture tree: {per_cycle:.3f} ms CPU per collection")


async def table_cost(nodes: int = 1000, refreshes: int = 20) -> None:
    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(nodes=nodes), local=False)
    app = WatchfloorApp(registry, sources, live=False, warm_cycles=2)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.press("g")
        screen = app.screen
        times = []
        for _ in range(refreshes):
            await app.engine.collect(1)  # new values for every GPU
            started = time.perf_counter()
            screen.pane.refresh_view()  # type: ignore[attr-defined]
            times.append((time.perf_counter() - started) * 1000)
            await pilot.pause()
        print(f"GPU table, {app.store.count('gpu')} GPUs: refresh median "
              f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms "
              f"(target < 50 ms)")  # fmt: skip


def main() -> None:
    nvml_cost()
    host_cost()
    asyncio.run(table_cost())


if __name__ == "__main__":
    main()
