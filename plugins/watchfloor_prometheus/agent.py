"""A Watchfloor agent's own ``/metrics`` mapped back into the vocabulary.

The agent writes ``watchfloor_<metric>_<unit>`` in base units (``_total`` on
counters) with labels ``node`` and ``gpu``/``uuid``, ``port`` or ``ref``
(``console/agent/exposition.py``). This table inverts that naming for every
metric of the vocabulary, so a Prometheus that scrapes the agents is a way to read
the whole fleet with one query.
"""

from __future__ import annotations

from collections.abc import Iterable

from console.api import ENTITY_KINDS, METRICS, make_ref, plain, prometheus_name, ref_kind
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, node_namer, ref_part


def exposed_name(metric: str) -> tuple[str, float]:
    """The name the agent exposes ``metric`` under, and its factor from our unit."""
    name, factor = prometheus_name(metric)
    return (f"{name}_total" if METRICS[metric].counter else name), factor


NAMES: dict[str, tuple[str, float]] = {
    exposed: (metric, 1.0 / factor)
    for metric in METRICS
    for exposed, factor in [exposed_name(metric)]
}
"""Exposed name → (metric, factor back to the vocabulary's unit)."""


class AgentTable:
    """Watchfloor agents' series."""

    name = "watchfloor"
    names = "watchfloor_.+"
    keep: tuple[str, ...] = ("instance", "node", "gpu", "uuid", "port", "ref", "version")
    identity: tuple[str, ...] = ("uuid",)  # (``version`` is on agent_info alone: not identity)

    def recognises(self, name: str) -> bool:
        return name.startswith("watchfloor_")

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        node_of = node_namer(scope, ("node",))
        for name, labels, value in series:
            node = node_of(labels)
            if node is None:
                continue
            if name == "watchfloor_agent_info":
                node_ref = out.node(node)
                out.entities[node_ref].attrs["agent_version"] = plain(labels.get("version"), 32)
                continue
            known = NAMES.get(name)
            if known is None:
                continue
            metric, factor = known
            ref = self._entity(out, node, labels)
            if ref is not None:
                out.put(ref, metric, value * factor)

    def _entity(self, out: Builder, node: str, labels: dict[str, str]) -> str | None:
        node_ref = out.node(node)
        gpu, port, ref = labels.get("gpu"), labels.get("port"), labels.get("ref")
        if gpu:
            gpu_ref = make_ref("gpu", node, ref_part(gpu))
            entity = out.entity(gpu_ref, f"GPU {ref_part(gpu)}", node_ref)
            if labels.get("uuid"):
                entity.attrs["uuid"] = plain(labels["uuid"], 64)
            if gpu.isdecimal():
                entity.attrs["index"] = int(gpu)
            return gpu_ref
        if port:
            name = ref_part(port)
            out.entity(make_ref("port", node, name), name, node_ref)
            return make_ref("port", node, name)
        if ref:
            ref = plain(ref, 200)
            if ref_kind(ref) not in ENTITY_KINDS or "/" not in ref:
                return None
            out.entity(ref, ref.split("/", 1)[1])
            return ref
        return node_ref


TABLE = AgentTable()
"""The agent table."""
