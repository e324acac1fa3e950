"""The ``prometheus`` source: the fleet from a Prometheus-compatible query API.

Instead of polling every node, one console asks Prometheus (or VictoriaMetrics,
Thanos, Mimir) for the latest value of every series the mapping tables know,
``max by (the labels the table reads) ({__name__=~"…"})``, so a 1,000-node fleet
is a handful of requests whose answers carry only the labels that matter. The
series keep the exporters' names and labels (plus ``instance``), so the same
tables as the exporter source map them.

Tables with many series per entity and labels that only *describe* it (dcgm-exporter's
``modelName``, ``pci_bus_id``, MIG profile and pods; an agent's GPU UUID: the
table's ``identity``) are read in two parts, joined here so the table sees the same
series as from one query:

- every ``identity_interval`` seconds (30 by default), and at once when a series
  appears whose labels the last read did not know (a new GPU): the label sets,
  ``count by (every label the table reads) (…)``, one per GPU rather than one per
  field and GPU; and which metric names exist, ``count by (__name__) (…)``;
- every refresh, the values with only the labels that tell readings apart
  (``key``): one query per metric name, ``max by (key) ({__name__="…"})``, whose
  label sets repeat from name to name, so each distinct one is read once; and one
  query for any name the last read did not list (usually an empty answer).

For 8,000 GPUs that is 22 MB of JSON per refresh instead of 37 MB, and a refresh
takes half the time (``bench/prometheus_query.py``). At 10,000 nodes a refresh is
still 1.4 million series in 215 MB, so nothing is done per series in Python:

- answers are decoded with ``msgspec`` into objects the garbage collector does not
  track, the values read as numbers as they are decoded;
- a label set's JSON text is decoded and joined once per identity read (the
  ``Join`` is kept while the label sets read stay the same), and a name's answer
  that lists the texts of the last one in the same order (each name lists the GPUs
  alike) is joined by comparing the texts, none copied or looked up;
- each name's answer is a column (:class:`NameValues`), which a table with
  ``map_columns`` (dcgm-exporter's) maps a column at a time into the batch's
  columns; other tables, and fleets it leaves to ``map`` (MIG, pods), read the
  series made from the columns.

All of it runs off the event loop, with the cyclic garbage collector paused (the
collector's passes over a refresh's objects while they are made took two thirds of
making them).

A server that does not answer, or a query it refuses (its ``errorType`` and
``error`` are the reason), fails the poll: the engine shows the source failed
and keeps the last good data.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from console.api import Batch, Source, SourceContext, SourceError, plain
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.http import Client, read_token, ssl_context
from watchfloor_prometheus.mapping import Builder, NameValues, Scope, Table
from watchfloor_prometheus.tables import map_series, select

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
Labels = tuple[str, ...]
LabelSets = dict[tuple[str | None, ...], list[dict[str, str]]]
"""Label sets from an identity answer, by their values of the table's ``key`` labels."""


def promql(table: Table, selector: str, extra_labels: tuple[str, ...]) -> str:
    """The one query that reads all of a table's series (latest value, needed labels only)."""
    keep = ", ".join(dict.fromkeys(("__name__", *table.keep, *extra_labels)))
    return f"max by ({keep}) ({{{_matchers(table.names, selector)}}})"


