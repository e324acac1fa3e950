"""The fleet's health in a handful of figures: what wall mode's big tiles show.

Computed from the store, its findings and the source statuses only (no UI), so
the same figures come out of a console that polls the fleet and of one that
reads a relay (``watchfloor serve``), and tests check them against the headless
snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from console.analysis.cost import CostModel, power_summary
from console.api import SourceStatus
from console.core.model import Finding, ref_kind
from console.core.store import Store

SECURITY_PREFIX = "security-"
"""Findings whose kind starts with this are security findings."""
POWER_KINDS = frozenset({"gpu-power-capped", "node-over-budget", "rack-over-budget"})
"""Findings about power and budgets."""
SILENT_AFTER = 3.0
"""Intervals without a reading after which a GPU is counted as not up (no data)."""
SEVERITY_ORDER = {"ok": 0, "info": 1, "warning": 2, "critical": 3}


@dataclass(frozen=True)
class Figure:
    """One tile: a number, what it means, and how bad it is."""

    label: str
    """What is counted (``GPUs up``)."""
    value: str
    """The number, short enough for big digits (``31``, ``11.3``)."""
    unit: str = ""
    """Shown under the number (``of 32``, ``kW``, ``USD/h``)."""
    state: str = "ok"
    """``ok``, ``info``, ``warning`` or ``critical``."""
    detail: str = ""
    """One more short line (``1 lost``), or ''."""


@dataclass(frozen=True)
class LostSource:
    """A source that is failing or stale now."""

    name: str
    type: str
    status: str
    reason: str
    age: float | None
    """Seconds since its last good poll, if it ever had one."""


@dataclass(frozen=True)
class FleetHealth:
    """Every figure of the wall's tiles."""

    gpus_up: int
    gpus_total: int
    stalled_jobs: int
    congested_links: int
    busy_links: int
    draw_w: float
    cost_per_hour: float
    currency: str
    security_findings: int
    sources_ok: int
    sources_active: int
    lost: list[LostSource] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    """Tile name → worst state (``ok``/``warning``/``critical``)."""

    def figures(self) -> list[tuple[str, Figure]]:
        """``(tile id, figure)`` in display order."""
        st = self.states
        down = self.gpus_total - self.gpus_up
        money = f"{self.currency}/h"
        lost = len(self.lost)
        return [
            ("gpus", Figure("GPUs up", str(self.gpus_up), f"of {self.gpus_total}", st["gpus"],
                            f"{down} down" if down else "")),
            ("stalled", Figure("Stalled jobs", str(self.stalled_jobs),
                               _plural(self.stalled_jobs, "job"), st["stalled"])),
            ("links", Figure("Congested", str(self.congested_links),
                             _plural(self.congested_links, "link"), st["links"],
                             f"{self.busy_links} busy" if self.busy_links else "")),
            ("power", Figure("Power", f"{self.draw_w / 1000:.1f}", "kW", st["power"])),
            ("cost", Figure("Energy cost", f"{self.cost_per_hour:.2f}", money, st["cost"])),
            ("security", Figure("Security", str(self.security_findings), "open", st["security"])),
            ("sources", Figure("Sources ok", str(self.sources_ok), f"of {self.sources_active}",
                               st["sources"], f"{lost} lost" if lost else "")),
        ]  # fmt: skip


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def worst(severities: Iterable[str]) -> str:
    """The most severe of these (``ok`` when there are none)."""
    return max(severities, key=lambda s: SEVERITY_ORDER.get(s, 0), default="ok")


def _up(store: Store, ref: str, health: str, silent_after: float) -> bool:
    if health.startswith("lost"):
        return False
    reading = store.reading(ref, "gpu.util") or store.reading(ref, "gpu.power")
    if reading is None:
        return False
    # A GPU whose node stopped answering still has its last readings: not up.
    return store.time is None or store.time - reading.time <= silent_after


def fleet_health(
    store: Store,
    statuses: list[SourceStatus],
    cost: CostModel,
    now: float,
    interval: float = 1.0,
) -> FleetHealth:
    """The tiles' figures now (``now``: the console's clock, for source ages)."""
    findings: list[Finding] = store.findings
    gpus = store.of_kind("gpu")
    silent_after = SILENT_AFTER * interval + interval
    up = sum(1 for g in gpus if _up(store, g.ref, str(g.attrs.get("health") or ""), silent_after))
    stalled = [f for f in findings if f.kind == "job-stalled"]
    congested = [f for f in findings if f.kind == "link-congested"]
    busy = [f for f in findings if f.kind == "link-hot"]
    security = [f for f in findings if f.kind.startswith(SECURITY_PREFIX)]
    power_findings = [f for f in findings if f.kind in POWER_KINDS]
    gpu_findings = [f for f in findings if ref_kind(f.ref) == "gpu" and f.kind not in POWER_KINDS]
    summary = power_summary(store, cost)
    active = [s for s in statuses if s.status not in ("disabled", "pending")]
    lost = [
        LostSource(s.name, s.type, s.status, s.reason,
                   None if s.last_ok is None else max(0.0, now - s.last_ok))
        for s in active if s.status in ("failed", "stale")
    ]  # fmt: skip
    gpu_state = worst(f.severity for f in gpu_findings)
    if up < len(gpus):
        gpu_state = worst((gpu_state, "warning"))
    states = {
        "gpus": gpu_state,
        "stalled": "critical" if stalled else "ok",
        "links": "critical" if congested else ("warning" if busy else "ok"),
        "power": worst(f.severity for f in power_findings),
        "cost": "warning" if summary["waste"]["stalled_jobs"] else "ok",
        "security": worst(f.severity for f in security),
        "sources": "critical" if lost and len(lost) == len(active) else
                   ("warning" if lost else "ok"),
    }  # fmt: skip
    return FleetHealth(
        gpus_up=up,
        gpus_total=len(gpus),
        stalled_jobs=len(stalled),
        congested_links=len(congested),
        busy_links=len(busy),
        draw_w=float(summary["draw_w"]),
        cost_per_hour=float(summary["energy_cost_per_hour"]),
        currency=str(summary["currency"]),
        security_findings=len(security),
        sources_ok=sum(1 for s in active if s.status == "ok"),
        sources_active=len(active),
        lost=lost,
        states=states,
    )
