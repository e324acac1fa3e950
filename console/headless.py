"""Headless output: the store as one JSON document, or as a readable summary."""

from __future__ import annotations

import time
from typing import Any

from console.analysis.causes import Explanation
from console.api import SourceStatus
from console.cost import CostModel, power_summary
from console.model import METRICS, Entity
from console.store import Store
from console.text import plain

GPU_FIELDS = {
    "util": "gpu.util",
    "mem_util": "gpu.mem_util",
    "mem_used_mib": "gpu.mem_used",
    "mem_total_mib": "gpu.mem_total",
    "temp_c": "gpu.temp",
    "power_w": "gpu.power",
    "power_limit_w": "gpu.power_limit",
    "energy_j": "gpu.energy",
    "sm_clock_mhz": "gpu.sm_clock",
    "mem_clock_mhz": "gpu.mem_clock",
    "fan_pct": "gpu.fan",
}
NODE_FIELDS = {
    "cpu_util": "node.cpu_util",
    "mem_used_bytes": "node.mem_used",
    "mem_total_bytes": "node.mem_total",
    "load1": "node.load1",
}
PORT_FIELDS = {
    "tx_bytes_per_s": "port.tx_bytes",
    "rx_bytes_per_s": "port.rx_bytes",
    "xmit_wait_per_s": "port.xmit_wait",
    "ecn_marked_per_s": "port.ecn_marked",
    "cnp_sent_per_s": "port.cnp_sent",
    "symbol_errors_per_s": "port.symbol_errors",
    "discards_per_s": "port.discards",
}
LINK_FIELDS = {"util": "link.util", "util_ab": "link.util_ab", "util_ba": "link.util_ba"}
JOB_FIELDS = {"throughput": "job.throughput"}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _item(store: Store, entity: Entity, fields: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {"ref": entity.ref, "name": entity.name}
    if entity.parent is not None:
        item["parent"] = entity.parent
    item.update(entity.attrs)
    for key, metric in fields.items():
        item[key] = _round(store.value(entity.ref, metric))
    return item


SECTION_KINDS = ("node", "gpu", "port", "link", "switch", "job")
"""Kinds with a section of their own in the snapshot; the rest (plugins' kinds) are
under ``entities``, by kind."""


def other_kinds(store: Store) -> list[str]:
    """Kinds in the store without a section of their own, sorted."""
    return sorted({e.kind for e in store.entities.values()} - set(SECTION_KINDS))


def _any_item(store: Store, entity: Entity) -> dict[str, Any]:
    """An entity of any kind: its facts and every metric it has (rates for counters)."""
    item = _item(store, entity, {})
    item["metrics"] = {m: _round(store.value(entity.ref, m)) for m in store.metrics_of(entity.ref)}
    return item


def snapshot_document(
    store: Store, statuses: list[SourceStatus], cost: CostModel | None = None
) -> dict[str, Any]:
    """Everything the console knows, with the keys DESIGN.md fixes."""
    document: dict[str, Any] = {
        "time": store.time,
        "nodes": [_item(store, e, NODE_FIELDS) for e in store.of_kind("node")],
        "gpus": [_item(store, e, GPU_FIELDS) for e in store.of_kind("gpu")],
        "ports": [_item(store, e, PORT_FIELDS) for e in store.of_kind("port")],
        "links": [_item(store, e, LINK_FIELDS) for e in store.of_kind("link")],
        "switches": [_item(store, e, {}) for e in store.of_kind("switch")],
        "jobs": [_item(store, e, JOB_FIELDS) for e in store.of_kind("job")],
        "findings": [f.to_json() for f in store.findings],
        "sources": [s.to_json() for s in statuses],
        "power": power_summary(store, cost or CostModel()),
        "entities": {
            kind: [_any_item(store, e) for e in store.of_kind(kind)] for kind in other_kinds(store)
        },
    }
    for meta in store.source_meta.values():
        if "scenario" in meta:
            document["sim"] = {
                "scenario": meta["scenario"],
                "seed": meta["seed"],
                "injected": meta["injected"],
            }
    return document


def _fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def _metric_text(store: Store, ref: str, metric: str) -> str:
    """``flow 410.0 l/min``: a metric without its kind prefix, its value and unit."""
    spec = METRICS.get(metric)
    unit = spec.unit + ("/s" if spec.counter else "") if spec is not None else ""
    return f"{metric.split('.', 1)[-1]} {_fmt(store.value(ref, metric), digits=1)} {unit}".rstrip()


def snapshot_text(store: Store, statuses: list[SourceStatus], cost: CostModel | None = None) -> str:
    """A readable summary for a terminal or a ticket."""
    lines: list[str] = []
    power = power_summary(store, cost or CostModel())
    nodes, gpus = store.of_kind("node"), store.of_kind("gpu")
    lines.append(
        f"Watchfloor snapshot: {len(nodes)} nodes, {len(gpus)} GPUs, "
        f"{store.count('link')} links, {store.count('job')} jobs"
    )
    waste = power["waste"]
    lines.append(
        f"Power {power['draw_w'] / 1000:,.1f} kW, energy {power['energy_cost_per_hour']:,.2f} "
        f"{power['currency']}/h; waste: {waste['idle_gpus']} idle GPUs "
        f"{waste['idle_cost_per_hour']:,.2f}/h, stalled jobs "
        f"{waste['stalled_cost_per_hour']:,.2f}/h"
    )
    lines.append("")
    lines.append("SOURCES")
    for status in statuses:
        reason = f"  {status.reason}" if status.reason else ""
        lines.append(f"  {plain(status.name):<20} {status.type:<10} {status.status:<8}{reason}")
    lines.append("")
    lines.append(f"FINDINGS ({len(store.findings)})")
    for finding in store.findings:
        lines.append(f"  {finding.severity.upper():<8} {plain(finding.title)}")
        lines.append(f"           {plain(finding.ref)}")
    lines.append("")
    lines.append("NODES                 GPU util  mem used   temp   power")
    for node in nodes:
        node_gpus = store.children(node.ref, "gpu")
        utils = [store.value(g.ref, "gpu.util") for g in node_gpus]
        known = [u for u in utils if u is not None]
        mean = sum(known) / len(known) if known else None
        mem = sum(store.value(g.ref, "gpu.mem_used") or 0 for g in node_gpus)
        temps = [t for g in node_gpus if (t := store.value(g.ref, "gpu.temp")) is not None]
        watts = sum(store.value(g.ref, "gpu.power") or 0 for g in node_gpus)
        lines.append(
            f"  {plain(node.name, 18):<18} {_fmt(mean, '%'):>9} {mem / 1024:>7,.0f} GiB "
            f"{_fmt(max(temps) if temps else None, '°C'):>6} {watts:>6,.0f} W"
        )
    for kind in other_kinds(store):
        lines.append("")
        lines.append(f"{kind.upper()} ({store.count(kind)})")
        entities = store.of_kind(kind)
        width = min(40, max(len(e.ref) for e in entities))
        for entity in entities:
            values = [_metric_text(store, entity.ref, m) for m in store.metrics_of(entity.ref)]
            lines.append(f"  {plain(entity.ref, width):<{width}}  {plain('  '.join(values), 120)}")
    lines.append("")
    lines.append("JOBS")
    for job in store.of_kind("job"):
        throughput = store.value(job.ref, "job.throughput")
        unit = job.attrs.get("throughput_unit", "")
        lines.append(
            f"  {plain(job.ref, 24):<12} {plain(job.name, 24):<24} "
            f"{plain(job.attrs.get('state', '')):<9} {_fmt(throughput)} {plain(unit)}"
        )
    return "\n".join(lines) + "\n"


def explanation_text(store: Store, result: Explanation) -> str:
    """``explain`` for a person: the stall, the ranked causes, the paths."""
    job = store.get(result.job)
    name = plain(job.name) if job else ""
    lines = [f"{plain(result.job)} {name}"]
    stall = result.stall
    if stall is None:
        lines.append("  not stalled")
    else:
        ago = "" if store.time is None else f" ({(store.time - stall.since) / 60:.0f} min ago)"
        what = "throughput" if stall.metric == "job.throughput" else "GPU utilisation"
        since = time.strftime("%H:%M:%S", time.localtime(stall.since))
        lines.append(f"  STALLED since {since}{ago}: -{stall.loss:.0%} {what} "
                     f"({stall.now:,.0f} of {stall.baseline:,.0f})")  # fmt: skip
    lines.append("")
    lines += causes_lines(result)
    hot = {c.ref for c in result.causes if c.kind == "congested-link"}
    for (src, dst), paths in result.paths.items():
        lines.append("")
        lines.append(f"Paths {plain(src)} → {plain(dst)} ({len(paths)} equal-cost):")
        for path in paths:
            hops = []
            for link_ref, forward in path:
                util = store.value(link_ref, "link.util_ab" if forward else "link.util_ba")
                mark = " ◀ HOT" if link_ref in hot and (util or 0) >= HOT_PATH_UTIL else ""
                hops.append(f"{plain(link_ref.removeprefix('link/'))} {_pct(util)}{mark}")
            lines.append("   " + "  →  ".join(hops))
    return "\n".join(lines) + "\n"


def causes_lines(result: Explanation, limit: int | None = None) -> list[str]:
    """The ranked causes as ``explain`` words them (a page quotes these lines)."""
    lines = ["Suspected causes, most likely first:" if result.causes else "No suspect found."]
    for rank, cause in enumerate(result.causes[:limit], 1):
        lines.append(f" {rank}. {plain(cause.ref)}  [{cause.kind}]  score {cause.score:.2f}")
        lines += [f"      {plain(line)}" for line in cause.evidence]
        if cause.related:
            lines.append(f"      related: {plain(', '.join(cause.related), 400)}")
    return lines


HOT_PATH_UTIL = 90.0
"""A hop of a path is marked hot when a suspect link is this busy in that direction."""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"
