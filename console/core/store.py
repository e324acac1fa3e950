"""Latest state of every entity, plus bounded history per (entity, metric).

Counters are stored raw and turned into per-second rates here, and only here:
the history of a counter metric holds rates, which is what every pane plots.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import operator
from array import array
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from console.core.garbage import long_lived_objects, no_cyclic_collection
from console.core.intake import MAX_METRICS_PER_REF, MAX_SERIES_PER_SOURCE
from console.core.model import COUNTER_METRICS as COUNTERS
from console.core.model import TIMED_METRICS as TIMED
from console.core.model import Batch, Column, Entity, Finding, ref_kind
from console.core.ring import BlockRing, FirstPoint, Ring, RingBlock, fits_float32

_VALUE = operator.attrgetter("value")
_TIME = operator.attrgetter("time")
_RATE = operator.attrgetter("rate")
_Found = tuple[list[tuple[str, str]], list["Reading"], list[Ring | BlockRing]]
"""A column's keys, readings and rings (:meth:`Store._resolved_column`)."""
_METRIC = operator.attrgetter("metric")
_REFS = operator.attrgetter("refs")
_TIMES = operator.attrgetter("times")
DEFAULT_HISTORY = 120
"""Points kept per (entity, metric): two minutes at 1 s, more than any sparkline shows."""
TIMED_HISTORY = 600
"""Points kept for the few timed (job) series: ten minutes, for baselines and onsets."""
PLACE_ONE_BY_ONE = 16
"""New refs of a kind are placed in its order one at a time (log2 of its size in sort
keys each) while they are fewer than its 1/16th; more, and the kind is sorted anew."""
SUMMED_METRICS = frozenset({"gpu.power", "gpu.power_limit", "gpu.energy_today", "gpu.energy_total"})
"""GPU gauges kept summed per node and for the fleet as readings land (the power pane
and the cost summary read totals; walking every GPU on each refresh cost seconds at
4,000 nodes)."""
FLEET = ""
"""The key of the fleet-wide totals (:meth:`Store.gpu_total` with no node)."""
LITTER_SLICE = 20_000
"""Forgotten changes freed in one step (:meth:`Store.drop_litter`): clearing a 1,000-node
cycle's 200,000 changed readings in one go held the UI's loop for 13-25 ms."""
LONG_LIVED_COLUMN = 500
"""A column of at least this many series whose merge makes objects that live on (its
new series; the arrays of its rings, once first points: :class:`FirstPoint`) makes them
under :func:`~console.core.garbage.long_lived_objects`. Made with the collector off and
left young, a mirror's columns of 1,000 kept ~18,000 of them in the middle generation:
each of its passes walked them again, 15-25 ms on the UI's loop, the longest of its steps
(bench/prometheus_relay.py --demo, 1,000 nodes). A short column (an agent's) is left to
the young passes: moving every young object of the process each time would leave its
garbage cycles to a full pass."""
SWEEP_EVERY = 60.0
"""Seconds between sweeps for series nobody sends any more (a sweep walks every series)."""


@dataclass(frozen=True)
class Changes:
    """What one engine cycle changed in the store: the one place a cycle's news is known
    (the collector's relay sends it to the UI; a recorder may keep it)."""

    entities: frozenset[str]
    """Refs of entities added or changed (name, parent or attrs)."""
    readings: frozenset[tuple[str, str]]
    """``(ref, metric)`` keys that got a new reading."""
    removed: frozenset[str]
    """Refs of entities that are gone (their readings went with them)."""
    findings: bool
    """Whether the findings changed."""
    batches: tuple[tuple[str, Batch, float], ...] = ()
    """While a flight recorder listens (:attr:`Store.journal`): each batch applied in the
    cycle, as ``(source, batch, time)`` (what a replay applies); else empty."""
    derived: tuple[tuple[str, str, float | None, float], ...] = ()
    """While a recorder listens: the readings analysis recorded, ``(ref, metric, value,
    time)``; else empty."""

    def __bool__(self) -> bool:
        return bool(self.entities or self.readings or self.removed or self.findings)


@dataclass(frozen=True)
class Moved:
    """What moved in the store during the current cycle (the sets are the store's own,
    read them, never change them)."""

    entities: set[str]
    """Refs of entities added or changed (or changed in place: :meth:`Store.touch`)."""
    removed: set[str]
    """Refs of entities that are gone."""
    readings: set[tuple[str, str]]
    """``(ref, metric)`` keys whose value (for a counter: rate) is not what it was, or
    that are new; a reading sent again unchanged is not here."""
    fresh: set[tuple[str, str]]
    """``(ref, metric)`` keys that got a new reading, moved or not (a new point)."""

    def entity(self, ref: str) -> bool:
        """Whether this entity changed, came or went."""
        return ref in self.entities or ref in self.removed


@dataclass(slots=True)
class Reading:
    """The newest reading of one metric."""

    time: float
    value: float | None
    rate: float | None = None
    """Per-second rate for counters; ``None`` until two readings, or after a reset."""
    seen: float = math.inf
    """Console clock when a source last sent it (series nobody sends expire); a reading
    restored from a recording, or derived by analysis, goes with its entity instead."""
    source: str = ""
    """The source that created the series (it counts against that source's cap)."""


@dataclass(slots=True)
class _Plan:
    """How one source's columns land while it sends the same ones poll after poll (the
    same metrics, the same refs lists): every reading's key and :class:`Reading` found
    once, gauges first then counters, and their history in one :class:`RingBlock`."""

    metrics: list[str]
    refs: list[list[str]]
    gauges: list[int]
    """Positions of the gauge columns it takes (then ``counters``; ``rest``: the
    columns it leaves to :meth:`Store._record_column`: timed or longer series)."""
    counters: list[int]
    rest: list[int]
    keys: list[tuple[str, str]]
    readings: list[Reading]
    """Every reading it takes, gauges first (``keys``: theirs, in that order)."""
    gauge_readings: list[Reading]
    counter_keys: list[tuple[str, str]]
    counter_readings: list[Reading]
    summed: list[tuple[str, int, list[str], list[Reading], str | None]]
    """``(metric, position, nodes, readings, node)`` of the columns kept in totals
    (``nodes``: each reading's node, or the fleet for a reading of no GPU; ``node``: the
    one they all are, an agent's column, else ``None``)."""
    block: RingBlock
    gauge_values: list[float | None]
    """The gauge readings' values, as the last poll left them: what a poll's are compared
    with, with no walk over the readings (whatever else sets one of them appends to its
    ring too, which detaches the block and ends the plan; ``restore_readings`` ends it)."""
    sizes: list[int]
    """How many refs each list held: a source that changed a list it had handed over
    (appended a ref) sends another shape, not the same one."""

    def fits(self, columns: list[Column]) -> bool:
        """Whether these are the columns it was made for (and its block still takes rows)."""
        return (
            self.block.detached is None
            and self.metrics == list(map(_METRIC, columns))
            and all(map(operator.is_, map(_REFS, columns), self.refs))
            and list(map(len, map(_REFS, columns))) == self.sizes
            and not any(map(_TIMES, columns))
        )


