"""The relay's wire format, version 4: the collector's store as what changed.

One document is newline-delimited JSON of short lines, so a reader parses and checks
it a line at a time and keeps its event loop free between lines (a 1,000-node fleet
is 200,000 readings and 15 MB; a line of 4,000 entities was 1.8 MB and held a key
for 130-210 ms):

    {"relay_version": 4, "epoch": .., "seq": .., "full": .., "time": .., "sources": [..],
     "findings_changed": .., "analysed": .., "capped_since": {..}}
    {"findings": [..]}      (when they changed: all of them, over as many lines as needed)
    {"removed": [refs]}
    {"local": [refs of this machine's own entities]}
    {"entities": [{"ref": .., "name": .., "parent": .., "attrs": {..}}, ..]}
    {"metric": "gpu.util", "refs": [..], "values": [..], "times": [..]}
    {"history": "job.throughput", "ref": "job/4711", "points": [[time, value], ..]}

Every line after the header is at most :data:`LINE_BYTES` (one item larger than
that goes alone); a reader refuses a line over :data:`MAX_LINE_BYTES`. A document
lands whole or not at all: the reader checks every line before any of it is merged.

A full document (``"full": true``) carries every entity and reading; a delta only
those that changed after the reader's cycle (``?epoch=..&since=..``), readings as
their newest value. ``"analysed": false`` says the collector has not analysed its
store yet (its first document goes out before its first analysis, so a large fleet
shows at once): no findings then means none known yet, not none. Readings are raw
(counters as counters), each with its time, so the reader turns counters into rates
exactly as the collector did. Other versions are refused by name.

Every line is checked field by field: refs of known kinds, finite numbers, bounded
strings and counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress, groupby
from operator import itemgetter
from typing import Any

import msgspec

from console.api import SourceStatus
from console.core.batch_check import all_refs_shaped
from console.core.model import Column, Entity, Finding
from console.core.store import Changes, Store
from console.serve.wire import (
    MAX_EVIDENCE,
    MAX_ITEMS,
    MAX_TEXT,
    TIMED_METRICS,
    RelayError,
    _bounded,
    _entity,
    _finding,
    _list,
    _mapping,
    _number,
    _ref,
    _status,
    _status_json,
    _text,
)

RELAY_VERSION = 4
"""Version of this format; a reader refuses any other, naming both."""
LINE_BYTES = 128 * 1024
"""Bytes a writer puts on one line at most: what a reader parses and checks between two
looks at its keys (99% of lines under 10 ms at 1,000 and 4,000 nodes, busy machine)."""
MAX_LINE_BYTES = 32 * 1024 * 1024
"""Longest line a reader accepts (as an agent's frame): room for one item past
:data:`LINE_BYTES`, alone: a job over a 10,000-node fleet names 80,000 GPUs, 1.6 MB."""
LOOKUP_READINGS = 20_000
"""Changed readings a delta looks up one by one; more, and it copies and filters every
reading at C speed instead (0.8 s for 448,000 at 4,000 nodes on a busy machine, half
the lookups' time)."""
LINE_READINGS = 1500
"""Readings a writer tries on one line first (~60 bytes each), halved while too long."""
LOCAL_SOURCE_TYPES = frozenset({"nvml", "host"})
"""Source types that describe the collector's own machine: only their processes may be
acted on (the UI runs on that machine too)."""


def _dumps(item: object) -> bytes:
    try:
        return msgspec.json.encode(item)  # non-finite floats as null, as _finite would
    except UnicodeEncodeError:  # a lone surrogate (a user's job name): json escapes it
        return json.dumps(item, separators=(",", ":"), allow_nan=False).encode()


def _packed(key: str, items: Iterable[object]) -> Iterator[bytes]:
    """Lines ``{key: [item, ..]}`` of at most :data:`LINE_BYTES` each (an item larger than
    that alone on its line)."""
    head, tail = b'{"' + key.encode() + b'":[', b"]}"
    room = LINE_BYTES - len(head) - len(tail)
    group: list[bytes] = []
    size = 0
    for item in map(_dumps, items):
        if group and size + len(item) > room:
            yield head + b",".join(group) + tail
            group, size = [], 0
        group.append(item)
        size += len(item) + 1
    if group:
        yield head + b",".join(group) + tail


def _column_lines(
    metric: str, refs: list[str], values: list[float | None], times: list[float]
) -> Iterator[bytes]:
    """A metric's readings as lines of at most :data:`LINE_BYTES` (halved until they fit)."""
    for start in range(0, len(refs), LINE_READINGS):
        pending = [(start, min(start + LINE_READINGS, len(refs)))]
        while pending:
            first, end = pending.pop()
            line = _dumps({"metric": metric, "refs": refs[first:end],
                           "values": values[first:end], "times": times[first:end]})  # fmt: skip
            if len(line) <= LINE_BYTES or end - first == 1:
                yield line
            else:  # the second half last: pending is a stack
                middle = (first + end) // 2
                pending += [(middle, end), (first, middle)]


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _clip(text: str) -> str:
    # The reader bounds every string; the store does not (a job's name is the user's).
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _entity_json(entity: Entity) -> dict[str, Any]:
    return {"ref": entity.ref, "name": _clip(entity.name), "parent": entity.parent,
            "attrs": entity.attrs}  # fmt: skip


def _finding_json(finding: Finding) -> dict[str, Any]:
    document = finding.to_json()
    document["title"] = _clip(finding.title)
    document["evidence"] = [_clip(line) for line in finding.evidence[:MAX_EVIDENCE]]
    return document


def _source_json(status: SourceStatus) -> dict[str, Any]:
    return {**_status_json(status), "reason": _clip(status.reason)}


def encode(
    store: Store,
    statuses: list[SourceStatus],
    epoch: str,
    seq: int,
    changes: Changes | None,
    history: bool,
    analysed: bool = True,
) -> bytes:
    """The document for a reader: the whole store when ``changes`` is ``None``, else
    only what ``changes`` names (with the timed history on a full one when asked)."""
    full = changes is None
    types = {status.name: status.type for status in statuses}
    refs = (
        list(store.entities)
        if changes is None
        else [ref for ref in changes.entities if ref in store.entities]
    )
    capped = store.analysis_state.get("capped_since", {})
    findings_changed = full or (changes is not None and changes.findings)
    header: dict[str, Any] = {
        "relay_version": RELAY_VERSION, "epoch": epoch, "seq": seq, "full": full,
        "time": store.time, "sources": [_source_json(s) for s in statuses],
        "findings_changed": findings_changed, "analysed": analysed,
        "capped_since": dict(capped) if isinstance(capped, dict) else {},
    }  # fmt: skip
    lines = [_dumps(header)]
    if findings_changed:
        lines += _packed("findings", map(_finding_json, store.findings))
    lines += _packed("removed", sorted(changes.removed) if changes is not None else [])
    local = (ref for ref in refs
             if types.get(store.entity_source.get(ref, "")) in LOCAL_SOURCE_TYPES)  # fmt: skip
    lines += _packed("local", local)
    lines += _packed("entities", (_entity_json(store.entities[ref]) for ref in refs))
    columns = _columns(store, changes)
    if full and history:  # before the readings: oldest first, as the store wants them
        for metric, (column_refs, _, _) in columns.items():
            if metric in TIMED_METRICS:
                for ref in column_refs:
                    points = [[t, _finite(v)] for t, v in store.timed_history(ref, metric)]
                    lines.append(_dumps({"history": metric, "ref": ref, "points": points}))
    for metric, (column_refs, values, times) in columns.items():
        lines += _column_lines(metric, column_refs, _finite_values(values), times)
    return b"\n".join(lines) + b"\n"


def _columns(
    store: Store, changes: Changes | None
) -> dict[str, tuple[list[str], list[float | None], list[float]]]:
    """The newest readings ``changes`` names (all when ``None``), a column per metric."""
    if changes is None or len(changes.readings) > LOOKUP_READINGS:
        return _scanned_columns(store, changes)
    wanted = sorted(changes.readings)
    found = [store.reading(ref, metric) for ref, metric in wanted]
    pairs = (
        (key, (reading.time, reading.value))
        for key, reading in zip(wanted, found, strict=True)
        if reading is not None
    )
    by_metric: dict[str, tuple[list[str], list[float | None], list[float]]] = {}
    for (ref, metric), (time, value) in pairs:
        column = by_metric.get(metric)
        if column is None:
            column = by_metric[metric] = ([], [], [])
        column[0].append(ref)
        column[1].append(value)
        column[2].append(time)
    return by_metric


def _scanned_columns(
    store: Store, changes: Changes | None
) -> dict[str, tuple[list[str], list[float | None], list[float]]]:
    """:func:`_columns` of most or all of the store (a Prometheus refresh changes every
    reading; a first document is all of them): copied, filtered and cut at C speed, a
    run of one metric's readings at a time (the store keeps a column's series together).
    With a lookup a key, encoding took twice as long; with a Python step a reading, the
    cutting was most of a 4,000-node first document's encoding."""
    keys, times, values, _ = store.reading_fields()
    if changes is not None:
        wanted = list(map(changes.readings.__contains__, keys))
        keys, times = list(compress(keys, wanted)), list(compress(times, wanted))
        values = list(compress(values, wanted))
    by_metric: dict[str, tuple[list[str], list[float | None], list[float]]] = {}
    start = 0
    for metric, run in groupby(map(_METRIC, keys)):
        end = start + len(list(run))
        column = by_metric.get(metric)
        if column is None:
            column = by_metric[metric] = ([], [], [])
        column[0].extend(map(_REF, keys[start:end]))
        column[1].extend(values[start:end])
        column[2].extend(times[start:end])
        start = end
    return by_metric


_REF, _METRIC = itemgetter(0), itemgetter(1)


def _finite_values(values: list[float | None]) -> list[float | None]:
    """``values`` with an infinity or a NaN as ``None`` (JSON has neither), checked in C
    when all are finite (the sum of finite values is finite, or overflows: then each)."""
    if math.isfinite(sum(filter(None, values))):
        return values
    return [_finite(value) for value in values]


class ReadingsLine(msgspec.Struct, forbid_unknown_fields=True):
    """A readings line as it is written, parsed in C: its numbers are finite floats then
    (msgspec refuses NaN, infinities and numbers out of a float's range), its refs and
    lengths still to check. A line that does not parse so takes the general way, which
    says what is wrong with it. The bulk of a large fleet's first document: 3 times as
    fast as ``json.loads`` and a check of each number (4,000 nodes)."""

    metric: str
    refs: list[str]
    values: list[float | None]
    times: list[float]


class HistoryLine(msgspec.Struct, forbid_unknown_fields=True):
    """A history line as it is written, parsed in C (see :class:`ReadingsLine`)."""

    history: str
    ref: str
    points: list[tuple[float, float | None]]


TYPED_LINES: tuple[tuple[bytes, msgspec.json.Decoder[Any]], ...] = (
    (b'{"metric":', msgspec.json.Decoder(ReadingsLine)),
    (b'{"history":', msgspec.json.Decoder(HistoryLine)),
)
"""How a line that begins so parses first (:func:`split_lines`)."""


@dataclass
class Header:
    """A checked first line."""

    epoch: str
    seq: int
    full: bool
    time: float | None
    statuses: list[SourceStatus]
    findings_changed: bool
    """Whether the findings lines follow (all of them); else unchanged since the reader's
    cycle."""
    analysed: bool
    """Whether the collector had analysed its store (else its findings are not known yet)."""
    capped_since: dict[str, float]


@dataclass
class Lines:
    """What the lines after the header carry, accumulated line by line."""

    entities: list[Entity] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    """The readings, a column per line (timed history first, as the lines came)."""
    history_end: dict[tuple[str, str], float] = field(default_factory=dict)
    """Newest history point per series: the reading that repeats it is left out."""
    findings: list[Finding] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    local: list[str] = field(default_factory=list)


def decode_header(document: Any) -> Header:
    """The checked header, or :class:`RelayError` (another version, by name)."""
    if not isinstance(document, dict):
        raise RelayError(f"expected a JSON object, got {type(document).__name__}")
    version = document.get("relay_version")
    if version != RELAY_VERSION:
        raise RelayError(
            f"relay version {str(version)[:20]} refused: this console reads relay version "
            f"{RELAY_VERSION} only (restart the collector with the same watchfloor)"
        )
    seq = document.get("seq")
    if type(seq) is not int or seq < 0:
        raise RelayError("seq must be a cycle number")
    if type(document.get("full")) is not bool:
        raise RelayError("full must be true or false")
    if type(document.get("findings_changed")) is not bool:
        raise RelayError("findings_changed must be true or false")
    if type(document.get("analysed")) is not bool:
        raise RelayError("analysed must be true or false")
    capped = {
        _ref(ref, "capped ref"): _number(since, "capped since", optional=False) or 0.0
        for ref, since in _mapping(document.get("capped_since", {}), "capped_since").items()
    }
    return Header(
        epoch=_text(document.get("epoch"), "epoch"),
        seq=seq,
        full=document["full"],
        time=_number(document.get("time"), "time"),
        statuses=[_status(item) for item in _list(document, "sources")],
        findings_changed=document["findings_changed"],
        analysed=document["analysed"],
        capped_since=capped,
    )


FLOAT_OR_NONE = frozenset({float, type(None)})


def _finite_floats(items: list[Any], what: str, optional: bool) -> list[float | None]:
    """``items`` itself when it holds only finite floats (and ``None``, when
    ``optional``), checked in C: the hot path, thousands a line; else each checked."""
    types = set(map(type, items))
    if (types <= FLOAT_OR_NONE if optional else types <= {float}) and math.isfinite(
        sum(filter(None, items))  # an infinity or a NaN makes the sum not finite
    ):
        return items
    return [_number(item, what, optional) for item in items]


def _refs(refs: list[Any]) -> list[str]:
    if refs and all_refs_shaped(refs):
        return refs
    for ref in refs:
        if type(ref) is not str or not 0 < ref.find("/") < len(ref) - 1:
            _ref(ref, "reading ref")
    return refs


def _add_readings(
    metric: Any, refs: list[Any], values: list[Any], times: list[Any], into: Lines
) -> None:
    """A readings line's column, each list bounded (:func:`_bounded`)."""
    metric = _text(metric, "metric name")
    if not len(refs) == len(values) == len(times):
        raise RelayError(f"readings of {metric[:80]}: refs, values and times differ in length")
    refs = _refs(refs)
    stamps = _finite_floats(times, "reading time", optional=False)
    values = _finite_floats(values, f"value of {metric[:80]}", optional=True)
    history_end = into.history_end
    if history_end and metric in TIMED_METRICS:  # leave out what the history repeats
        fresh = [time > history_end.get((ref, metric), -math.inf)  # type: ignore[operator]
                 for ref, time in zip(refs, stamps, strict=True)]  # fmt: skip
        if not all(fresh):
            refs = list(compress(refs, fresh))
            values, stamps = list(compress(values, fresh)), list(compress(stamps, fresh))
    into.columns.append(Column(metric, refs, values, stamps))


def _add_history(
    metric: str, ref: str, stamps: list[float | None], points: list[float | None], into: Lines
) -> None:
    """A history line's column (its points checked), and where its history ends."""
    if stamps and stamps[-1] is not None:
        into.history_end[(ref, metric)] = stamps[-1]
    into.columns.append(Column(metric, [ref] * len(stamps), points, stamps))


def _history_ref(metric: Any, ref: Any) -> str:
    if not isinstance(metric, str) or metric not in TIMED_METRICS:  # (a list: unhashable)
        raise RelayError(f"history of {str(metric)[:80]} must be of a timed metric")
    return _ref(ref, "history ref")


def decode_line(item: Any, into: Lines) -> None:
    """Check one line after the header (as :func:`split_lines` parsed it: a typed line,
    or any JSON) and add what it carries to ``into``."""
    if isinstance(item, ReadingsLine):  # its numbers are finite floats already: the C path
        refs, values = _bounded(item.refs, "refs"), _bounded(item.values, "values")
        _add_readings(item.metric, refs, values, _bounded(item.times, "times"), into)
    elif isinstance(item, HistoryLine):  # (its points finite floats already)
        ref = _history_ref(item.history, item.ref)
        line = _bounded(item.points, "points")
        stamps: list[float | None] = [point[0] for point in line]
        _add_history(item.history, ref, stamps, [point[1] for point in line], into)
    elif not isinstance(item, dict):
        raise RelayError("each line must be a JSON object")
    elif "metric" in item:
        refs, values, times = _list(item, "refs"), _list(item, "values"), _list(item, "times")
        _add_readings(item["metric"], refs, values, times, into)
    elif "entities" in item:
        into.entities += [_entity(entity) for entity in _list(item, "entities")]
    elif "history" in item:
        metric = item["history"]
        ref = _history_ref(metric, item.get("ref"))
        points: list[float | None] = []
        stamps = []
        for point in _list(item, "points"):
            if not isinstance(point, list) or len(point) != 2:
                raise RelayError("each history point must be [time, value]")
            stamps.append(_number(point[0], "point time", optional=False) or 0.0)
            points.append(_number(point[1], "point value"))
        _add_history(metric, ref, stamps, points, into)
    elif "findings" in item:
        _extend(into.findings, map(_finding, _list(item, "findings")), "findings")
    elif "removed" in item:
        _extend(into.removed, (_ref(r, "removed ref") for r in _list(item, "removed")), "removed")
    elif "local" in item:
        _extend(into.local, (_ref(r, "local ref") for r in _list(item, "local")), "local")
    else:
        raise RelayError(f"unknown line with keys {sorted(item)[:5]}")


def _extend(into: list[Any], items: Iterable[Any], what: str) -> None:
    into += items
    if len(into) > MAX_ITEMS:  # over all its lines
        raise RelayError(f"{what} must be at most {MAX_ITEMS} in all")


def split_lines(body: bytes) -> Iterator[Any]:
    """Each line of a document, parsed (``RelayError`` on one that is not JSON or is
    longer than :data:`MAX_LINE_BYTES`: parsing it would hold the reader's loop).

    Cut one line at a time, not split whole: a large fleet's document is tens of MB,
    and one ``bytes.split`` of it held the GIL up to 150 ms at 1,000 nodes, with the
    terminal's input thread waiting on it (a key's outlier)."""
    start, size = 0, len(body)
    while start < size:
        end = body.find(b"\n", start)
        if end < 0:
            end = size
        if end - start > MAX_LINE_BYTES:  # refused before it is copied
            raise RelayError(f"a line of {end - start:,} bytes: at most {MAX_LINE_BYTES:,}")
        line, start = body[start:end], end + 1
        if line:
            yield _parsed(line)


def _parsed(line: bytes) -> Any:
    for prefix, decoder in TYPED_LINES:
        if line.startswith(prefix):
            try:
                return decoder.decode(line)
            except ValueError:  # msgspec's DecodeError, or bytes that are no UTF-8
                break  # the general way says what is wrong (or takes what is right)
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RelayError(f"bad JSON from the relay: {str(exc)[:120]}") from None
