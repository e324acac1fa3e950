"""The agent's stream (``GET /v2/stream``): one long-lived response, one line per cycle.

Polling ``/v1/snapshot`` costs the console a request and a whole document per agent
per second; at 1,000 agents that did not fit in one core. On the stream the agent
pushes each cycle as one JSON line (NDJSON) carrying only what changed:

- ``entities``: only those whose encoding changed since this stream last sent them;
  every :data:`REFRESH` seconds all of them (``"full": true``, as is the first frame),
  so the console's expiry never drops a node that is merely quiet.
- ``keys``: ``{metric: [ref, ...]}``, the series by metric, in order; sent only when
  they change.
- ``values``: ``[[value, ...], ...]``, the newest reading of every series: a list per
  metric of ``keys``, a value per ref (wire version 3: the console reads each list as
  a :class:`~console.core.model.Column`, with no object per reading).
- ``wire_version``, ``node``, ``time``, ``sources``: as in the snapshot.

The console checks every frame as it checks a snapshot (``wire.py``): the node
must not change, entities and series must belong to it and stay within the caps,
values must be finite numbers (or null), and a line may not pass :data:`MAX_FRAME_BYTES`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Annotated, Any

import msgspec

from console.agent.wire import (
    MAX_ENTITIES,
    MAX_SERIES,
    MAX_TEXT,
    WIRE_VERSION,
    WireError,
    capped_attrs,
    check_attr_numbers,
    check_entity_owner,
    check_metric,
    check_parent_owner,
    check_sample_ref,
    check_time_field,
    check_version,
    checked_text,
    entity_of,
    number,
    statuses_of,
)
from console.api import API_VERSION, SourceStatus
from console.core.batch_check import READING_TYPES
from console.core.model import Batch, Column, Entity

STREAM_PATH = "/v2/stream"
WIRE_HEADER = "Watchfloor-Wire"
"""Request header naming the console's wire version; the agent refuses any other."""
REFRESH = 60.0
"""Seconds between full frames (well inside the console's ten-minute expiry)."""
MAX_FRAME_BYTES = 32 * 1024 * 1024
"""Longest line (one cycle) accepted, as for a snapshot body."""
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode
_FAST_ENCODE = msgspec.json.Encoder().encode
"""For the lists of numbers (each cycle's values): ten times json's speed, the same JSON."""
_FAST_DECODE = msgspec.json.Decoder(float_hook=float).decode
"""(``float_hook``: a float past a float's range is read as the infinity it means, for
the checks to name, not refused unnamed.)"""

_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]


class _FrameEntity(msgspec.Struct):
    """An entity as a frame carries it, its types and sizes checked by msgspec's decoder
    (what :func:`~console.agent.wire.entity_of` checks in Python; ownership is left)."""

    ref: _Text
    name: _Text
    parent: _Text | None = None
    attrs: dict[str, Any] = {}


class _Frame(msgspec.Struct):
    """The common frame, typed: decoded and checked in one pass at C speed (numbers are
    then finite floats or null: msgspec refuses NaN, infinities and what overflows)."""

    node: _Text
    entities: Annotated[list[_FrameEntity], msgspec.Meta(max_length=MAX_ENTITIES)]
    values: list[list[float | None]]
    wire_version: Any = None
    time: float | None = None
    keys: Any = msgspec.UNSET
    sources: list[Any] = []


class _NoFloat(float):
    """A number where any type goes (``attrs``) past a float's range: read as the
    infinity it means, marked so that :data:`_PLAIN_NUMBERS` finds it at C speed."""


def _untyped_float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _NoFloat(value)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


_PLAIN_NUMBERS = msgspec.msgpack.Encoder(enc_hook=_refuse).encode
"""Raises on a :class:`_NoFloat` (a type it has not: the hook refuses it) and on an
integer past 64 bits, anywhere in what a decoder made: the typed frame's attrs are
looked at one by one (``check_attr_numbers``, naming the first) only when it raised.
Its bytes are dropped: at C speed it costs a third of the look one by one."""

