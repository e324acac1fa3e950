"""What every mapping table shares: naming the node a series belongs to, and the batch.

A *table* turns series written in another vocabulary (DCGM fields, node_exporter
names, vLLM's, the agent's own, switch counters) into Watchfloor entities and
readings. The exporter source and the Prometheus query source feed the same
tables: series from Prometheus carry the exporter's names and labels plus
``instance`` and ``job``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
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
        """Readings one at a time (a table may write here as :meth:`put` does)."""
        self._columns: dict[str, Column] = {}
        """Readings given a metric at a time (:meth:`column`), kept as given: at 80,000
        GPUs a dict entry and a tuple per reading cost a second a refresh."""

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
        if metric in self._columns:
            self._spill(metric)
        key = (ref, metric)
        if self.values.get(key) is None:
            self.values[key] = value

    def column(self, metric: str, refs: Sequence[str], values: Sequence[float | None]) -> None:
        """Readings of one metric for distinct refs, the same as :meth:`put` of each."""
        # (Tables give columns first, when values is empty: the scan below is then free.)
        if metric in self._columns or metric in {m for _, m in self.values}:
            if metric in self._columns:
                self._spill(metric)
            for key, value in zip(zip(refs, repeat(metric)), values, strict=True):
                if self.values.get(key) is None:
                    self.values[key] = value
        else:
            self._columns[metric] = Column(metric, list(refs), list(values))

    def add(self, ref: str, metric: str, value: float) -> None:
        """Add to a reading (a counter summed over priorities or engines)."""
        if metric in self._columns:
            self._spill(metric)
        key = (ref, metric)
        self.values[key] = (self.values.get(key) or 0.0) + value

    def _spill(self, metric: str) -> None:
        """A column's readings into :attr:`values`, as if put before what is there."""
        column = self._columns.pop(metric)
        readings = self.values
        for key, value in zip(zip(column.refs, repeat(metric)), column.values, strict=True):
            if value is not None or key not in readings:
                readings[key] = value

    def batch(self, time: float) -> Batch:
        """The entities, and the readings as a column per metric (no object each)."""
        for metric in {m for _, m in self.values}.intersection(self._columns):
            self._spill(metric)  # a table wrote this metric's readings into values itself
        columns: dict[str, Column] = {}
        for (ref, metric), value in self.values.items():
            column = columns.get(metric)
            if column is None:
                column = columns[metric] = Column(metric, [], [])
            column.refs.append(ref)
            column.values.append(value)
        entities = list(self.entities.values())
        return Batch(entities=entities, columns=[*columns.values(), *self._columns.values()],
                     time=time)  # fmt: skip


@dataclass(slots=True)
class NameValues:
    """One metric name's series as columns (the query source's answer to one name): a
    label set and a value per series. Iterating gives the series, for :meth:`Table.map`."""

    name: str
    labels: list[dict[str, str]]
    """One per series; a label set shared by several names is the same object in each."""
    values: list[float]

    def __iter__(self) -> Iterator[Series]:
        return zip(repeat(self.name), self.labels, self.values)

    def __len__(self) -> int:
        return len(self.values)


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
        iterator, read once: the query source makes them as they are read).

        A table may also have ``map_columns(columns: list[NameValues], scope, out) ->
        bool``: the same for series given a name at a time, as the query source reads
        them, or False, having added nothing, for series it leaves to ``map``; and
        ``spare``, labels the query source may read the values without while the
        label sets read are told apart without them (dcgm-exporter's UUID)."""


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
    "NameValues",
    "Scope",
    "Table",
    "clean",
    "instance_port",
    "node_namer",
    "ref_part",
    "route",
    "short_host",
]
