"""What every mapping table shares: naming the node a series belongs to, and the batch.

A *table* turns series written in another vocabulary (DCGM fields, node_exporter
names, vLLM's, the agent's own, switch counters) into Watchfloor entities and
readings. The exporter source and the Prometheus query source feed the same
tables: series from Prometheus carry the exporter's names and labels plus
``instance`` and ``job``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

from console.api import Batch, Column, Entity, make_ref, plain
from watchfloor_prometheus.exposition import Series


@dataclass
class Scope:
    """Where the series came from, and what the config says about naming."""

    time: float
    """When the poll happened (seconds since the epoch): rates between polls use it."""
    node: str | None = None
    """The ``node`` option: every node-scoped series belongs to this node."""
    node_label: str | None = None
    """A label that names the node (``node_label``), tried before the exporters' own."""
    default_node: str | None = None
    """The node when no label names one (the exporter URL's host)."""
    instance: str | None = None
    """``host:port`` of the scraped exporter (a vLLM server's identity)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The source's options, for tables with their own (switch labels, vLLM GPUs)."""
    memory: dict[str, Any] = field(default_factory=dict)
    """Kept between polls, per table (counters seen last time, for rates)."""


class Builder:
    """The batch being built: entities by ref, one value per (ref, metric)."""

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.values: dict[tuple[str, str], float | None] = {}

    def entity(self, ref: str, name: str, parent: str | None = None) -> Entity:
        """The entity with this ref, made on first use."""
        entity = self.entities.get(ref)
        if entity is None:
            entity = self.entities[ref] = Entity(ref, name, parent)
        return entity

    def node(self, name: str) -> str:
        """Ref of a node, its entity made on first use."""
        ref = make_ref("node", name)
        if ref not in self.entities:
            self.entities[ref] = Entity(ref, name)
        return ref

    def put(self, ref: str, metric: str, value: float | None) -> None:
        """One reading; a later series for the same (ref, metric) does not replace it."""
        key = (ref, metric)
        if self.values.get(key) is None:
            self.values[key] = value

    def add(self, ref: str, metric: str, value: float) -> None:
        """Add to a reading (a counter summed over priorities or engines)."""
        key = (ref, metric)
        self.values[key] = (self.values.get(key) or 0.0) + value

    def batch(self, time: float) -> Batch:
        """The entities, and the readings as a column per metric (no object each)."""
        columns: dict[str, Column] = {}
        for (ref, metric), value in self.values.items():
            column = columns.get(metric)
            if column is None:
                column = columns[metric] = Column(metric, [], [])
            column.refs.append(ref)
            column.values.append(value)
        entities = list(self.entities.values())
        return Batch(entities=entities, columns=list(columns.values()), time=time)


class Table(Protocol):
    """One exporter's vocabulary mapped into Watchfloor's."""

    name: str
    """Short name used by the ``exporter`` option (``dcgm``, ``node``)."""
    names: str
    """PromQL regex on ``__name__`` that selects this table's series from Prometheus."""
    keep: tuple[str, ...]
    """Labels the table reads; the query source asks Prometheus for these alone."""
    identity: tuple[str, ...]
    """Those of ``keep`` that only describe what a series measures (a GPU's model, its
    pods) and that every series of it carries alike, whatever its name: never one
    that tells two readings apart, nor one only some names have. The query source
    reads them now and then, in a query of their own, instead of with every value."""

    def recognises(self, name: str) -> bool:
        """True for a metric name of this exporter."""

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        """Add the entities and samples these series describe (``series`` may be an
        iterator, read once: the query source makes them as they are read)."""


def clean(text: str, limit: int = 64) -> str:
    """:func:`plain`, skipped for the usual short printable ASCII (the same result, faster)."""
    if len(text) <= limit and text.isascii() and text.isprintable():
        return text
    return plain(text, limit)


def ref_part(text: object, limit: int = 64) -> str:
    """A label value made safe for a ref segment: plain text, no ``/``."""
    return clean(str(text), limit).replace("/", "_").strip() or "?"


def short_host(text: str) -> str:
    """``gpu001.example:9400`` → ``gpu001``; IP addresses stay whole."""
    host = text.strip()
    if host.startswith("["):  # [::1]:9100
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = host.split(".")[0]
    return ref_part(host)


def instance_port(instance: str | None) -> str | None:
    """The port of ``host:port``, if there is one."""
    if not instance or instance.endswith("]") or ":" not in instance:
        return None
    return ref_part(instance.rpartition(":")[2], 8)


def node_namer(scope: Scope, own: tuple[str, ...]) -> Callable[[Mapping[str, str]], str | None]:
    """Names the node of a series: the ``node`` option, the ``node_label``, the
    exporter's own labels (``Hostname``), then ``instance``, then the default."""
    if scope.node:
        fixed = ref_part(scope.node)
        return lambda labels: fixed
    keys = ((scope.node_label,) if scope.node_label else ()) + own + ("instance",)
    default = ref_part(scope.default_node) if scope.default_node else None
    cache: dict[str, str] = {}

    def name(labels: Mapping[str, str]) -> str | None:
        for key in keys:
            value = labels.get(key)
            if value:
                known = cache.get(value)
                if known is None:
                    known = cache[value] = short_host(value)
                return known
        return default

    return name


def route(series: Sequence[Series], tables: Sequence[Table]) -> list[tuple[Table, list[Series]]]:
    """Split series by the table that recognises their names (the first that does)."""
    # Ask once per distinct name (a C-level pass finds them), not once per series.
    owners = {name: next((t for t in tables if t.recognises(name)), None)
              for name in set(map(itemgetter(0), series))}  # fmt: skip
    found = {table.name for table in owners.values() if table is not None}
    if len(found) == 1 and None not in owners.values():
        table = next(table for table in tables if table.name in found)
        return [(table, list(series))]  # the usual case: one exporter's exposition
    groups: dict[str, list[Series]] = {table.name: [] for table in tables}
    buckets = {name: None if t is None else groups[t.name] for name, t in owners.items()}
    for item in series:
        bucket = buckets[item[0]]
        if bucket is not None:
            bucket.append(item)
    return [(table, groups[table.name]) for table in tables if groups[table.name]]


_UNSEEN: Any = object()


__all__ = [
    "Builder",
    "Scope",
    "Table",
    "clean",
    "instance_port",
    "node_namer",
    "ref_part",
    "route",
    "short_host",
]