class Store:
    """Latest entities and readings, bounded history, and the current findings."""

    def __init__(
        self, history: int = DEFAULT_HISTORY, longer: dict[str, int] | None = None
    ) -> None:
        self.history_length = history
        """How many points each history ring keeps (timed series: at least ``TIMED_HISTORY``)."""
        self.longer = dict(longer or {})
        """Metrics whose rings keep more than ``history_length`` points (a mirror that
        keeps little keeps what a pane on screen plots further back)."""
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
        self.findings_pending = False
        """Whether the findings are not known yet (the collector a console reads sent its
        fleet before its first analysis): no findings then is not a verdict."""
        self._latest: dict[tuple[str, str], Reading] = {}
        self._history: dict[tuple[str, str], Ring | BlockRing] = {}
        self._by_kind: dict[str, dict[str, Entity]] = {}
        self._sorted_kind: dict[str, list[str]] = {}
        """Refs of each kind in natural order (the order, not the objects: a source
        re-sends an entity as a new object with new attrs, and readers must see it)."""
        self._kind_added: dict[str, set[str]] = {}
        """Refs of a sorted kind that came since it was sorted (placed on the next read)."""
        self._kind_thinned: set[str] = set()
        """Sorted kinds that lost refs since (filtered on the next read)."""
        self._children: dict[str, set[str]] = {}
        self._sorted_children: dict[str, dict[str | None, list[str]]] = {}
        """A parent's children's refs in natural order, all (key ``None``) and of each kind
        asked for; dropped when the set of children changes."""
        self._series_of: dict[str, int] = {}
        """Series each source owns (capped: ``Source.max_series``)."""
        self._metrics_of: dict[str, int] = {}
        """Series each ref has (capped: ``MAX_METRICS_PER_REF``)."""
        self._swept = 0.0
        self._resolved: dict[
            tuple[str, str],
            tuple[list[str], _Found],
        ] = {}
        """A column's refs list, and the keys, readings and rings found for them, by
        (source, metric) (:meth:`_resolved_column`); emptied whenever a series goes or
        its objects are replaced."""
        self._plans: dict[str, _Plan] = {}
        """Each source's :class:`_Plan`, while it fits (:meth:`_record_columns`)."""
        self._shapes: dict[str, tuple[list[str], list[list[str]]]] = {}
        """Each source's last columns (metrics, refs lists): a plan is made for columns
        sent twice, not for a source that sends new lists every poll."""
        self._totals: dict[tuple[str, str], int] = {}
        self._total_counts: dict[tuple[str, str], int] = {}
        """Sums of :data:`SUMMED_METRICS` per (node or fleet, metric) in millionths (whole
        numbers: a sum kept by deltas is then exact, the same in whatever order readings
        came, as a store rebuilt from a recording must be), and how many series each sums."""
        self._changed_entities: set[str] = set()
        self._changed_readings: set[tuple[str, str]] = set()
        self._fresh_lists: list[list[tuple[str, str]]] = []
        """The keys of the plans applied this cycle, each plan's own list (they join
        ``_changed_readings`` only when read: a 1,000-node stream's 200,000 keys a second
        were put in a set, copied for the cycle's changes or freed unread)."""
        self._moved_lists: list[tuple[list[tuple[str, str]], list[int]]] = []
        """The gauges plans found moved this cycle, as ``(keys, positions)``: they join
        ``_moved`` only when read, as ``_fresh_lists`` do."""
        self._handed = False
        """Whether :meth:`moved` handed out the change sets this cycle (live: keys then
        go in at once)."""
        self._removed: set[str] = set()
        self._findings_changed = False
        self._moved: set[tuple[str, str]] = set()
        self._litter: list[set[Any]] = []
        """Change sets forgotten (:meth:`forget_changes`), freed a slice at a time."""
        self.cycle = 0
        """Counts the ends of cycles (:meth:`take_changes`, :meth:`forget_changes`): an
        analyzer that keeps results between cycles knows when it missed one."""
        self.journal: list[tuple[str, Batch, float]] | None = None
        """A list while a flight recorder listens: the cycle's applied batches, handed out
        in :attr:`Changes.batches` (``None``: nobody records, nothing is kept)."""
        self.derived: list[tuple[str, str, float | None, float]] = []
        """The cycle's derived readings while recording (:attr:`Changes.derived`)."""

    # -- writing -------------------------------------------------------------

    def apply(
        self, batch: Batch, source: str, received: float, max_series: int = MAX_SERIES_PER_SOURCE
    ) -> int:
        """Merge one source's batch: upsert entities, record samples, then columns.

        ``received`` is the console's clock (the engine has already read any later
        time in the batch as ``received``: ``console.core.intake.admit``). Returns how
        many new series the caps refused.
        """
        batch_time = batch.time if batch.time is not None else received
        for entity in batch.entities:
            self._put_entity(entity, source, received)
        refused = 0
        for sample in batch.samples:
            time = sample.time or batch_time
            if not self._record(
                sample.ref, sample.metric, sample.value, time, received, source, max_series
            ):
                refused += 1
        if batch.columns:
            refused += self._record_columns(batch.columns, batch_time, received, source, max_series)
        if batch.meta:
            self.source_meta[source] = dict(batch.meta)
        if self.journal is not None:
            self.journal.append((source, batch, batch_time))
        # A batch with no time of its own and nothing in it (a mirror's collector before
        # its first cycle) says nothing of the data's clock: its arrival, on the wall
        # clock, would outrun a simulator's clock for good.
        timed = batch.time is not None or batch.entities or batch.samples or batch.columns
        if timed and (self.time is None or batch_time > self.time):
            self.time = batch_time
        self.version += 1
        return refused

    def record(self, ref: str, metric: str, value: float | None, time: float) -> None:
        """Record one derived reading (analysis uses this for link utilisation)."""
        # Derived series go with their entity (``expire``), never with the sweep.
        self._record(ref, metric, value, time, math.inf, "", MAX_SERIES_PER_SOURCE)
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
            for (ref, metric), (_time, value, _rate) in readings:
                if metric in SUMMED_METRICS:
                    self._add_to_totals(ref, metric, None, value, 1)
        else:
            # Readings change under the plans, whose blocks take for a repeated value
            # the one in their last row (RingBlock.append): they are made again.
            self._plans.clear()
            for key, (time, value, rate) in readings:
                reading = latest.get(key)
                if key[1] in SUMMED_METRICS:
                    old = None if reading is None else reading.value
                    self._add_to_totals(key[0], key[1], old, value, int(reading is None))
                if reading is None:
                    latest[key] = Reading(time, value, rate)
                else:
                    reading.time, reading.value, reading.rate = time, value, rate
        self._moved.update(key for key, _ in readings)
        self.version += 1

    def adopt_readings(self, readings: dict[tuple[str, str], Reading]) -> None:
        """A fresh store takes these readings as its own (a store rebuilt from a
        recording: the reader made the objects, none is copied)."""
        if self._latest:
            raise ValueError("adopt_readings is for a fresh store")
        self._forget_resolved()
        self._latest = readings
        for (ref, metric), reading in readings.items():
            if metric in SUMMED_METRICS:
                self._add_to_totals(ref, metric, None, reading.value, 1)
        self.version += 1

    def restore_fleet(
        self,
        entities: Sequence[Entity],
        sources: Sequence[str],
        seen: float,
        readings: dict[tuple[str, str], Reading],
        summed: tuple[Sequence[tuple[str, str]], Sequence[float | None]] | None = None,
        shape: FleetShape | None = None,
    ) -> None:
        """A fresh store takes a whole fleet at once (a store rebuilt from a recording:
        the reader made the objects, none is copied). The same store as
        :meth:`restore_entity` for each entity then :meth:`adopt_readings`, made in
        bulk: a seek at 1,000 nodes restores 13,000 entities and 30,000 summed readings,
        and one call each cost it 0.5 s (bench/recording.py). ``summed``: the keys of
        the readings of :data:`SUMMED_METRICS` and their values (NaN or ``None`` for
        none), when the caller has them without making readings (a recording's columns);
        keys handed as :class:`SummedKeys` are grouped once, whatever store they fill.
        ``shape``: the caller's :class:`FleetShape`, which keeps the grouping of the
        entities by kind and parent for the next fleet of the same refs and parents."""
        if self.entities or self._latest:
            raise ValueError("restore_fleet is for a fresh store")
        self._forget_resolved()
        refs = [entity.ref for entity in entities]
        self.entities = dict(zip(refs, entities, strict=True))
        self.entity_source = dict(zip(refs, sources, strict=True))
        self.last_seen = dict.fromkeys(self.entities, seen)  # (from a dict: made its size)
        self._changed_entities.update(self.entities)
        # Orders an empty store's readers cached (an empty list a kind) are not the fleet's.
        self._sorted_kind.clear()
        self._kind_added.clear()
        self._kind_thinned.clear()
        self._sorted_children.clear()
        kinds, children = (shape or FleetShape()).grouped(refs, entities)
        if shape is not None:  # (copies: a later entity is placed in them, insort)
            self._sorted_kind.update((kind, list(order))
                                     for kind, order in shape.natural_orders().items())  # fmt: skip
        # Each kind's dict and each parent's set made in C from the grouping.
        self._by_kind.update(
            (kind, dict(zip(members, map(entities.__getitem__, places), strict=True)))
            for kind, members, places in kinds
        )
        self._children.update(zip(children, map(set, children.values()), strict=True))
        self._latest = readings
        if summed is None:
            found = [key for key in readings if key[1] in SUMMED_METRICS]
            summed = (found, [readings[key].value for key in found])
        keys, values = summed
        if len(keys) != len(values):
            raise ValueError("summed: not one value a key")
        grouping = _summed_groups(keys)
        in_order = grouping.ordered(_micros_column(values))
        # Every total's sum in C, a slice of the gathered column each (4,000 at 1,000
        # nodes); then the fleet's, its metric's sums summed (over the one a total of
        # the readings counted in the fleet's alone).
        sums = list(map(sum, map(in_order.__getitem__, grouping.slices)))
        self._totals.update(zip(grouping.totals, sums, strict=True))
        self._total_counts.update(zip(grouping.totals, grouping.counts, strict=True))
        self._totals.update(
            (fleet, sum(map(sums.__getitem__, members)))
            for fleet, members in grouping.fleet_members
        )
        self._total_counts.update(grouping.fleet_counts)
        self.version += 1

    def restore_history(
        self, ref: str, metric: str, points: Iterable[tuple[float, float | None]]
    ) -> None:
        """Put a series' history back as it was (oldest first), leaving its reading be."""
        self._forget_resolved()  # the ring is replaced
        self._history[(ref, metric)] = self._ring(metric)
        self._history[(ref, metric)].fill(list(points))

    def restore_history_columns(
        self, ref: str, metric: str, times: Sequence[float], values: Sequence[float]
    ) -> None:
        """:meth:`restore_history` from two columns, times and values (NaN: not
        available): a recording's, with no object a point (a seek at 1,000 nodes puts
        back 88,000 points of job series)."""
        self._forget_resolved()  # the ring is replaced
        ring = self._history[(ref, metric)] = self._ring(metric)
        ring.fill_columns(times, values)

    def restore_entity(self, entity: Entity, source: str, seen: float) -> None:
        """Put one entity back as it was, without merging it with what is there."""
        self.entity_source[entity.ref] = source  # same source: replaced, not merged
        self._put_entity(entity, source, seen)

    def _put_entity(self, entity: Entity, source: str, received: float) -> None:
        ref = entity.ref
        old = self.entities.get(ref)
        if (
            old is not None
            and old.parent == entity.parent
            and self.entity_source.get(ref) == source
        ):
            # The common case (a source sends its entity again, in the same place): its
            # kind and parent already list it, only the object is new (a thousand agents
            # send ten a second).
            # (the same object may have changed inside; ref and parent are the same: the
            # fields compared alone, with no dataclass __eq__ and its tuples, 8,000 a second)
            if old is entity or old.attrs != entity.attrs or old.name != entity.name:
                self._changed_entities.add(ref)
            self.entities[ref] = entity
            self._by_kind[ref_kind(ref)][ref] = entity
            self.last_seen[ref] = received
            return
        if old is not None and self.entity_source.get(entity.ref) != source:
            # Two sources describe one thing (NVML and the host source both name
            # this node): keep what each says rather than the last one alone, and
            # an unknown (None) from one never erases what another knows.
            attrs = dict(old.attrs)
            for key, value in entity.attrs.items():
                if value is not None or key not in attrs:
                    attrs[key] = value
            entity = Entity(entity.ref, entity.name, entity.parent or old.parent, attrs)
        if old is entity or old != entity:  # the same object again may have changed inside
            self._changed_entities.add(entity.ref)
            if old is None:
                self._removed.discard(entity.ref)  # gone and back within one cycle
        if old is not None and old.parent != entity.parent and old.parent is not None:
            self._children.get(old.parent, set()).discard(entity.ref)
            self._sorted_children.pop(old.parent, None)
        self.entities[entity.ref] = entity
        same_kind = self._by_kind.setdefault(entity.kind, {})
        if entity.ref not in same_kind and entity.kind in self._sorted_kind:
            self._kind_added.setdefault(entity.kind, set()).add(entity.ref)
        same_kind[entity.ref] = entity
        if entity.parent is not None:
            siblings = self._children.setdefault(entity.parent, set())
            if entity.ref not in siblings:
                siblings.add(entity.ref)
                self._sorted_children.pop(entity.parent, None)
        self.entity_source[entity.ref] = source
        self.last_seen[entity.ref] = received

    def _record(
        self,
        ref: str,
        metric: str,
        value: float | None,
        time: float,
        seen: float,
        source: str,
        max_series: int,
    ) -> bool:
        # The hot path: called for every sample of every poll. False: refused (a cap).
        key = (ref, metric)
        reading = self._latest.get(key)
        counter = metric in COUNTERS
        self._changed_readings.add(key)
        if reading is None:
            # A new series: the only place memory grows, so the caps are checked here.
            owned = self._series_of.get(source, 0)
            per_ref = self._metrics_of.get(ref, 0)
            if owned >= max_series or per_ref >= MAX_METRICS_PER_REF:
                self._changed_readings.discard(key)  # refused: nothing to relay
                return False
            self._series_of[source] = owned + 1
            self._metrics_of[ref] = per_ref + 1
            reading = self._latest[key] = Reading(time, value, None, seen, source)
            ring: Ring | BlockRing = self._ring(metric)
            self._history[key] = ring
            self._moved.add(key)
            if metric in SUMMED_METRICS:
                self._add_to_totals(ref, metric, None, value, 1)
        else:
            if metric in SUMMED_METRICS:
                self._add_to_totals(ref, metric, reading.value, value, 0)
            if counter:
                rate = _counter_rate(reading, value, time)
                if rate != reading.rate:
                    self._moved.add(key)
                reading.rate = rate
            else:
                if value != reading.value:
                    self._moved.add(key)
                reading.rate = None
            reading.time, reading.value, reading.seen = time, value, seen
            found = self._history.get(key)  # a store rebuilt from a recording makes rings late
            ring = found if found is not None else self._history.setdefault(key, self._ring(metric))
        ring.append(reading.rate if counter else value, time)
        return True

    def _forget_resolved(self) -> None:
        """Forget every series found for columns (readings or rings were replaced)."""
        self._resolved.clear()
        self._plans.clear()

    def _record_columns(
        self, columns: list[Column], batch_time: float, seen: float, source: str, max_series: int
    ) -> int:
        """A batch's columns: through the source's plan when they are the same as last
        poll's, else one at a time; answers how many new series the caps refused."""
        plan = self._plans.get(source)
        if plan is None or not plan.fits(columns):
            plan = self._plan(columns, source)
        if plan is None:
            return sum(
                self._record_column(column, batch_time, seen, source, max_series)
                for column in columns
            )
        self._record_plan(plan, columns, batch_time, seen)
        return sum(
            self._record_column(columns[at], batch_time, seen, source, max_series)
            for at in plan.rest
        )

    def _plan(self, columns: list[Column], source: str) -> _Plan | None:
        """A plan for these columns when they are last poll's again and all their series
        exist (``None`` otherwise); their rings move into the plan's block."""
        self._plans.pop(source, None)
        metrics, refs = list(map(_METRIC, columns)), list(map(_REFS, columns))
        last = self._shapes.get(source)
        self._shapes[source] = (metrics, refs)
        if (
            last is None
            or last[0] != metrics
            or not all(map(operator.is_, last[1], refs))
            or any(map(_TIMES, columns))
            or len(set(metrics)) < len(metrics)  # a key twice: its points in order
        ):
            return None
        gauges: list[int] = []
        counters: list[int] = []
        rest: list[int] = []
        for at, metric in enumerate(metrics):
            plain = metric not in TIMED and metric not in self.longer
            (rest if not plain else counters if metric in COUNTERS else gauges).append(at)
        # Whole-number gauges first: the block holds them in 4-byte floats.
        whole = [at for at in gauges if fits_float32(columns[at].values)]
        gauges = whole + [at for at in gauges if at not in whole]
        found = [self._resolved_column(columns[at], source) for at in gauges + counters]
        if None in found:
            return None
        resolved = cast("list[_Found]", found)
        keys = [key for column_keys, _, _ in resolved for key in column_keys]
        readings = [reading for _, column_readings, _ in resolved for reading in column_readings]
        if any(reading.source != source for reading in readings):
            return None  # another source's series: its drops would not find this plan
        rings = [ring for _, _, column_rings in resolved for ring in column_rings]
        block = RingBlock(self.history_length, rings, sum(len(columns[at]) for at in whole))
        self._history.update(zip(keys, block.rings, strict=True))
        self._resolved.clear()  # they hold the rings replaced
        summed = [
            (metrics[at], at, nodes, column_readings, nodes[0] if len(set(nodes)) == 1 else None)
            for at, (_, column_readings, _) in zip(gauges + counters, resolved, strict=True)
            if metrics[at] in SUMMED_METRICS
            for nodes in [[_node_of(ref) or FLEET for ref in refs[at]]]
        ]
        count = sum(len(columns[at]) for at in gauges)
        plan = _Plan(metrics, refs, gauges, counters, rest, keys, readings, readings[:count],
                     keys[count:], readings[count:], summed, block,
                     list(map(_VALUE, readings[:count])), list(map(len, refs)))  # fmt: skip
        self._plans[source] = plan
        return plan

    def _record_plan(
        self, plan: _Plan, columns: list[Column], batch_time: float, seen: float
    ) -> None:
        """:meth:`_record_column` for a plan's columns at once: what a reading costs in
        Python steps is what this saves (a stream lands 200,000 readings a second)."""
        moved, totals = self._moved, self._totals
        for metric, at, nodes, summed, one in plan.summed:  # _move_totals, for the moved only
            values = columns[at].values
            if one is not None:  # one node's column: its total moves by the sums' difference
                last = list(map(_VALUE, summed))
                if values == last:
                    continue
                now_sum, last_sum = _micros_sum(values), _micros_sum(last)
                if now_sum is not None and last_sum is not None:
                    if delta := now_sum - last_sum:
                        for key in ((one, metric), (FLEET, metric)) if one else ((FLEET, metric),):
                            totals[key] = totals.get(key, 0) + delta
                    continue
            for node, reading, value in zip(nodes, summed, values, strict=False):
                if value != reading.value:
                    delta = _micros(value) - _micros(reading.value)
                    for key in ((node, metric), (FLEET, metric)) if node else ((FLEET, metric),):
                        totals[key] = totals.get(key, 0) + delta
        keys, readings = plan.keys, plan.gauge_readings
        values = list(itertools.chain.from_iterable([columns[at].values for at in plan.gauges]))
        old, plan.gauge_values = plan.gauge_values, values
        narrow, narrow_moved = plan.block.narrow, []
        if values != old:  # most gauges repeat themselves: only those that moved are set
            moved_at = list(itertools.compress(itertools.count(), map(operator.ne, values, old)))
            for at in moved_at:
                readings[at].value = values[at]
            narrow_moved = moved_at[: bisect.bisect_left(moved_at, narrow)]
            if self._handed:
                moved.update(map(keys.__getitem__, moved_at))
            else:
                self._moved_lists.append((keys, moved_at))
        points = [*values]  # then the counters' rates
        counted = itertools.chain.from_iterable([columns[at].values for at in plan.counters])
        for key, reading, value in zip(
            plan.counter_keys, plan.counter_readings, counted, strict=False
        ):
            # _counter_rate, inline: a call a reading is what this path saves
            previous, elapsed = reading.value, batch_time - reading.time
            if value is None or previous is None or elapsed <= 0 or value < previous:
                rate = None
            else:
                rate = (value - previous) / elapsed
            if rate != reading.rate:
                moved.add(key)
                reading.rate = rate
            reading.value = value
            points.append(rate)
        for reading in plan.readings:
            reading.time, reading.seen = batch_time, seen
        if self._handed:
            self._changed_readings.update(keys)
        else:
            self._fresh_lists.append(keys)  # the plan's list, never changed: no copy
        plan.block.append(points, narrow_moved)  # (each reading's value is the last row's)

    def _record_column(
        self, column: Column, batch_time: float, seen: float, source: str, max_series: int
    ) -> int:
        """:meth:`_record` for each reading of a column, what depends on its metric
        decided once; answers how many new series the caps refused."""
        resolved = self._resolved_column(column, source)
        if resolved is None:
            return self._record_new_column(column, batch_time, seen, source, max_series)
        keys, readings, rings = resolved
        self._changed_readings.update(keys)
        if column.metric in SUMMED_METRICS:
            self._move_totals(column.metric, keys, readings, column.values)
        # A long column's second poll: each first point becomes a ring with an array.
        second = len(rings) >= LONG_LIVED_COLUMN and type(rings[0]) is FirstPoint
        with long_lived_objects() if second else contextlib.nullcontext():
            self._append_column(column, keys, readings, rings, batch_time, seen)
        return 0

    def _append_column(
        self,
        column: Column,
        keys: list[tuple[str, str]],
        readings: list[Reading],
        rings: list[Ring | BlockRing],
        batch_time: float,
        seen: float,
    ) -> None:
        """A column's readings onto its series that exist (:meth:`_record_column`)."""
        moved, counter = self._moved, column.metric in COUNTERS
        values = column.values
        if column.times is None and not counter:  # the common case, in the fewest steps
            for key, reading, ring, value in zip(keys, readings, rings, values, strict=False):
                if value != reading.value:
                    moved.add(key)
                    reading.value = value
                reading.time, reading.seen = batch_time, seen
                ring.append(value, batch_time)
            return
        times = column.times if column.times is not None else itertools.repeat(None)
        for key, reading, ring, value, time in zip(
            keys, readings, rings, values, times, strict=False
        ):
            time = time or batch_time
            if counter:
                point = _counter_rate(reading, value, time)
                if point != reading.rate:
                    moved.add(key)
                reading.rate = point
            else:
                point = value
                if value != reading.value:
                    moved.add(key)
                reading.rate = None
            reading.time, reading.value, reading.seen = time, value, seen
            ring.append(point, time)

    def _move_totals(
        self,
        metric: str,
        keys: list[tuple[str, str]],
        readings: list[Reading],
        values: list[float | None],
    ) -> None:
        """:meth:`_add_to_totals` for a column of existing series (before their readings
        change): the deltas summed per node first, each total then moved once."""
        fleet = 0
        by_node: dict[str, int] = {}
        for (ref, _metric), reading, value in zip(keys, readings, values, strict=False):
            delta = _micros(value) - _micros(reading.value)
            if delta:
                fleet += delta
                node = _node_of(ref) or FLEET  # not a GPU: the fleet's total only
                by_node[node] = by_node.get(node, 0) + delta
        totals = self._totals
        by_node.pop(FLEET, None)
        for node, delta in ((FLEET, fleet), *by_node.items()):
            key = (node, metric)
            totals[key] = totals.get(key, 0) + delta

    def _resolved_column(self, column: Column, source: str) -> _Found | None:
        """The keys, readings and rings of a column's series when all of them exist
        (``None`` otherwise). Kept per source and metric while the column's refs are the
        same list and no series went: a stream sends the same refs every poll, and
        finding 200,000 series in the store's dicts each second was most of its cost."""
        refs = column.refs
        cached = self._resolved.get((source, column.metric))
        if cached is not None and cached[0] is refs and len(refs) == len(cached[1][0]):
            return cached[1]  # the same list, not grown or cut since (a source's own list)
        if refs and (refs[0], column.metric) not in self._latest:
            return None  # a new column (a first poll's): no need to look further
        keys = list(zip(refs, itertools.repeat(column.metric)))
        readings = list(map(self._latest.get, keys))
        rings = list(map(self._history.get, keys))
        # A new series (the caps), a ring made late (a store rebuilt from a recording), or
        # a ref twice (its points in time order: each reading must see the one before).
        if (
            not all(map(operator.is_not, readings, itertools.repeat(None)))
            or None in rings
            or len(set(refs)) < len(refs)
        ):
            return None
        resolved = (keys, cast("list[Reading]", readings), cast("list[Ring | BlockRing]", rings))
        # The refs are held with what was found in them: their id stays theirs.
        self._resolved[(source, column.metric)] = (refs, resolved)
        return resolved

    def _record_new_column(
        self, column: Column, batch_time: float, seen: float, source: str, max_series: int
    ) -> int:
        """A column with a series not in the store yet: all made at once when none is
        there yet (:meth:`_create_column`), else the general way, a reading at a time (a
        key that repeats then finds what the one before it made)."""
        # Three objects a series (key, reading, ring), none of them garbage: the cyclic
        # collector walking them as they come took a third of the time (a first poll's
        # columns at 4,000 nodes: 3.7 s with it, 2.5 s without); and a long column's
        # are moved out of the young generations after (LONG_LIVED_COLUMN).
        long = len(column) >= LONG_LIVED_COLUMN
        with long_lived_objects() if long else no_cyclic_collection():
            if self._create_column(column, batch_time, seen, source, max_series):
                return 0
            if self._create_history(column, batch_time, seen, source, max_series):
                return 0
        metric = column.metric
        times = column.times if column.times is not None else itertools.repeat(None)
        refused = 0
        for ref, value, time in zip(column.refs, column.values, times, strict=False):
            if not self._record(ref, metric, value, time or batch_time, seen, source, max_series):
                refused += 1
        return refused

    def _create_column(
        self, column: Column, batch_time: float, seen: float, source: str, max_series: int
    ) -> bool:
        """:meth:`_record` for a column whose series are all new, in a few steps for the
        whole column: its readings, its rings (each a :class:`FirstPoint`), the caps and
        the totals. A first poll is all new series (1.2 million at 4,000 nodes, made a
        reading at a time twice: by the collector, then by the UI's mirror). Answers
        whether it did; it does nothing for a timed metric, a ref twice, a series that
        exists, or a series the caps would refuse (the general way takes those)."""
        metric, refs = column.metric, column.refs
        if metric in TIMED or len(set(refs)) < len(refs):
            return False
        keys = list(zip(refs, itertools.repeat(metric)))
        latest = self._latest
        if any(map(latest.__contains__, keys)):
            return False
        metrics_of = self._metrics_of
        per_ref = list(map(metrics_of.get, refs, itertools.repeat(0)))
        owned = self._series_of.get(source, 0) + len(refs)
        if owned > max_series or max(per_ref, default=0) >= MAX_METRICS_PER_REF:
            return False
        self._series_of[source] = owned
        metrics_of.update(zip(refs, map(operator.add, per_ref, itertools.repeat(1)), strict=False))
        values = column.values
        times: Iterable[float] = itertools.repeat(batch_time)
        if column.times is not None:
            times = [time or batch_time for time in column.times]
        # A counter's first point is its rate: none yet.
        points = itertools.repeat(None) if metric in COUNTERS else values
        capacity = self.longer.get(metric, self.history_length)
        readings = map(Reading, times, values, itertools.repeat(None), itertools.repeat(seen),
                       itertools.repeat(source))  # fmt: skip
        latest.update(zip(keys, readings, strict=False))
        rings = map(FirstPoint, points, itertools.repeat(capacity))
        self._history.update(zip(keys, rings, strict=False))
        self._moved.update(keys)
        self._changed_readings.update(keys)
        if metric in SUMMED_METRICS:
            self._count_in_totals(metric, refs, values)
        return True

    def _create_history(
        self, column: Column, batch_time: float, seen: float, source: str, max_series: int
    ) -> bool:
        """:meth:`_record` for a column that is one new timed series' points (a job's
        history: a relay sends each as a line of one ref, 300 points at 4,000 nodes'
        1,000 jobs), its ring filled at once. Answers whether it did; it does nothing
        for any other column (a counter's or a summed gauge's too: the general way)."""
        metric, refs = column.metric, column.refs
        if metric not in TIMED or metric in COUNTERS or metric in SUMMED_METRICS or not refs:
            return False
        ref = refs[0]
        key = (ref, metric)
        if refs.count(ref) != len(refs) or key in self._latest:
            return False
        owned, per_ref = self._series_of.get(source, 0), self._metrics_of.get(ref, 0)
        if owned >= max_series or per_ref >= MAX_METRICS_PER_REF:
            return False
        self._series_of[source], self._metrics_of[ref] = owned + 1, per_ref + 1
        if column.times is None:
            times = [batch_time] * len(refs)
        else:
            times = [time or batch_time for time in column.times]
        ring = self._ring(metric)
        ring.fill(list(zip(times, column.values, strict=False)))
        self._history[key] = ring
        self._latest[key] = Reading(times[-1], column.values[-1], None, seen, source)
        self._moved.add(key)
        self._changed_readings.add(key)
        return True

    def _count_in_totals(self, metric: str, refs: list[str], values: list[float | None]) -> None:
        """:meth:`_add_to_totals` for new series, each total moved once."""
        added: dict[str, list[int]] = {}  # node (or FLEET): [series, millionths]
        for ref, value in zip(refs, values, strict=False):
            node = _node_of(ref) or FLEET
            both = added.get(node)
            if both is None:
                both = added[node] = [0, 0]
            both[0] += 1
            both[1] += _micros(value)
        fleet = [sum(both[0] for both in added.values()), sum(both[1] for both in added.values())]
        added.pop(FLEET, None)
        totals, counts = self._totals, self._total_counts
        for node, (series, micros) in ((FLEET, fleet), *added.items()):
            key = (node, metric)
            counts[key] = counts.get(key, 0) + series
            totals[key] = totals.get(key, 0) + micros

    def _add_to_totals(
        self, ref: str, metric: str, old: float | None, new: float | None, series: int
    ) -> None:
        """Move the totals of ``ref``'s node and of the fleet by ``new - old``
        (``series``: +1 a series begins, -1 it ends)."""
        delta = _micros(new) - _micros(old)
        totals, counts = self._totals, self._total_counts
        for key in _total_keys(ref, metric):
            if series:
                left = counts.get(key, 0) + series
                if left <= 0:  # the last series went: no total, and no rounding left over
                    counts.pop(key, None)
                    totals.pop(key, None)
                    continue
                counts[key] = left
            totals[key] = totals.get(key, 0) + delta

    def gpu_total(self, node: str | None, metric: str) -> float | None:
        """The sum of one of :data:`SUMMED_METRICS` over a node's GPUs (``node`` ``None``:
        the fleet's), ``None`` when no GPU there has it. Kept as readings land: free."""
        key = (node or FLEET, metric)
        return self._totals[key] / 1e6 if key in self._total_counts else None

    def _flush_plans(self) -> None:
        """Put the keys the plans applied this cycle landed and moved in the change sets."""
        if self._fresh_lists:
            self._changed_readings.update(*self._fresh_lists)
            self._fresh_lists = []
        if self._moved_lists:
            for keys, moved_at in self._moved_lists:
                self._moved.update(map(keys.__getitem__, moved_at))
            self._moved_lists = []

    def _drop_series(self, key: tuple[str, str]) -> None:
        self._flush_plans()  # a series gone and refused again is no change (``_record``)
        self._resolved.clear()
        reading = self._latest.pop(key)
        self._plans.pop(reading.source, None)  # a plan holds only its source's series
        self._shapes.pop(reading.source, None)  # (and a source gone leaves nothing held)
        self._moved.add(key)
        if key[1] in SUMMED_METRICS:
            self._add_to_totals(key[0], key[1], reading.value, None, -1)
        self._history.pop(key, None)
        for counts, name in ((self._series_of, reading.source), (self._metrics_of, key[0])):
            left = counts.get(name, 1) - 1
            if left > 0:
                counts[name] = left
            else:
                counts.pop(name, None)

    def series_count(self, source: str) -> int:
        """How many series a source owns now."""
        return self._series_of.get(source, 0)

    def _ring(self, metric: str) -> Ring:
        timed = metric in TIMED
        length = self.longer.get(metric, self.history_length)
        return Ring(max(length, TIMED_HISTORY) if timed else length, timed=timed)

    def set_findings(self, findings: list[Finding]) -> None:
        """Replace the findings with a new analysis result."""
        if findings != self.findings:
            self._findings_changed = True
        self.findings = findings
        self.version += 1

    def take_changes(self) -> Changes:
        """What changed since the last call (the engine calls it once per cycle)."""
        fresh = itertools.chain(self._changed_readings, *self._fresh_lists)
        changes = Changes(
            frozenset(self._changed_entities - self._removed),
            frozenset(k for k in fresh if k[0] not in self._removed)
            if self._removed
            else frozenset(fresh),
            frozenset(self._removed),
            self._findings_changed,
            tuple(self.journal or ()),
            tuple(self.derived),
        )
        if self.journal is not None:
            self.journal, self.derived = [], []
        self._changed_entities, self._changed_readings, self._removed = set(), set(), set()
        self._fresh_lists, self._moved_lists, self._handed = [], [], False
        self._findings_changed = False
        self._moved.clear()
        self.cycle += 1
        return changes

    def forget_changes(self) -> None:
        """Drop what changed since the last :meth:`take_changes` (nobody wants it). The
        sets are swapped for empty ones, not cleared: freeing them touches every key, and
        :meth:`drop_litter` does that in slices the caller spreads over its loop."""
        if self._litter:  # never drained (nobody loops): freed now rather than piled up
            self._litter.clear()
        changes = (self._changed_entities, self._changed_readings, self._removed, self._moved)
        self._litter += [changed for changed in changes if changed]  # nothing to free: none
        self._changed_entities, self._changed_readings = set(), set()
        self._removed, self._moved = set(), set()
        self._fresh_lists, self._moved_lists, self._handed = [], [], False
        self._findings_changed = False
        if self.journal is not None:
            self.journal, self.derived = [], []
        self.cycle += 1

    def drop_litter(self, count: int = LITTER_SLICE) -> bool:
        """Free up to ``count`` keys of the change sets :meth:`forget_changes` dropped;
        whether some are left (the caller yields to its loop, then calls again)."""
        while self._litter and count > 0:
            old = self._litter[-1]
            taken = min(count, len(old))
            deque(itertools.starmap(old.pop, itertools.repeat((), taken)), maxlen=0)  # C speed
            count -= taken
            if not old:
                self._litter.pop()
        return bool(self._litter)

    def touch(self, ref: str) -> None:
        """Say that an entity changed in place (analysis that edits attrs calls this, so
        that results kept for the entity are recomputed and the relay sends it)."""
        if ref in self.entities:
            self._changed_entities.add(ref)
            self.version += 1

    def moved(self) -> Moved:
        """What moved in this cycle so far (live, until the cycle ends): what analysis
        that keeps results between cycles must recompute."""
        self._flush_plans()
        self._handed = True  # the sets handed out stay live
        return Moved(self._changed_entities, self._removed, self._moved, self._changed_readings)

    def expire(
        self, before: float, keep_sources: frozenset[str] = frozenset(), sweep: bool = False
    ) -> list[str]:
        """Forget entities not reported since ``before`` (console clock) and their history,
        and (each ``SWEEP_EVERY`` seconds, or with ``sweep``) series nobody sent since then:
        refs that are no entity, metrics a live ref no longer sends. Entities and series
        of ``keep_sources`` stay (mirrors: they say themselves what is gone).

        This is what keeps memory flat when jobs and nodes come and go for days, and
        when a lying source invents new names on every poll.
        """
        if sweep or before - self._swept >= SWEEP_EVERY:
            self._swept = before
            stale = [
                key for key, reading in self._latest.items()
                if reading.seen < before and reading.source not in keep_sources
            ]  # fmt: skip
            for key in stale:
                self._drop_series(key)
            if stale:
                self.version += 1
        if not self.last_seen or min(self.last_seen.values()) >= before:
            return []  # none so old, found at C speed (the engine asks four times a second)
        gone = [
            ref for ref, seen in self.last_seen.items()
            if seen < before and self.entity_source.get(ref) not in keep_sources
        ]  # fmt: skip
        return self.remove(gone)

    def expire_refs(self, gone: Iterable[str]) -> None:
        """Forget these entities and their history (a recording replays an expiry)."""
        self.remove(gone)

    def remove(self, refs: Iterable[str]) -> list[str]:
        """Forget these entities (those known) and their history."""
        gone = [ref for ref in refs if ref in self.entities]
        if not gone:
            return gone
        gone_set = set(gone)
        self._removed |= gone_set
        for ref in gone:
            entity = self.entities.pop(ref)
            self._by_kind.get(entity.kind, {}).pop(ref, None)
            if entity.kind in self._sorted_kind:
                self._kind_thinned.add(entity.kind)
                self._kind_added.get(entity.kind, set()).discard(ref)
            if entity.parent is not None:
                self._children.get(entity.parent, set()).discard(ref)
                self._sorted_children.pop(entity.parent, None)
            self._children.pop(ref, None)
            self._sorted_children.pop(ref, None)
            self.entity_source.pop(ref, None)
            self.last_seen.pop(ref, None)
        for key in [key for key in self._latest if key[0] in gone_set]:
            self._drop_series(key)
        self.version += 1
        return gone

    # -- reading -------------------------------------------------------------

    def get(self, ref: str) -> Entity | None:
        """The entity with this ref, if known."""
        return self.entities.get(ref)

    def of_kind(self, kind: str) -> list[Entity]:
        """All entities of one kind, sorted by ref (the sort is cached until the set changes)."""
        same_kind = self._by_kind.get(kind, {})
        ordered = self._sorted_order(kind, same_kind)
        # The order is cached, the entities are not: a source may report a new object.
        return [same_kind[ref] for ref in ordered]

    def _sorted_order(self, kind: str, same_kind: dict[str, Entity]) -> list[str]:
        """The refs of ``kind`` in natural order, brought up to date with what came and
        went since the last read: a few new GPUs are placed one by one, not the fleet's
        32,000 sorted again (0.25 s at 4,000 nodes, at each read while a fleet lands)."""
        ordered = self._sorted_kind.get(kind)
        added = self._kind_added.pop(kind, set())
        if kind in self._kind_thinned:  # (a ref gone and back is placed again below)
            self._kind_thinned.discard(kind)
            if ordered is not None:
                ordered = [ref for ref in ordered if ref in same_kind and ref not in added]
        if ordered is None or len(added) > len(ordered) // PLACE_ONE_BY_ONE:
            ordered = sorted(same_kind, key=_natural)
        else:
            for ref in added:
                bisect.insort(ordered, ref, key=_natural)
        self._sorted_kind[kind] = ordered
        return ordered

    def count(self, kind: str) -> int:
        """How many entities of one kind are known."""
        return len(self._by_kind.get(kind, {}))

    def children(self, ref: str, kind: str | None = None) -> list[Entity]:
        """Entities whose parent is ``ref`` (a node's GPUs and ports), sorted by ref."""
        entities = self.entities
        return [entities[r] for r in self.child_refs(ref, kind)]

    def child_refs(self, ref: str, kind: str | None = None) -> Sequence[str]:
        """The refs of :meth:`children`, without making a list of entities.

        The order is kept until the set of children changes (panes ask for every
        node's GPUs on each redraw: at 4,000 nodes, sorting each time cost 0.3 s)."""
        ordered = self._sorted_children.get(ref)
        if ordered is None:
            refs = self._children.get(ref)
            if not refs:
                return ()
            ordered = self._sorted_children[ref] = {None: sorted(refs, key=_natural)}
        of_kind = ordered.get(kind)
        if of_kind is None:
            of_kind = ordered[kind] = [r for r in ordered[None] if ref_kind(r) == kind]
        return of_kind

    def reading(self, ref: str, metric: str) -> Reading | None:
        """The newest reading of one metric, if any."""
        return self._latest.get((ref, metric))

    def value(self, ref: str, metric: str) -> float | None:
        """The newest value of a gauge; for a counter, its current per-second rate."""
        reading = self._latest.get((ref, metric))
        if reading is None:
            return None
        return reading.rate if metric in COUNTERS else reading.value

    def values(self, refs: Iterable[str], metric: str) -> list[float | None]:
        """:meth:`value` of one metric for many refs (a node's GPUs), in their order: one
        call where a group of a thousand nodes' rows asked sixteen thousand times."""
        latest = self._latest.get
        readings = [latest((ref, metric)) for ref in refs]
        if metric in COUNTERS:
            return [None if r is None else r.rate for r in readings]
        return [None if r is None else r.value for r in readings]

    def history(self, ref: str, metric: str) -> list[float | None]:
        """Oldest-first history (rates for counters), at most ``history_length`` points."""
        ring = self._history.get((ref, metric))
        return ring.values() if ring is not None else []

    def timed_history(self, ref: str, metric: str) -> list[tuple[float, float | None]]:
        """Oldest-first ``(time, value)`` points of a timed metric (job series)."""
        ring = self._history.get((ref, metric))
        return ring.points() if ring is not None else []

    def timed_columns(self, ref: str, metric: str) -> tuple[array[float], array[float]]:
        """:meth:`timed_history` as two columns, times and values (NaN: not available),
        copied in C (the recorder's keyframe, taken on the collector's loop)."""
        ring = self._history.get((ref, metric))
        return ring.columns() if ring is not None else (array("d"), array("d"))

    def readings(self) -> Iterator[tuple[str, str, Reading]]:
        """Every newest reading as ``(ref, metric, reading)``."""
        for (ref, metric), reading in self._latest.items():
            yield ref, metric, reading

    def reading_fields(
        self,
    ) -> tuple[list[tuple[str, str]], list[float], list[float | None], list[float | None]]:
        """Every newest reading as four lists, keys, times, values and rates: copied at C
        speed, with no object a reading (the recorder's keyframe, the relay's document)."""
        readings = list(self._latest.values())
        return (list(self._latest), list(map(_TIME, readings)), list(map(_VALUE, readings)),
                list(map(_RATE, readings)))  # fmt: skip

    def metrics_of(self, ref: str) -> list[str]:
        """Metric names with a reading for this entity, sorted."""
        return sorted(metric for (r, metric) in self._latest if r == ref)

    def history_points(self) -> int:
        """Total points held in all rings (for memory checks)."""
        return sum(len(ring) for ring in self._history.values())

    def iter_findings(self, ref: str) -> Iterator[Finding]:
        """Findings about one entity."""
        return (f for f in self.findings if f.ref == ref or ref in f.related)