_FRAME_DECODE = msgspec.json.Decoder(_Frame, float_hook=_untyped_float).decode
"""Every frame is tried typed first; one it refuses is read again untyped, and checked
field by field, so that the reason is said as it always was. ``float_hook``: an attr's
float out of range is kept (:class:`_NoFloat`) to be refused by name, not refused unnamed
(``attrs[...]``) and the frame read twice more (``values`` are typed: msgspec still
refuses theirs)."""

Columns = list[tuple[str, list[str]]]
"""The series of a stream: ``(metric, refs)`` in the order of the frame's ``values``."""


@dataclass(frozen=True)
class FrameParts:
    """One collection encoded for streams, once, whatever number of streams read it."""

    head: bytes
    entities: dict[str, bytes]
    """Each entity's JSON by ref: a stream compares them with what it sent."""
    keys: bytes
    values: bytes
    sources: bytes


def frame_head(node: str, time_: float | None) -> bytes:
    """The fields that open every frame (the node and the collection's time)."""
    head = {"wire_version": WIRE_VERSION, "api_version": API_VERSION, "node": node, "time": time_}
    return _DUMPS(head)[1:-1].encode()


def frame_parts(
    node: str,
    time_: float | None,
    entities: Iterable[Entity],
    samples: Iterable[tuple[str, str, float | None]],
    statuses: Iterable[SourceStatus],
) -> FrameParts:
    """Encode one collection's pieces."""
    columns, values = frame_columns(samples)
    return FrameParts(
        head=frame_head(node, time_),
        entities={
            e.ref: _DUMPS(
                {"ref": e.ref, "name": e.name, "parent": e.parent, "attrs": e.attrs}
            ).encode()
            for e in entities
        },
        keys=frame_keys(columns),
        values=frame_values(values),
        sources=frame_sources(statuses),
    )


def frame_columns(
    samples: Iterable[tuple[str, str, float | None]],
) -> tuple[Columns, list[list[float | None]]]:
    """Readings grouped by metric: the ``(metric, refs)`` of each column and its values
    (a reading sent twice keeps the last value, as in the snapshot)."""
    grouped: dict[str, dict[str, float | None]] = {}
    for ref, metric, value in samples:
        grouped.setdefault(metric, {})[ref] = value
    columns = [(metric, list(readings)) for metric, readings in grouped.items()]
    return columns, [list(readings.values()) for readings in grouped.values()]


def frame_keys(columns: Columns) -> bytes:
    """The series, by metric (``keys``)."""
    return _FAST_ENCODE(dict(columns))


def frame_values(values: list[list[float | None]]) -> bytes:
    """The newest readings: a list per metric of the keys, a value per ref."""
    return _FAST_ENCODE(values)


def frame_sources(statuses: Iterable[SourceStatus]) -> bytes:
    """The agent's source statuses, as a frame carries them."""
    return _DUMPS([s.to_json() for s in statuses]).encode()


class StreamEncoder:
    """What one stream has sent, so that each frame carries only what changed."""

    def __init__(self, refresh: float = REFRESH, clock: Callable[[], float] = time.monotonic):
        self.refresh = refresh
        self.clock = clock
        self._sent: dict[str, bytes] = {}
        self._keys: bytes | None = None
        self._full_at = float("-inf")

    def frame(self, parts: FrameParts) -> bytes:
        """The next line of the stream."""
        now = self.clock()
        full = now - self._full_at >= self.refresh
        if full:
            changed = list(parts.entities.values())
            self._sent = dict(parts.entities)
            self._full_at = now
        else:
            sent = self._sent
            changed = []
            for ref, encoded in parts.entities.items():
                if sent.get(ref) != encoded:
                    changed.append(encoded)
                    sent[ref] = encoded
        pieces = [b"{", parts.head, b',"full":', b"true" if full else b"false",
                  b',"entities":[', b",".join(changed), b"]"]  # fmt: skip
        if full or parts.keys != self._keys:
            pieces += [b',"keys":', parts.keys]
            self._keys = parts.keys
        pieces += [b',"values":', parts.values, b',"sources":', parts.sources, b"}\n"]
        return b"".join(pieces)


