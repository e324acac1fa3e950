"""Parse + map cost of a 1,000-GPU dcgm-exporter exposition (target < 100 ms).

The text is synthetic but shaped like dcgm-exporter's default counters: 125 hosts ×
8 GPUs, every family of etc/default-counters.csv, the labels of dcgm-exporter 3.3+
(gpu, UUID, pci_bus_id, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION).
Prints the best and median of several runs for: the reference parser
(prometheus_client) alone, this plugin's reader alone, and reader + dcgm table.

Run: ``.venv/bin/python bench/exposition.py [--gpus 1000] [--runs 7]``
"""

from __future__ import annotations

import argparse
import statistics
import time

from prometheus_client.parser import text_string_to_metric_families

from watchfloor_prometheus.exporter_source import ExporterSource
from watchfloor_prometheus.exposition import parse
from watchfloor_prometheus.tables import select

FAMILIES = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "1755"), ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "2619"),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "9223372036854775794"),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "61"), ("DCGM_FI_DEV_POWER_USAGE", "gauge", "612.481000"),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "81238771234"),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "0"), ("DCGM_FI_DEV_GPU_UTIL", "gauge", "97"),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "41"), ("DCGM_FI_DEV_ENC_UTIL", "gauge", "0"),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "0"), ("DCGM_FI_DEV_XID_ERRORS", "gauge", "0"),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "12034"), ("DCGM_FI_DEV_FB_USED", "gauge", "69012"),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge", "513"),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "0"),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "0"),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "0"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "0"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "0"),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "0.953120"),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "0.512231"),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "0.410023"),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge", "1203311"),
    ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge", "5512033"),
)  # fmt: skip


def exposition(gpus: int) -> str:
    lines = []
    for name, kind, value in FAMILIES:
        lines += [f"# HELP {name} {name.lower()}.", f"# TYPE {name} {kind}"]
        for n in range(gpus):
            host, gpu = divmod(n, 8)
            lines.append(
                f'{name}{{gpu="{gpu}",UUID="GPU-{host:08x}-{gpu:04x}-4b1c-9d2e-5f0a1b2c3d4e",'
                f'pci_bus_id="00000000:{0x18 + 16 * gpu:02X}:00.0",device="nvidia{gpu}",'
                f'modelName="NVIDIA H100 80GB HBM3",Hostname="gpu{host:04d}",'
                f'DCGM_FI_DRIVER_VERSION="550.54.15"}} {value}'
            )
    return "\n".join(lines) + "\n"


def timed(runs: int, work: object) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    text = exposition(args.gpus)
    source = ExporterSource("http://dcgm:9400/metrics", 1.0, select("dcgm"))
    batch = source.read(text, time.time())
    gpus = sum(1 for e in batch.entities if e.kind == "gpu")
    print(f"{args.gpus} GPUs, {len(text) / 1e6:.1f} MB, {len(text.splitlines()):,} lines; "
          f"mapped {gpus} GPUs, {batch.reading_count():,} readings")  # fmt: skip

    def reference() -> None:
        for family in text_string_to_metric_families(text):
            len(family.samples)

    for label, work, runs in (
        ("prometheus_client parser alone", reference, 3),
        ("watchfloor reader alone       ", lambda: parse(text), args.runs),
        ("reader + dcgm table (the poll)", lambda: source.read(text, time.time()), args.runs),
    ):
        best, median = timed(runs, work)
        print(f"{label}: best {best * 1000:7.1f} ms   median {median * 1000:7.1f} ms")
    print("target: reader + dcgm table < 100 ms")


if __name__ == "__main__":
    main()