def _micros_sum(values: list[float | None]) -> int | None:
    """The sum of :func:`_micros` of ``values`` at C speed, when all are numbers whose
    millionths are finite (``None`` otherwise: the caller takes them one by one). Whole
    numbers: the same total in whatever order, as the sum of each reading's difference."""
    if None in values:  # (a column of GPUs that do not say: before anything raises)
        return None
    try:  # (an infinity raises: one pass in the common case)
        return sum(map(round, map(operator.mul, values, itertools.repeat(1e6))))
    except (ValueError, OverflowError):
        return None


def _micros(value: float | None) -> int:
    """A reading in millionths, as a whole number (0 for none, or where the millionths
    are not finite: inf, NaN, and a finite lie past 1.8e302 that a million makes inf)."""
    if value is None:
        return 0
    micros = value * 1e6
    return round(micros) if micros - micros == 0 else 0


def _micros_column(values: Sequence[float | None]) -> list[int]:
    """:func:`_micros` of each value, in C when every one is a float whose millionths
    are finite (NaN - NaN and inf - inf are not 0; a ``None`` makes ``sum`` raise, an
    ``int`` ``float.__round__``: half the time of ``round``, which looks it up a value)."""
    try:
        total = sum(values)  # type: ignore[arg-type]
        if total - total == 0:
            return list(map(float.__round__, map(operator.mul, values, itertools.repeat(1e6))))
    except (TypeError, OverflowError):
        pass
    return [0 if v is None else round(m) if (m := v * 1e6) - m == 0 else 0 for v in values]


