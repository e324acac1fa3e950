"""Latest state of every entity, plus bounded history per (entity, metric).

Counters are stored raw and turned into per-second rates here, and only here:
the history of a counter metric holds rates, which is what every pane plots.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from console.model import COUNTER_METRICS as COUNTERS
from console.model import TIMED_METRICS as TIMED
from console.model import Batch, Entity, Finding, ref_kind
from console.ring import Ring

_READING_FIELDS = operator.attrgetter("time", "value", "rate")
DEFAULT_HISTORY = 120
"""Points kept per (entity, metric): two minutes at 1 s, more than any sparkline shows."""
TIMED_HISTORY = 600
"""Points kept for the few timed (job) series: ten minutes, for baselines and onsets."""


@dataclass(slots=True)
class Reading:
    """The newest reading of one metric."""

    time: float
    value: float | None
    rate: float | None = None
    """Per-second rate for counters; ``None`` until two readings, or after a reset."""


class Store:
    """Latest entities and readings, bounded history, and the current findings."""

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self.history_length = history
        """How many points each history ring keeps."""
        self.entities: dict[str, Entity] = {}
        """Every known entity by ref."""
        self.entity_source: dict[str, str] = {}
        """Which source last reported each entity."""
        self.last_seen: dict[str, float] = {}
        """Wall-clock time each entity was last reported."""
        self.findings: list[Finding] = []
        """Findings from the last analysis run, most severe first."""
        self.version = 0
        """Bumped on every change, so readers can skip work when nothing moved."""
        self.time: float | None = None
        """Sample time of the newest batch (a simulator's clock, or wall time)."""
        self.source_meta: dict[str, dict[str, object]] = {}
        """Each source's ``Batch.meta`` from its last poll."""
        self.analysis_state: dict[str, Any] = {}
        """What stateful analyzers keep between runs, kept with the data it derives from."""
        self._latest: dict[tuple[str, str], Reading] = {}
        self._history: dict[tuple[str, str], Ring] = {}
        self._by_kind: dict[str, dict[str, Entity]] = {}
        self._sorted_kind: dict[str, list[str]] = {}
        """Refs of each kind in natural order (the order, not the objects: a source
        re-sends an entity as a new object with new attrs, and readers must see it)."""
        self._children: dict[str, set[str]] = {}
        self.journal: list[tuple[str, Batch, float]] | None = None
        """When a flight recorder listens: each applied batch ``(source, batch, time)``
        since it last took them (``None``: nobody records, nothing is kept)."""
        self.derived: list[tuple[str, str, float | None, float]] = []
        """Readings analysis recorded since the recorder last took them (while recording)."""

    # -- writing -------------------------------------------------------------

    def apply(self, batch: Batch, source: str, received: float) -> None:
        """Merge one source's batch: upsert entities, record samples."""
        batch_time = batch.time if batch.time is not None else received
        for entity in batch.entities:
            self._put_entity(entity, source, received)
        for sample in batch.samples:
            self._record(sample.ref, sample.metric, sample.value, sample.time or batch_time)
        if batch.meta:
            self.source_meta[source] = dict(batch.meta)
        if self.journal is not None:
            self.journal.append((source, batch, batch_time))
        if self.time is None or batch_time > self.time:
            self.time = batch_time
        self.version += 1

    def record(self, ref: str, metric: str, value: float | None, time: float) -> None:
        """Record one derived reading (analysis uses this for link utilisation)."""
        self._record(ref, metric, value, time)
        if self.journal is not None:
            self.derived.append((ref, metric, value, time))

    def restore_readings(
        self, readings: Collection[tuple[tuple[str, str], tuple[float, float | None, float | None]]]
    ) -> None:
        """Put readings back as they were (``((ref, metric), (time, value, rate))``), with
        no history: a store rebuilt from a recording. Rings are made when the next
        reading of a series lands, so a rebuilt fleet costs one object per reading."""
        latest = self._latest
        if not latest:  # a fresh store: made in one go
            keys, values = zip(*readings, strict=True) if readings else ((), ())
            latest.update(zip(keys, itertools.starmap(Reading, values), strict=True))
        else:
            for key, (time, value, rate) in readings:
                reading = latest.get(key)
                if reading is None:
                    latest[key] = Reading(time, value, rate)
                else:
                    reading.time, reading.value, reading.rate = time, value, rate
        self.version += 1

    def restore_history(
        self, ref: str, metric: str, points: Iterable[tuple[float, float | None]]
    ) -> None:
        """Put a series' history back as it was (oldest first), leaving its reading be."""
        ring = self._history[(ref, metric)] = self._ring(metric)
        for time, value in points:
            ring.append(value, time)

    def restore_entity(self, entity: Entity, source: str, seen: float) -> None:
        """Put one entity back as it was, without merging it with what is there."""
        self.entity_source[entity.ref] = source  # same source: replaced, not merged
        self._put_entity(entity, source, seen)

    def _put_entity(self, entity: Entity, source: str, received: float) -> None:
        old = self.entities.get(entity.ref)
        if old is not None and self.entity_source.get(entity.ref) != source:
            # Two sources describe one thing (NVML and the host source both name
            # this node): keep what each says rather than the last one alone, and
            # an unknown (None) from one never erases what another knows.
            attrs = dict(old.attrs)
            for key, value in entity.attrs.items():
                if value is not None or key not in attrs:
                    attrs[key] = value
            entity = Entity(entity.ref, entity.name, entity.parent or old.parent, attrs)
        if old is not None and old.parent != entity.parent and old.parent is not None:
            self._children.get(old.parent, set()).discard(entity.ref)
        self.entities[entity.ref] = entity
        same_kind = self._by_kind.setdefault(entity.kind, {})
        if entity.ref not in same_kind:
            self._sorted_kind.pop(entity.kind, None)  # re-sort on next read
        same_kind[entity.ref] = entity
        if entity.parent is not None:
            self._children.setdefault(entity.parent, set()).add(entity.ref)
        self.entity_source[entity.ref] = source
        self.last_seen[entity.ref] = received

    def _record(self, ref: str, metric: str, value: float | None, time: float) -> None:
        # The hot path: called for every sample of every poll.
        key = (ref, metric)
        reading = self._latest.get(key)
        counter = metric in COUNTERS
        if reading is None:
            reading = self._latest[key] = Reading(time, value)
            timed = metric in TIMED
            length = max(self.history_length, TIMED_HISTORY) if timed else self.history_length
            ring = self._history[key] = Ring(length, timed=timed)
        else:
            reading.rate = _counter_rate(reading, value, time) if counter else None
            reading.time, reading.value = time, value
            found = self._history.get(key)  # a store rebuilt from a recording makes rings late
            ring = found if found is not None else self._history.setdefault(key, self._ring(metric))
        ring.append(reading.rate if counter else value, time)

    def _ring(self, metric: str) -> Ring:
        timed = metric in TIMED
        return Ring(max(self.history_length, TIMED_HISTORY) if timed else self.history_length,
                    timed=timed)  # fmt: skip

    def set_findings(self, findings: list[Finding]) -> None:
        """Replace the findings with a new analysis result."""
        self.findings = findings
        self.version += 1

    def expire(self, before: float) -> list[str]:
        """Forget entities not reported since ``before`` (wall clock) and their history.

        This is what keeps memory flat when jobs and nodes come and go for days.
        """
        gone = [ref for ref, seen in self.last_seen.items() if seen < before]
        if gone:
            self.expire_refs(gone)
        return gone

    def expire_refs(self, gone: list[str]) -> None:
        """Forget these entities and their history (a recording replays an expiry)."""
        gone_set = set(gone) & set(self.entities)
        for ref in gone_set:
            entity = self.entities.pop(ref)
            self._by_kind.get(entity.kind, {}).pop(ref, None)
            self._sorted_kind.pop(entity.kind, None)
            if entity.parent is not None:
                self._children.get(entity.parent, set()).discard(ref)
            self._children.pop(ref, None)
            self.entity_source.pop(ref, None)
            self.last_seen.pop(ref, None)
        for key in [key for key in self._latest if key[0] in gone_set]:
            del self._latest[key]
            self._history.pop(key, None)
        self.version += 1

    # -- reading -------------------------------------------------------------

    def get(self, ref: str) -> Entity | None:
        """The entity with this ref, if known."""
        return self.entities.get(ref)

    def of_kind(self, kind: str) -> list[Entity]:
        """All entities of one kind, sorted by ref (the sort is cached until the set changes)."""
        same_kind = self._by_kind.get(kind, {})
        ordered = self._sorted_kind.get(kind)
        if ordered is None:
            ordered = self._sorted_kind[kind] = sorted(same_kind, key=_natural)
        return [same_kind[ref] for ref in ordered]

    def count(self, kind: str) -> int:
        """How many entities of one kind are known."""
        return len(self._by_kind.get(kind, {}))

    def children(self, ref: str, kind: str | None = None) -> list[Entity]:
        """Entities whose parent is ``ref`` (a node's GPUs and ports), sorted by ref."""
        refs = self._children.get(ref, set())
        found = [self.entities[r] for r in refs if kind is None or ref_kind(r) == kind]
        return sorted(found, key=lambda e: _natural(e.ref))

    def reading(self, ref: str, metric: str) -> Reading | None:
        """The newest reading of one metric, if any."""
        return self._latest.get((ref, metric))

    def value(self, ref: str, metric: str) -> float | None:
        """The newest value of a gauge; for a counter, its current per-second rate."""
        reading = self._latest.get((ref, metric))
        if reading is None:
            return None
        return reading.rate if metric in COUNTERS else reading.value

    def history(self, ref: str, metric: str) -> list[float | None]:
        """Oldest-first history (rates for counters), at most ``history_length`` points."""
        ring = self._history.get((ref, metric))
        return ring.values() if ring is not None else []

    def timed_history(self, ref: str, metric: str) -> list[tuple[float, float | None]]:
        """Oldest-first ``(time, value)`` points of a timed metric (job series)."""
        ring = self._history.get((ref, metric))
        return ring.points() if ring is not None else []

    def readings(self) -> Iterator[tuple[str, str, Reading]]:
        """Every newest reading as ``(ref, metric, reading)``."""
        for (ref, metric), reading in self._latest.items():
            yield ref, metric, reading

    def reading_columns(
        self,
    ) -> tuple[list[tuple[str, str]], list[tuple[float, float | None, float | None]]]:
        """Every newest reading's key and ``(time, value, rate)``, copied at C speed (the
        recorder's keyframe, taken on the collector's loop)."""
        return list(self._latest), list(map(_READING_FIELDS, self._latest.values()))

    def metrics_of(self, ref: str) -> list[str]:
        """Metric names with a reading for this entity, sorted."""
        return sorted(metric for (r, metric) in self._latest if r == ref)

    def history_points(self) -> int:
        """Total points held in all rings (for memory checks)."""
        return sum(len(ring) for ring in self._history.values())

    def iter_findings(self, ref: str) -> Iterator[Finding]:
        """Findings about one entity."""
        return (f for f in self.findings if f.ref == ref or ref in f.related)


def _counter_rate(previous: Reading, value: float | None, time: float) -> float | None:
    """Per-second rate between two counter readings; ``None`` across a reset or gap."""
    if value is None or previous.value is None:
        return None
    elapsed = time - previous.time
    delta = value - previous.value
    if elapsed <= 0 or delta < 0:
        # A counter that went backwards was reset (driver reload, agent restart):
        # no honest rate exists for this interval.
        return None
    return delta / elapsed


def _natural(ref: str) -> tuple[object, ...]:
    """Sort key that puts ``gpu/n/10`` after ``gpu/n/9``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in ref.split("/"))


def natural_sorted(refs: Iterable[str]) -> list[str]:
    """Refs in natural order."""
    return sorted(refs, key=_natural)
