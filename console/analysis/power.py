"""Power findings: racks and nodes over their budgets, GPUs held at a power cap too long."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from console.analysis.thresholds import THRESHOLDS
from console.core.model import Finding
from console.core.store import Store

CAP_REASONS = frozenset({"software power cap", "hardware power brake"})
"""Clock-event reasons that mean the GPU is held by power, not heat."""


@dataclass
class Budgets:
    """Power budgets in watts (``budgets:`` in the config)."""

    racks: dict[str, float] = field(default_factory=dict)
    nodes: dict[str, float] = field(default_factory=dict)


BUDGETS = Budgets()
"""The budgets in force (one console per process)."""


def configure_budgets(racks: dict[str, float], nodes: dict[str, float]) -> None:
    """Apply the budgets from the config."""
    BUDGETS.racks, BUDGETS.nodes = dict(racks), dict(nodes)


def node_draw(store: Store) -> dict[str, float]:
    """Each node's GPU draw in watts."""
    return {
        node.ref: sum(
            store.value(g.ref, "gpu.power") or 0.0 for g in store.children(node.ref, "gpu")
        )
        for node in store.of_kind("node")
    }


def over_budget(store: Store) -> Iterable[Finding]:
    """A finding for each rack or node drawing more than its budget."""
    if not BUDGETS.racks and not BUDGETS.nodes:
        return []  # no budgets, nothing to add up (a fleet's every GPU)
    findings = []
    draw = node_draw(store)
    racks: dict[str, float] = {}
    for node in store.of_kind("node"):
        rack = node.attrs.get("rack")
        if isinstance(rack, str):
            racks[rack] = racks.get(rack, 0.0) + draw.get(node.ref, 0.0)
        budget = BUDGETS.nodes.get(node.name)
        if budget is not None and draw.get(node.ref, 0.0) > budget:
            evidence = [f"draws {draw[node.ref]:,.0f} W of {budget:,.0f} W"]
            title = f"node {node.name} over its power budget"
            findings.append(Finding(node.ref, "node-over-budget", "warning", title,
                                    evidence=evidence))  # fmt: skip
    for rack, watts in racks.items():
        budget = BUDGETS.racks.get(rack)
        if budget is not None and watts > budget:
            members = [n.ref for n in store.of_kind("node") if n.attrs.get("rack") == rack]
            findings.append(Finding(members[0], "rack-over-budget", "critical",
                                    f"rack {rack} over its power budget",
                                    evidence=[f"draws {watts:,.0f} W of {budget:,.0f} W"],
                                    related=members))  # fmt: skip
    return findings


def power_capped(store: Store) -> Iterable[Finding]:
    """A finding for each GPU held at a power cap for ``power_capped_seconds`` or longer."""
    since: dict[str, float] = store.analysis_state.setdefault("capped_since", {})
    now = store.time or 0.0
    findings = []
    for gpu in store.of_kind("gpu"):
        throttle = gpu.attrs.get("throttle")
        if not throttle or CAP_REASONS.isdisjoint(throttle):
            since.pop(gpu.ref, None)
            continue
        start = since.setdefault(gpu.ref, now)
        if now - start >= THRESHOLDS.power_capped_seconds:
            limit = store.value(gpu.ref, "gpu.power_limit")
            title = f"GPU {gpu.ref.removeprefix('gpu/')} power-capped for {now - start:.0f}s"
            evidence = [f"held at its {limit or 0:,.0f} W limit"]
            findings.append(Finding(gpu.ref, "gpu-power-capped", "warning", title, since=start,
                                    evidence=evidence))  # fmt: skip
    return findings