class StreamDecoder:
    """The console's side of one stream: checks each frame and keeps the series keys."""

    def __init__(self) -> None:
        self.node: str | None = None
        """The node the stream speaks for (fixed by its first frame)."""
        self._columns: Columns = []
        self._lengths: list[int] = []
        self._metrics: list[str] = []
        self._refs: list[list[str]] = []
        """``_columns`` apart, as :meth:`take` reads them (a column made per metric a poll)."""
        self._known: set[str] = set()
        self._entities: dict[str, Entity] = {}
        self._values: list[list[float | None]] | None = None
        self._time: float | None = None
        self._statuses: list[dict[str, Any]] = []

    def add(self, line: bytes) -> None:
        """Check one frame and keep what it brings until :meth:`take`."""
        try:
            frame = _FRAME_DECODE(line)
        except (ValueError, RecursionError):
            self._add_document(self._document(line))
            return
        check_version(frame.wire_version)
        node = self._checked_node(frame.node)
        _check_entity_count(frame.entities)  # (as the schema does, at the cap of the moment)
        entities = []
        for item in frame.entities:
            check_entity_owner(item.ref, node)
            check_parent_owner(item.parent, node)
            entities.append(Entity(item.ref, item.name, item.parent, capped_attrs(item.attrs)))
        try:
            _PLAIN_NUMBERS([entity.attrs for entity in entities])
        except (TypeError, OverflowError):
            for entity in entities:
                check_attr_numbers(entity.attrs, entity.ref)  # (raises, naming it)
        known = self._known_with(entities)
        columns, lengths = self._columns, self._lengths
        if frame.keys is not msgspec.UNSET:
            columns = _columns_of(frame.keys, node)
            lengths = [len(refs) for _metric, refs in columns]
        values = frame.values  # floats and nulls, finite: their count is left to check
        if len(values) != len(columns) or list(map(len, values)) != lengths:
            _values_of(values, columns, lengths)  # (raises, naming what is wrong)
        self._keep(known, columns, lengths, entities, values, frame.time, frame.sources)

    @staticmethod
    def _document(line: bytes) -> Any:
        try:
            return _FAST_DECODE(line)  # about twice json's speed
        except (ValueError, RecursionError):
            # What it refuses, json may still read (NaN, Infinity): the checks then name it.
            try:
                return json.loads(line)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise WireError(f"bad JSON in the stream: {str(exc)[:120]}") from None

    def _add_document(self, document: Any) -> None:
        """:meth:`add` for a frame the typed decoder refused: each field checked apart."""
        if not isinstance(document, dict):
            raise WireError(f"expected a JSON object, got {type(document).__name__}")
        check_version(document.get("wire_version"))
        node = self._checked_node(checked_text(document.get("node"), "node"))
        time_ = check_time_field(document.get("time"))
        items = document.get("entities")
        if not isinstance(items, list):
            raise WireError(f"entities must be a list of at most {MAX_ENTITIES}")
        _check_entity_count(items)
        entities = [entity_of(item, node) for item in items]
        known = self._known_with(entities)
        columns, lengths = self._columns, self._lengths
        if "keys" in document:
            columns = _columns_of(document["keys"], node)
            lengths = [len(refs) for _metric, refs in columns]
        values = _values_of(document.get("values"), columns, lengths)
        statuses = statuses_of(document)
        self._keep(known, columns, lengths, entities, values, time_, statuses)

    def _checked_node(self, node: str) -> str:
        """The frame's node: the first fixes the stream's, the others must name it."""
        if self.node is None:
            if "/" in node:
                raise WireError("node name contains '/'")
            self.node = node
        elif node != self.node:
            raise WireError(f"the stream of node {self.node!r} changed to {node[:80]!r}")
        return node

    def _known_with(self, entities: list[Entity]) -> set[str]:
        known = self._known | {e.ref for e in entities}
        if len(known) > MAX_ENTITIES:
            raise WireError(f"the stream named over {MAX_ENTITIES} entities")
        return known

    def _keep(
        self,
        known: set[str],
        columns: Columns,
        lengths: list[int],
        entities: list[Entity],
        values: list[list[float | None]],
        time_: float | None,
        statuses: list[dict[str, Any]],
    ) -> None:
        """A frame checked whole: only now does any of it count."""
        self._known = known
        if columns is not self._columns:
            self._metrics = [metric for metric, _refs in columns]
            self._refs = [refs for _metric, refs in columns]
        self._columns, self._lengths = columns, lengths
        for entity in entities:
            self._entities[entity.ref] = entity
        self._values, self._time, self._statuses = values, time_, statuses

    @property
    def pending(self) -> bool:
        """Whether a frame came that :meth:`take` has not handed out yet."""
        return self._values is not None

    def take(self) -> tuple[str, Batch, list[dict[str, Any]]] | None:
        """What arrived since the last call, as one batch (the newest values only, a
        column per metric; each column's refs are the stream's own list, shared from
        one batch to the next until the keys change: read them, never change them);
        ``None`` when no frame arrived."""
        if self._values is None or self.node is None:
            return None
        # (as many values as columns: :meth:`add` checked it)
        columns = list(map(Column, self._metrics, self._refs, self._values))
        batch = Batch(entities=list(self._entities.values()), columns=columns, time=self._time)
        self._entities, self._values = {}, None
        return self.node, batch, self._statuses


