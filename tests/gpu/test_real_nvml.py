"""The NVML source against real GPUs. Runs only where an NVIDIA driver is present.

    python -m pytest tests/gpu -m gpu -s

prints each GPU's readings and the collection time, for docs/hardware/.
"""

from __future__ import annotations

import time

import pytest

from console.api import SourceDisabled
from watchfloor_gpu.nvml import FAST_METRICS, NvmlSource

pytestmark = pytest.mark.gpu

PLAUSIBLE = {
    "gpu.util": (0, 100),
    "gpu.mem_util": (0, 100),
    "gpu.mem_used": (0, 300_000),
    "gpu.mem_total": (1_000, 300_000),
    "gpu.temp": (5, 110),
    "gpu.power": (5, 1_500),
    "gpu.power_limit": (50, 1_500),
    "gpu.energy": (0, 1e15),
    "gpu.sm_clock": (0, 4_000),
    "gpu.mem_clock": (0, 20_000),
    "gpu.fan": (0, 100),
    "gpu.pcie_tx": (0, 1e12),
    "gpu.pcie_rx": (0, 1e12),
}
"""Ranges a real reading must fall in (None, "not available", is always fine)."""


@pytest.fixture(scope="module")
def source() -> NvmlSource:
    nvml = NvmlSource(1.0)
    try:
        nvml._collect()
    except SourceDisabled as exc:
        pytest.skip(f"no NVML on this machine: {exc}")
    return nvml


def test_every_field_is_plausible_or_not_available(source: NvmlSource) -> None:
    batch = source._collect()
    gpus = [e for e in batch.entities if e.kind == "gpu"]
    assert gpus, "NVML started but reported no GPU"
    for gpu in gpus:
        values = {s.metric: s.value for s in batch.samples if s.ref == gpu.ref}
        print(f"\n{gpu.ref} {gpu.attrs.get('model')} {gpu.attrs.get('pci_bus_id')}")
        for metric in FAST_METRICS:
            assert metric in values
        for metric, value in sorted(values.items()):
            print(f"  {metric:<30} {value}")
            if value is not None and metric in PLAUSIBLE:
                low, high = PLAUSIBLE[metric]
                assert low <= value <= high, (gpu.ref, metric, value)
        for key in ("throttle", "pstate", "pcie", "nvlink", "mig", "health", "processes"):
            print(f"  {key:<30} {gpu.attrs.get(key)}")
        assert gpu.attrs["health"] == "ok" or gpu.attrs["health"].startswith(("XID", "lost"))


def test_collection_cost(source: NvmlSource) -> None:
    source._collect()
    cycles = 50
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    for _ in range(cycles):
        batch = source._collect()
    cpu = (time.process_time() - started_cpu) / cycles * 1000
    wall = (time.perf_counter() - started_wall) / cycles * 1000
    gpus = sum(1 for e in batch.entities if e.kind == "gpu")
    print(f"\nNVML collection: {wall:.2f} ms wall, {cpu:.2f} ms CPU per cycle, "
          f"{cpu / gpus:.2f} ms CPU per GPU ({gpus} GPUs)")  # fmt: skip
    assert gpus > 0
