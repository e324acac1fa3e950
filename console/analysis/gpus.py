"""GPU health findings."""

from __future__ import annotations

from collections.abc import Iterable

from console.model import Finding
from console.store import Store

HOT_TEMP_C = 85.0
"""Core temperature (°C) from which a GPU is reported hot (H100 slows down near 87 °C)."""


def hot_gpus(store: Store) -> Iterable[Finding]:
    """A finding for each GPU running hot, with its clock as evidence."""
    findings = []
    for gpu in store.of_kind("gpu"):
        temp = store.value(gpu.ref, "gpu.temp")
        if temp is None or temp < HOT_TEMP_C:
            continue
        evidence = [f"temperature {temp:.0f} °C (threshold {HOT_TEMP_C:.0f} °C)"]
        clock = store.value(gpu.ref, "gpu.sm_clock")
        if clock is not None:
            evidence.append(f"SM clock {clock:.0f} MHz")
        findings.append(
            Finding(gpu.ref, "gpu-hot", "warning", f"hot GPU {gpu.ref[4:]}", evidence=evidence)
        )
    return findings
