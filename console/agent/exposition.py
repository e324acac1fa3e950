"""The agent's readings in the Prometheus text format, written by ``prometheus_client``.

Names follow Prometheus conventions: ``watchfloor_`` prefix, base units
(bytes, hertz, celsius, watts, joules), ``_total`` on counters. Labels name the
node and the GPU (index and UUID) or port, so one Prometheus can scrape every
agent and still tell GPU 3 of node 17 from GPU 3 of node 18.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from console import __version__
from console.api import SourceStatus
from console.core.model import METRICS, Entity, prometheus_name, ref_kind


def _labels(node: str, ref: str, uuid_of: dict[str, str]) -> dict[str, str]:
    kind = ref_kind(ref)
    parts = ref.split("/")
    labels = {"node": node}
    if kind == "gpu" and len(parts) > 2:
        labels["gpu"] = parts[2]
        labels["uuid"] = uuid_of.get(ref, "")
    elif kind == "port" and len(parts) > 2:
        labels["port"] = parts[2]
    elif kind != "node":
        labels["ref"] = ref
    return labels


class _ReadingsCollector(Collector):
    def __init__(
        self,
        node: str,
        entities: list[Entity],
        samples: list[tuple[str, str, float | None]],
        statuses: list[SourceStatus],
    ) -> None:
        self.node, self.entities, self.samples, self.statuses = node, entities, samples, statuses

    def collect(self) -> Iterator[Metric]:
        uuid_of = {e.ref: str(e.attrs.get("uuid") or "") for e in self.entities if e.kind == "gpu"}
        by_metric: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for ref, metric, value in self.samples:
            if value is not None:
                by_metric[metric].append((_labels(self.node, ref, uuid_of), value))
        for metric in sorted(by_metric):
            name, factor = prometheus_name(metric)
            spec = METRICS.get(metric)
            help_text = spec.description if spec else metric
            rows = by_metric[metric]
            names = sorted({key for labels, _ in rows for key in labels})
            family: GaugeMetricFamily | CounterMetricFamily
            if spec is not None and spec.counter:
                family = CounterMetricFamily(name, help_text, labels=names)
            else:
                family = GaugeMetricFamily(name, help_text, labels=names)
            for labels, value in rows:
                family.add_metric([labels.get(key, "") for key in names], value * factor)
            yield family
        info = GaugeMetricFamily(
            "watchfloor_agent_info", "agent identity", labels=["node", "version"]
        )
        info.add_metric([self.node, __version__], 1.0)
        yield info
        up = GaugeMetricFamily(
            "watchfloor_source_up", "1 when the source's last poll worked", labels=["source"]
        )
        for status in self.statuses:
            up.add_metric([status.name], 1.0 if status.status == "ok" else 0.0)
        yield up


def render_metrics(
    node: str,
    entities: list[Entity],
    samples: list[tuple[str, str, float | None]],
    statuses: list[SourceStatus],
) -> bytes:
    """The exposition text for the agent's current readings."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReadingsCollector(node, entities, samples, statuses))
    return generate_latest(registry)