@dataclass
class _Groups:
    """Summed readings' keys grouped by total (:func:`_summed_groups`)."""

    ordered: Any
    """A gather that puts a column of their values in the totals' order."""
    totals: list[tuple[str, str]]
    """Each total's key, ``(node, metric)`` (node ``FLEET``: the readings counted in
    the fleet's alone)."""
    slices: list[slice]
    """Each total's slice of the gathered column."""
    counts: list[int]
    """How many readings each total sums."""
    fleet_members: list[tuple[tuple[str, str], list[int]]]
    """Each metric's fleet total and the totals (their places) it sums."""
    fleet_counts: list[tuple[tuple[str, str], int]]
    """How many readings each fleet total sums."""


class FleetShape:
    """A fleet's entities grouped by kind and by parent, for :meth:`Store.restore_fleet`,
    kept by a caller that restores fleets of the same refs and parents again and again
    (a recording's reader: 13,000 entities a seek at 1,000 nodes, ~6 ms grouped one by
    one): grouped again only when the refs or the parents differ from the last. Only
    refs and places are kept, never an entity. So is each kind's natural order
    (:meth:`natural_orders`) while its members stay the same: sorting a restored store's
    8,000 GPUs cost its first reader (a pane, after each seek) 12-14 ms."""

    def __init__(self) -> None:
        self._refs: list[str] = []
        self._parents: list[str | None] = []
        self._kinds: list[tuple[str, list[str], list[int]]] = []
        self._children: dict[str, list[str]] = {}
        self._orders: dict[str, list[str]] = {}

    def grouped(
        self, refs: list[str], entities: Sequence[Entity]
    ) -> tuple[list[tuple[str, list[str], list[int]]], dict[str, list[str]]]:
        """Each kind's refs and their places (kinds in the order first met), and each
        parent's children, for these entities (``refs``: theirs)."""
        parents = list(map(_PARENT, entities))
        if refs != self._refs:
            kinds: dict[str, tuple[list[str], list[int]]] = {}
            for place, ref in enumerate(refs):
                members = kinds.get(kind := ref_kind(ref))
                if members is None:
                    members = kinds[kind] = ([], [])
                members[0].append(ref)
                members[1].append(place)
            before = {kind: members for kind, members, _places in self._kinds}
            self._orders = {kind: order for kind, order in self._orders.items()
                            if kind in kinds and kinds[kind][0] == before.get(kind)}  # fmt: skip
            self._kinds = [(kind, *members) for kind, members in kinds.items()]
            self._refs, self._parents = refs, []
        if parents != self._parents:
            children: dict[str, list[str]] = {}
            for ref, parent in zip(refs, parents, strict=True):
                if parent is not None:
                    children.setdefault(parent, []).append(ref)
            self._children, self._parents = children, parents
        return self._kinds, self._children

    def natural_orders(self) -> dict[str, list[str]]:
        """Each kind's refs (as last grouped) in natural order, sorted only for a kind
        whose members changed; the caller must not change the lists."""
        for kind, members, _places in self._kinds:
            if kind not in self._orders:
                self._orders[kind] = sorted(members, key=_natural)
        return self._orders


