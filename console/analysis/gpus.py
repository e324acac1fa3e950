"""GPU health findings: lost GPUs, XID errors, throttling, heat."""

from __future__ import annotations

from collections.abc import Iterable

from console.analysis.thresholds import THRESHOLDS
from console.core.model import Entity, Finding
from console.core.store import Store

CRITICAL_XIDS = frozenset({48, 63, 64, 74, 79, 92, 94, 95, 119, 120, 140})
"""XIDs that mean hardware trouble rather than an application fault."""


def _short(ref: str) -> str:
    return ref.removeprefix("gpu/")


def _gpu_finding(store: Store, gpu: Entity) -> Finding | None:
    attrs = gpu.attrs
    health = str(attrs.get("health") or "")
    if health.startswith("lost"):
        return Finding(gpu.ref, "gpu-lost", "critical", f"GPU {_short(gpu.ref)} {health}",
                       evidence=[health])  # fmt: skip
    xid = attrs.get("last_xid")
    if isinstance(xid, dict) and "code" in xid:
        code = int(xid["code"])
        severity = "critical" if code in CRITICAL_XIDS else "warning"
        meaning = xid.get("meaning", "")
        return Finding(gpu.ref, "gpu-xid", severity, f"GPU {_short(gpu.ref)} XID {code}: {meaning}",
                       since=xid.get("time"), evidence=[f"last XID {code}: {meaning}"])  # fmt: skip
    temp = store.value(gpu.ref, "gpu.temp")
    throttled = attrs.get("throttled")
    if not throttled and (temp is None or temp < THRESHOLDS.gpu_hot_c):
        return None  # nearly every GPU of a fleet: no evidence to word
    clock = store.value(gpu.ref, "gpu.sm_clock")
    evidence = []
    if temp is not None:
        evidence.append(f"temperature {temp:.0f} °C (threshold {THRESHOLDS.gpu_hot_c:.0f} °C)")
    if clock is not None:
        evidence.append(f"SM clock {clock:.0f} MHz")
    if throttled:
        reasons = ", ".join(attrs.get("throttle") or ["unknown reason"])
        return Finding(gpu.ref, "gpu-throttled", "warning",
                       f"throttled GPU {_short(gpu.ref)}: {reasons}",
                       evidence=[f"clock-event reasons: {reasons}", *evidence])  # fmt: skip
    if temp is not None and temp >= THRESHOLDS.gpu_hot_c:
        return Finding(gpu.ref, "gpu-hot", "warning", f"hot GPU {_short(gpu.ref)}",
                       evidence=evidence)  # fmt: skip
    return None


def gpu_health(store: Store) -> Iterable[Finding]:
    """At most one finding per GPU: the most serious thing wrong with it (not kept between
    cycles: a GPU's temperature moves nearly every poll, and a well GPU costs one check)."""
    return [f for gpu in store.of_kind("gpu") if (f := _gpu_finding(store, gpu)) is not None]
