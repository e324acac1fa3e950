"""Headless output: the store as one JSON document, or as a readable summary."""

from __future__ import annotations

import time
from typing import Any

from console.analysis.causes import Explanation
from console.analysis.cost import CostModel, power_summary
from console.api import SourceStatus
from console.core.model import METRICS, Entity
from console.core.store import Store
from console.core.text import plain

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
PORT_ERRORS = (
    "port.symbol_errors", "port.link_downed", "port.link_error_recovery", "port.rx_errors",
    "port.tx_errors", "port.discards", "port.rx_discards", "port.rx_drops", "port.tx_drops",
    "port.carrier_changes",
)  # fmt: skip
"""A port's error counters: in JSON each as a rate and a total; in text the rates not zero."""
PORT_FIELDS |= {f"{m.split('.', 1)[1]}_per_s": m for m in PORT_ERRORS}
LINK_FIELDS = {"util": "link.util", "util_ab": "link.util_ab", "util_ba": "link.util_ba"}
JOB_FIELDS = {
    "throughput": "job.throughput",
    # inference servers (vLLM)
    "requests_running": "job.requests_running",
    "requests_waiting": "job.requests_waiting",
    "kv_cache_usage_pct": "job.kv_cache_usage",
    "ttft_s": "job.ttft",
}


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


def error_totals(store: Store, ref: str) -> dict[str, float]:
    """A port's error counters as read (totals since the counter's reset), where known."""
    totals = {}
    for metric in PORT_ERRORS:
        reading = store.reading(ref, metric)
        if reading is not None and reading.value is not None:
            totals[metric.split(".", 1)[1]] = reading.value
    return totals


def _port_item(store: Store, entity: Entity) -> dict[str, Any]:
    item = _item(store, entity, PORT_FIELDS)
    item["error_totals"] = error_totals(store, entity.ref)
    return item


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
        "ports": [_port_item(store, e) for e in store.of_kind("port")],
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
    lines += _ports_text(store)
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
        line = (
            f"  {plain(job.ref, 24):<12} {plain(job.name, 24):<24} "
            f"{plain(job.attrs.get('state', '')):<9} {_fmt(throughput)} {plain(unit)}"
        )
        lines.append(line + _serving_text(store, job.ref))
    return "\n".join(lines) + "\n"


def _serving_text(store: Store, ref: str) -> str:
    """An inference server's requests, KV-cache use and time to first token (vLLM)."""
    running = store.value(ref, "job.requests_running")
    waiting = store.value(ref, "job.requests_waiting")
    kv = store.value(ref, "job.kv_cache_usage")
    ttft = store.value(ref, "job.ttft")
    if running is None and waiting is None and kv is None and ttft is None:
        return ""
    ttft_text = "n/a" if ttft is None else f"{ttft * 1000:,.0f} ms"
    return (
        f"  requests {_fmt(running)} running {_fmt(waiting)} waiting, "
        f"KV cache {_fmt(kv, '%')}, TTFT {ttft_text}"
    )


def _rate_text(value: float | None) -> str:
    """Bytes per second, short: ``1.2 GB/s``."""
    if value is None:
        return "n/a"
    for unit, scale in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= scale:
            return f"{value / scale:,.1f} {unit}"
    return f"{value:,.0f} B/s"


def _ports_text(store: Store) -> list[str]:
    """One line per port: state, speed, traffic, and the error rates that are not zero."""
    ports = store.of_kind("port")
    if not ports:
        return []
    width = min(36, max(len(p.ref) for p in ports))
    header = f"{'state':<8}{'speed':>10} {'tx':>10} {'rx':>10}"
    lines = ["", f"PORTS ({len(ports)})".ljust(width + 4) + header]
    for port in ports:
        speed = port.attrs.get("speed_gbps")
        speed_text = f"{speed:g} Gb/s" if isinstance(speed, (int, float)) else "n/a"
        # Rates, not totals: a total since the last reset says little about now.
        errors = "  ".join(
            f"{metric.split('.', 1)[1]} {rate:,.1f}/s"
            for metric in PORT_ERRORS
            if (rate := store.value(port.ref, metric))
        )
        lines.append(
            f"  {plain(port.ref, width):<{width}}  {plain(port.attrs.get('state') or '?', 8):<8}"
            f"{speed_text:>10} {_rate_text(store.value(port.ref, 'port.tx_bytes')):>10} "
            f"{_rate_text(store.value(port.ref, 'port.rx_bytes')):>10}"
            + (f"  errors: {plain(errors, 200)}" if errors else "")
        )
    return lines


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