def value_labels(table: Table, extra_labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels that tell a table's readings apart: what it reads less its identity."""
    return tuple(
        label
        for label in dict.fromkeys((*table.keep, *extra_labels))
        if label not in table.identity or label in extra_labels
    )


def _matchers(names: str, selector: str, *more: str) -> str:
    return ", ".join((f'__name__=~"{names}"', *more, *((selector,) if selector else ())))


@dataclass(eq=False)
class TableQueries:
    """How one table is read, and what its last identity read found."""

    table: Table
    selector: str
    extra_labels: tuple[str, ...]
    key: tuple[str, ...] = ()
    """The labels values are read with (besides the name); empty: one query, every label."""
    names: tuple[str, ...] = ()
    """The metric names the last identity read found, each read with a query of its own."""
    label_sets: LabelSets = field(default_factory=dict)
    value_key: tuple[str, ...] = ()
    """``key`` less the table's ``spare`` labels, when the last label sets read are told
    apart without them: the values are then read with it (empty: with ``key``)."""
    asked_key: tuple[str, ...] = ()
    """The key the values last asked for were read with (:meth:`values`)."""
    identity_texts: list[bytes] | None = None
    """The label sets of the last identity answer as written: the same texts again,
    the same label sets, not decoded again."""
    join: Join | None = None
    """The values joined to ``label_sets``, kept until they change."""
    read_at: float = -math.inf
    """When the identity was last read (``time.monotonic``)."""

    @property
    def split(self) -> bool:
        return bool(self.key)

    def whole(self) -> str:
        return promql(self.table, self.selector, self.extra_labels)

    def identity(self) -> tuple[str, str]:
        """The label-sets query and the names query."""
        everything = (*self.key, *(label for label in self.table.identity if label not in self.key))
        matchers = _matchers(self.table.names, self.selector)
        return (f"count by ({', '.join(everything)}) ({{{matchers}}})",
                f"count by (__name__) ({{{matchers}}})")  # fmt: skip

    def values(self) -> list[tuple[str | None, str]]:
        """(name, query) for each known name, then (None, the query for any other name)."""
        self.asked_key = self.value_key or self.key
        key = ", ".join(self.asked_key)
        selector = (self.selector,) if self.selector else ()
        queries: list[tuple[str | None, str]] = []
        for name in self.names:
            matchers = ", ".join(('__name__="' + name + '"', *selector))
            queries.append((name, f"max by ({key}) ({{{matchers}}})"))
        others = (f'__name__!~"{"|".join(self.names)}"',) if self.names else ()
        matchers = _matchers(self.table.names, self.selector, *others)
        queries.append((None, f"max by (__name__, {key}) ({{{matchers}}})"))
        return queries


class _Point(msgspec.Struct, array_like=True, gc=False):
    """``[timestamp, "value"]``: Prometheus writes the value as a string."""

    time: float
    value: str


class _Sample(msgspec.Struct, gc=False):
    metric: dict[str, str]
    value: _Point


class _Data(msgspec.Struct, gc=False):
    resultType: str  # the API's own key
    result: list[_Sample] | None = None


class _Answer(msgspec.Struct, gc=False):
    status: str
    data: _Data | None = None


class _Number(msgspec.Struct, array_like=True, gc=False):
    """``[timestamp, "value"]`` with the value read as a number while decoding."""

    time: float
    value: float


class _RawSample(msgspec.Struct, gc=False):
    metric: msgspec.Raw
    """The label set's JSON as written: the same bytes for the same labels."""
    value: _Number


class _RawData(msgspec.Struct, gc=False):
    resultType: str
    result: list[_RawSample] | None = None


class _RawAnswer(msgspec.Struct, gc=False):
    status: str
    data: _RawData | None = None


class _RangeSeries(msgspec.Struct, gc=False):
    metric: dict[str, str]
    values: list[_Point]


class _RangeData(msgspec.Struct, gc=False):
    resultType: str
    result: list[_RangeSeries] | None = None


class _RangeAnswer(msgspec.Struct, gc=False):
    status: str
    data: _RangeData | None = None
    errorType: str | None = None
    error: str | None = None


_RANGE_ANSWER = msgspec.json.Decoder(_RangeAnswer)
"""A ``query_range`` answer (a matrix): each series with its ``[time, "value"]`` points."""
MAX_PAST_STEPS = 240
"""Most points a range read asks for per series: a longer span gets a longer step."""
_ANSWER = msgspec.json.Decoder(_Answer)
"""The usual answer, decoded into typed objects the garbage collector does not track:
3x faster than ``json.loads`` on 8,000 GPUs' answer."""
_RAW_ANSWER = msgspec.json.Decoder(_RawAnswer, strict=False)
"""An answer whose label sets stay JSON text, decoded once per distinct text, and whose
values are read as numbers from Prometheus's strings as they are decoded (``strict=False``;
one it does not read, "+Inf" or "0x1", sends the answer the careful way)."""
_LABELS = msgspec.json.Decoder(dict[str, str])
_METRIC = attrgetter("metric")
_VALUE = attrgetter("value.value")


def _samples(body: bytes, what: str) -> list[_Sample]:
    """The instant vector of an answer, or SourceError with the API's own reason."""
    try:
        answer = _ANSWER.decode(body)
    except msgspec.DecodeError:  # not JSON, or not the usual shape: the careful reading says
        return _samples_of_any(body, what)
    data = answer.data
    if answer.status != "success" or data is None or data.resultType != "vector":
        return _samples_of_any(body, what)
    return data.result or []


def _samples_of_any(body: bytes, what: str) -> list[_Sample]:
    """Any answer, read with ``json``: the API's reason for an error, malformed series left out."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        start = plain(body[:80].decode("utf-8", "replace"), 80)
        raise SourceError(f"{what}: not a Prometheus API answer: {start!r}") from None
    if not isinstance(document, dict):
        raise SourceError(f"{what}: not a Prometheus API answer")
    if document.get("status") != "success":
        kind = plain(document.get("errorType") or "error", 40)
        raise SourceError(f"{what}: {kind}: {plain(document.get('error') or '?', 240)}")
    data = document.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        found = data.get("resultType") if isinstance(data, dict) else None
        raise SourceError(f"{what}: expected an instant vector, got {plain(found)}")
    samples = []
    for item in data.get("result") or ():
        try:
            labels, value = item["metric"], item["value"][1]
        except (KeyError, IndexError, TypeError):
            continue  # one malformed series is left out, not the whole answer
        if not isinstance(labels, dict) or not isinstance(value, str | int | float):
            continue
        if all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            samples.append(_Sample(labels, _Point(0.0, str(value))))
    return samples


def decode_vector(body: bytes, what: str) -> list[Series]:
    """Series from an ``/api/v1/query`` answer, or SourceError with the API's own reason."""
    series: list[Series] = []
    append = series.append
    # One dict per distinct label set, shared by its series, as the exposition reader
    # does: the tables resolve each label set once, not once per series.
    shared: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for sample in _samples(body, what):
        labels = sample.metric
        name = labels.pop("__name__", None)
        try:
            value = float(sample.value.value)
        except ValueError:
            continue  # one malformed series is left out, not the whole answer
        if name is not None:
            append((name, shared.setdefault(tuple(labels.items()), labels), value))
    return series


def decode_matrix(body: bytes, what: str) -> dict[float, list[Series]]:
    """The series of a ``/api/v1/query_range`` answer by point time, or SourceError with
    the API's own reason."""
    try:
        answer = _RANGE_ANSWER.decode(body)
    except msgspec.DecodeError:
        start = plain(body[:80].decode("utf-8", "replace"), 80)
        raise SourceError(f"{what}: not a Prometheus range answer: {start!r}") from None
    if answer.status != "success":
        kind = plain(answer.errorType or "error", 40)
        raise SourceError(f"{what}: {kind}: {plain(answer.error or '?', 240)}")
    if answer.data is None or answer.data.resultType != "matrix":
        found = answer.data.resultType if answer.data is not None else None
        raise SourceError(f"{what}: expected a range vector, got {plain(found)}")
    by_time: dict[float, list[Series]] = {}
    for each in answer.data.result or []:
        labels = each.metric
        name = labels.pop("__name__", None)
        if name is None:
            continue
        for point in each.values:
            try:
                value = float(point.value)
            except ValueError:
                continue  # one malformed point is left out, not the whole answer
            by_time.setdefault(point.time, []).append((name, labels, value))
    return by_time


def decode_label_sets(body: bytes, what: str, key: tuple[str, ...]) -> LabelSets:
    """An identity answer: each label set, filed under its values of ``key``."""
    label_sets: LabelSets = {}
    for sample in _samples(body, what):
        labels = sample.metric
        labels.pop("__name__", None)
        label_sets.setdefault(tuple(map(labels.get, key)), []).append(labels)
    return label_sets


def shorter_key(key: Labels, spare: Labels, label_sets: LabelSets) -> Labels:
    """``key`` less the ``spare`` labels if these label sets (filed under ``key``) are
    still told apart without them, else empty. dcgm-exporter's UUID: ``gpu`` tells a
    node's GPUs apart, and each answer is a third shorter without it. (A GPU new since
    the read that only its UUID told apart is read with another's until the next.)"""
    shorter = tuple(label for label in key if label not in spare)
    if shorter == key or not label_sets:
        return ()
    kept = [key.index(label) for label in shorter]
    seen: set[tuple[str | None, ...]] = set()
    for values_of_key in label_sets:
        short = tuple(values_of_key[i] for i in kept)
        if short in seen:
            return ()
        seen.add(short)
    return shorter


def refiled(label_sets: LabelSets, key: Labels, shorter: Labels) -> LabelSets:
    """Label sets filed under ``key``, filed under ``shorter`` (some of its labels)."""
    if shorter == key:
        return label_sets
    kept = [key.index(label) for label in shorter]
    found: LabelSets = {}
    for values_of_key, sets in label_sets.items():
        found.setdefault(tuple(values_of_key[i] for i in kept), []).extend(sets)
    return found


def label_set_texts(body: bytes) -> list[bytes] | None:
    """An identity answer's label sets as written (None: not the usual answer): the same
    texts again, the same label sets, without making a dict of each (80,000 GPUs)."""
    try:
        answer = _RAW_ANSWER.decode(body)
    except msgspec.DecodeError:
        return None
    data = answer.data if answer.status == "success" else None
    if data is None or data.resultType != "vector":
        return None
    return list(map(bytes, map(_METRIC, data.result or [])))


def decode_names(body: bytes, what: str) -> tuple[str, ...]:
    """A names answer (``count by (__name__)``): the metric names, sorted (only names
    that are metric names: each goes into a query of its own)."""
    names = {sample.metric.get("__name__") or "" for sample in _samples(body, what)}
    return tuple(sorted(name for name in names if METRIC_NAME.fullmatch(name)))


class Join:
    """Values joined to the last identity read. Kept from refresh to refresh until the
    identity is read again, so each label set's JSON text is decoded and joined once
    per identity read, not once per refresh (the label sets seldom change)."""

    def __init__(self, key: tuple[str, ...], label_sets: LabelSets) -> None:
        self.key = key
        self.label_sets = label_sets
        self.unknown = False
        """Some series had a label set the identity read did not know (a new GPU)."""
        self.several = False
        """Some label set stands for several (one GPU, several pods)."""
        self._found: dict[bytes, list[dict[str, str]]] = {}
        self._first: dict[bytes, dict[str, str]] = {}
        """The first of each text's label sets (the only one unless :attr:`several`)."""
        self._by_key: dict[tuple[str | None, ...], list[dict[str, str]]] = {}
        self._unknown_keys: list[tuple[str | None, ...]] = []
        self._order: tuple[list[msgspec.Raw], list[dict[str, str]]] | None = None
        """One answer's label set texts in order (they hold its body) and their labels."""

    def begin(self) -> None:
        """A new refresh: label sets the identity read did not know are looked up (and
        reported in :attr:`unknown`) again."""
        if self.unknown:
            self._found.clear()
            self._first.clear()
            self._order = None
            for values_of_key in self._unknown_keys:
                del self._by_key[values_of_key]
            self._unknown_keys.clear()
            self.unknown = False

    def labels(self, labels: dict[str, str]) -> list[dict[str, str]]:
        """The identity label sets a series with these (key) labels gets."""
        values_of_key = tuple(map(labels.get, self.key))
        known = self._by_key.get(values_of_key)
        if known is None:
            known = self.label_sets.get(values_of_key)
            if known is None:
                self.unknown = True
                self._unknown_keys.append(values_of_key)
                known = [labels]  # its own labels, until the identity is read again
            self._by_key[values_of_key] = known
            self.several = self.several or len(known) > 1
        return known

    def decode_name(self, body: bytes, what: str, name: str) -> Iterable[Series]:
        """One name's answer (``max by (key) ({__name__="…"})``), joined: columns, or
        where a label set stands for several, the series. Made without a tuple per
        series: 1.4 million tuples that live through a refresh cost the garbage
        collector more than making them did."""
        try:
            answer = _RAW_ANSWER.decode(body)
        except msgspec.DecodeError:
            answer = None
        data = answer.data if answer is not None and answer.status == "success" else None
        if data is None or data.resultType != "vector":
            return self.decode(body, what, name)  # the careful reading, and its reasons
        samples = data.result or []
        # C-level passes over the series; Python work once per distinct label set.
        raws = list(map(_METRIC, samples))
        values = list(map(_VALUE, samples))
        if self._order is not None and raws == self._order[0]:
            # The label sets of the last answer in its order (each name's answer lists
            # the GPUs alike): compared as written, none copied or looked up.
            return NameValues(name, self._order[1], values)
        texts = list(map(bytes, raws))
        found, first = self._found, self._first
        try:
            labels = list(map(first.__getitem__, texts))
        except KeyError:  # label sets not seen since the identity was read
            for text in set(texts).difference(found):
                try:
                    found[text] = self.labels(_LABELS.decode(text))
                except msgspec.DecodeError:
                    return self.decode(body, what, name)  # a label that is not a string
                first[text] = found[text][0]
            labels = list(map(first.__getitem__, texts))
        if self.several:
            return [(name, each, value) for text, value in zip(texts, values, strict=True)
                    for each in found[text]]  # fmt: skip
        self._order = (raws, labels)
        return NameValues(name, labels, values)

    def decode(self, body: bytes, what: str, name: str | None = None) -> list[Series]:
        """Any answer with the key labels (and ``__name__`` unless ``name`` is given), joined."""
        series: list[Series] = []
        append = series.append
        for sample in _samples(body, what):
            labels = sample.metric
            written = labels.pop("__name__", None)
            try:
                value = float(sample.value.value)
            except ValueError:
                continue  # one malformed series is left out, not the whole answer
            if name or written:
                for each in self.labels(labels):
                    append((name or written, each, value))  # type: ignore[arg-type]
        return series


class PrometheusSource(Source):
    """One Prometheus server, read with a query or a few per mapping table."""

    type = "prometheus"

    def __init__(
        self,
        url: str,
        interval: float,
        tables: list[Table],
        selector: str = "",
        timeout: float = 10.0,
        node_label: str | None = None,
        options: dict[str, Any] | None = None,
        client: Client | None = None,
        identity_interval: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = f"prometheus:{self.url.split('://', 1)[-1]}"
        self.interval = interval
        self.request_timeout = timeout
        # A refresh is one round of queries, each with its own timeout; the first (the
        # names, then the rest) and one that meets a new GPU are two.
        self.timeout = 2 * timeout + 2.0
        self.tables = tables
        self.identity_interval = identity_interval
        options = options or {}
        extra = tuple(str(options[k]) for k in ("node_label", "switch_label", "port_label")
                      if options.get(k))  # fmt: skip
        self.queries = [
            TableQueries(table, selector, extra, value_labels(table, extra) * bool(table.identity))
            for table in tables
        ]
        self.scope = Scope(time=0.0, node_label=node_label, options=options)
        self.client = client or Client(timeout, None, None)

    async def poll(self) -> Batch:
        started = time.monotonic()
        due = [q for q in self.queries
               if q.split and started - q.read_at >= self.identity_interval]  # fmt: skip
        unlisted = [q for q in due if q.read_at == -math.inf]
        if unlisted:  # first, which names there are: then each is read with its own query
            bodies = await _all(*(self._query(f"{q.table.name} identity query", q.identity()[1])
                                  for q in unlisted))  # fmt: skip
            for q, body in zip(unlisted, bodies, strict=True):
                q.names = decode_names(body, f"{q.table.name} identity query")
        asked = [(q, name, text) for q in self.queries
                 for name, text in (q.values() if q.split else [(None, q.whole())])]  # fmt: skip
        bodies = await _all(
            *(self._query(f"{q.table.name} query", text) for q, _, text in asked),
            *(self._query(f"{q.table.name} identity query", text)
              for q in due for text in q.identity()),
        )  # fmt: skip
        now = time.time()
        answers = [(q, name, body) for (q, name, _), body in zip(asked, bodies, strict=False)]
        identities = [(q, bodies[len(asked) + 2 * i], bodies[len(asked) + 2 * i + 1])
                      for i, q in enumerate(due)]  # fmt: skip
        decoded, late = await _off_loop(self._decode, answers, identities, started)
        if late:  # series the last identity read did not know (new GPUs): read it now
            bodies = await _all(
                *(self._query(f"{q.table.name} identity query", text)
                  for q in late for text in q.identity())
            )  # fmt: skip
            identities = [(q, bodies[2 * i], bodies[2 * i + 1]) for i, q in enumerate(late)]
            again = [answer for answer in answers if answer[0] in late]
            redone, _ = await _off_loop(self._decode, again, identities, time.monotonic())
            decoded.update(redone)
        return await _off_loop(self._map, decoded, now)

    def _decode(
        self,
        answers: list[tuple[TableQueries, str | None, bytes]],
        identities: list[tuple[TableQueries, bytes, bytes]],
        read_at: float,
    ) -> tuple[dict[int, list[Iterable[Series]]], list[TableQueries]]:
        """Each table's series, by its place in ``self.queries`` (blocking), and the
        tables whose identity read is behind the values."""
        for q, label_sets, names in identities:
            what = f"{q.table.name} identity query"
            texts = label_set_texts(label_sets)
            if texts is None or texts != q.identity_texts:
                found = decode_label_sets(label_sets, what, q.key)
                if found != q.label_sets:  # unchanged, the usual: the joins made stay good
                    q.label_sets, q.join = found, None
                    q.value_key = shorter_key(q.key, getattr(q.table, "spare", ()), found)
                q.identity_texts = texts
            q.names = decode_names(names, what)
            q.read_at = read_at
        decoded: dict[int, list[Iterable[Series]]] = {}
        joins: dict[int, Join] = {}
        for q, name, body in answers:
            what = f"{q.table.name} query"
            index = self.queries.index(q)
            parts = decoded.setdefault(index, [])
            if not q.split:
                parts.append(decode_vector(body, what))
                continue
            join = joins.get(index)
            if join is None:
                if q.join is None or q.join.key != q.asked_key:
                    q.join = Join(q.asked_key, refiled(q.label_sets, q.key, q.asked_key))
                join = joins[index] = q.join
                join.begin()
            if name is not None:
                parts.append(join.decode_name(body, what, name))
                continue
            others = join.decode(body, what)
            if {name for name, _, _ in others}.difference(q.names):
                q.read_at = -math.inf  # a name the last read did not list: list them again
            parts.append(others)
        late = [q for i, q in enumerate(self.queries)
                if i in joins and joins[i].unknown and q.read_at != read_at]  # fmt: skip
        return decoded, late

    def _map(self, decoded: dict[int, list[Iterable[Series]]], now: float) -> Batch:
        """Map every table's series into one batch (blocking)."""
        self.scope.time = now
        out = Builder()
        for index, q in enumerate(self.queries):
            parts = decoded.get(index, [])
            if q.split:  # only the table's names were asked for: no routing to do
                columns = [part for part in parts if not isinstance(part, list) or part]
                by_columns = getattr(q.table, "map_columns", None)
                if (by_columns is None
                        or not all(isinstance(part, NameValues) for part in columns)
                        or not by_columns(columns, self.scope, out)):  # fmt: skip
                    q.table.map(chain.from_iterable(parts), self.scope, out)
            else:
                map_series([item for part in parts for item in part], [q.table], self.scope, out)
        return out.batch(now)

    keeps_past = True

    async def past(self, start: float, end: float, step: float) -> list[Batch]:
        """The tables' series from ``start`` to ``end`` with ``query_range`` (one whole
        query per table, as before the identity split: a rewind asks once), a batch per
        step (at most :data:`MAX_PAST_STEPS`)."""
        step = max(step, (end - start) / MAX_PAST_STEPS, 1.0)
        asked = [(q, f"{q.table.name} range query") for q in self.queries]
        bodies = await _all(*(self._query(what, q.whole(), (start, end, step))
                              for q, what in asked))  # fmt: skip
        return await _off_loop(self._past_batches, asked, bodies)

    def _past_batches(
        self, asked: list[tuple[TableQueries, str]], bodies: list[bytes]
    ) -> list[Batch]:
        """One batch per point time, oldest first (blocking)."""
        per_table = [decode_matrix(body, what) for (_, what), body in zip(asked, bodies,
                                                                          strict=True)]  # fmt: skip
        batches = []
        for when in sorted({when for found in per_table for when in found}):
            out = Builder()
            scope = replace(self.scope, time=when)
            for (q, _), found in zip(asked, per_table, strict=True):
                map_series(found.get(when, []), [q.table], scope, out)
            batches.append(out.batch(when))
        return batches

    async def _query(
        self, what: str, query: str, span: tuple[float, float, float] | None = None
    ) -> bytes:
        """An instant query, or with ``span`` (start, end, step) a range query."""
        form = {"query": query, "timeout": f"{self.request_timeout:g}s"}
        path = "/api/v1/query"
        if span is not None:
            path = "/api/v1/query_range"
            form |= {"start": f"{span[0]:.3f}", "end": f"{span[1]:.3f}", "step": f"{span[2]:g}"}
        status, body = await self.client.request(
            "POST", f"{self.url}{path}", what="prometheus", accept="application/json",
            data=form,
        )  # fmt: skip
        if status != 200:
            try:
                if span is None:
                    _samples(body, what)  # the API's errorType and error
                else:
                    decode_matrix(body, what)
            except SourceError as exc:
                if "not a Prometheus" not in str(exc):
                    raise
            raise SourceError(f"HTTP {status} from {self.url}{path}")
        return body

    async def close(self) -> None:
        await self.client.close()


Result = TypeVar("Result")


def _without_cyclic_gc(work: Callable[..., Result], *args: Any) -> Result:
    """``work(*args)`` with the cyclic collector paused (reference counting still frees
    what is dropped); the collector is turned back on only if it was on."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return work(*args)
    finally:
        if collecting:
            gc.enable()


async def _off_loop(work: Callable[..., Result], *args: Any) -> Result:
    """Blocking work in a thread, the cyclic collector paused while it runs."""
    return await asyncio.to_thread(_without_cyclic_gc, work, *args)


async def _all(*queries: Awaitable[bytes]) -> list[bytes]:
    """Every answer, asked at once; the first failure in the order asked is the reason."""
    answers = await asyncio.gather(*queries, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


def make_prometheus_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: prometheus``."""
    options = dict(context.options)
    url = str(options["url"])
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must be http:// or https://, not {url!r}")
    base = Path(context.base_dir)
    resolve = lambda name: None if options.get(name) is None else str(base / options[name])  # noqa: E731
    token = read_token(resolve("token_file")) if options.get("token_file") else None  # type: ignore[arg-type]
    tls = ssl_context(resolve("tls_ca"), resolve("tls_cert"), resolve("tls_key"))
    timeout = float(options["timeout"])
    selector = str(options.get("selector") or "").strip().strip("{}")
    if options.get("job"):
        job = str(options["job"]).replace("\\", "\\\\").replace('"', '\\"')
        selector = ", ".join(part for part in (selector, f'job=~"{job}"') if part)
    return [
        PrometheusSource(
            url,
            context.interval,
            select(str(options["exporters"])),
            selector,
            timeout,
            options.get("node_label"),
            options,
            Client(timeout, token, tls),
            float(options["identity_interval"]),
        )
    ]