def _check_entity_count(items: list[Any]) -> None:
    if len(items) > MAX_ENTITIES:
        raise WireError(f"entities must be a list of at most {MAX_ENTITIES}")


def _columns_of(document: Any, node: str) -> Columns:
    """The checked ``keys`` of a frame: metrics, each with the refs of its series."""
    if not isinstance(document, dict):
        raise WireError("keys must map each metric to a list of refs")
    columns: Columns = []
    checked: set[str] = set()  # refs found to belong to the node
    lists: dict[tuple[str, ...], list[str]] = {}  # metrics of the same refs share one list
    series = 0
    for metric, refs in document.items():
        check_metric(metric)
        if not isinstance(refs, list) or not refs:
            raise WireError("keys must map each metric to a non-empty list of refs")
        series += len(refs)
        if series > MAX_SERIES:
            raise WireError(f"the stream named over {MAX_SERIES:,} series")
        for ref in refs:
            if type(ref) is not str or ref not in checked:
                check_sample_ref(ref, node)
                checked.add(ref)
        if len(checked) > MAX_ENTITIES:
            raise WireError(f"keys name over {MAX_ENTITIES} refs")
        if len(set(refs)) != len(refs):
            raise WireError(f"keys name a series of {metric[:80]} twice")
        # (the console then checks their shape once: ``console.core.batch_check``)
        columns.append((metric, lists.setdefault(tuple(refs), refs)))
    return columns


def _values_of(document: Any, columns: Columns, lengths: list[int]) -> list[list[float | None]]:
    """The checked ``values`` of a frame: a list per column, a finite number or null per
    ref, checked at C speed in the common case (floats and nulls: the list itself)."""
    if not isinstance(document, list) or len(document) != len(columns):
        raise WireError(f"values must be a list of {len(columns)} lists (one per metric)")
    if set(map(type, document)) - {list} or list(map(len, document)) != lengths:
        for (metric, refs), values in zip(columns, document, strict=True):  # name the first
            if not isinstance(values, list) or len(values) != len(refs):
                raise WireError(f"values of {metric[:80]} must be a list of {len(refs)}")
    readings = chain.from_iterable
    # A sum that is not finite: an infinity or NaN (json reads them), or an overflow that
    # the look one by one then finds harmless; an integer past a float's range raises.
    try:
        fine = set(map(type, readings(document))) <= READING_TYPES and math.isfinite(
            sum(filter(None, readings(document)))
        )
    except OverflowError:
        fine = False
    if fine:
        return document
    return [
        [number(value, metric) for value in values]
        for (metric, _refs), values in zip(columns, document, strict=True)
    ]