_PARENT = operator.attrgetter("parent")


class SummedKeys(tuple[tuple[str, str], ...]):
    """The keys of summed readings, for :meth:`Store.restore_fleet`, with their grouping
    kept on them: a recording's seeks hand the same keys to each fresh store (32,000 at
    1,000 nodes: 87 ms to group), so the grouping lives as long as the keys and no
    longer, and two stores filled from other keys never share it. A tuple: keys that
    cannot change keep their grouping true."""

    groups: _Groups | None = None


def _summed_groups(keys: Sequence[tuple[str, str]]) -> _Groups:
    """Summed readings' keys by total ``(node, metric)`` (node ``FLEET`` for a reading
    counted in the fleet's alone): a gather that puts a column of their values in
    that order, and each total's slice of it; kept on :class:`SummedKeys`."""
    if type(keys) is SummedKeys:
        if keys.groups is None:
            keys.groups = _group_keys(keys)
        return keys.groups
    return _group_keys(keys)


def _group_keys(keys: Sequence[tuple[str, str]]) -> _Groups:
    """:func:`_summed_groups`, made."""
    nodes = {ref: _node_of(ref) or FLEET for ref in {ref for ref, _metric in keys}}
    # Each total's places in one pass (a sort of 32,000 (node, metric) pairs was most
    # of a session's first seek's grouping: ~40 ms), totals in the order first met.
    places: dict[tuple[str, str], list[int]] = {}
    for index, (ref, metric) in enumerate(keys):
        total = (nodes[ref], metric)
        found = places.get(total)
        if found is None:
            places[total] = [index]
        else:
            found.append(index)
    order: list[int] = []
    slices: list[slice] = []
    fleet: dict[tuple[str, str], list[int]] = {}
    for number, ((_node, metric), members) in enumerate(places.items()):
        slices.append(slice(len(order), len(order) + len(members)))
        order += members
        fleet.setdefault((FLEET, metric), []).append(number)
    if len(order) > 1:
        ordered: Any = operator.itemgetter(*order)
    else:
        ordered = lambda column: tuple(column[i] for i in order)  # noqa: E731
    counts = list(map(len, places.values()))
    fleet_counts = [(key, sum(map(counts.__getitem__, members))) for key, members in fleet.items()]
    return _Groups(ordered, list(places), slices, counts, list(fleet.items()), fleet_counts)


def _node_of(ref: str) -> str | None:
    """The node whose totals a GPU's summed readings count in (``None``: not a GPU)."""
    kind, _, rest = ref.partition("/")
    return f"node/{rest.partition('/')[0]}" if kind == "gpu" and rest else None


def _total_keys(ref: str, metric: str) -> tuple[tuple[str, str], ...]:
    """The totals a summed reading counts in: the fleet's, and its node's for a GPU."""
    node = _node_of(ref)
    return ((FLEET, metric), (node, metric)) if node else ((FLEET, metric),)


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
