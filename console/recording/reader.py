"""Reading a recording: the fleet as it was at any second of it.

A seek reads the keyframe at or before the time, then the frames after it up to
the time. A batch whose keys (schema) come again in a later frame is wholly
replaced by it, so of each schema only the two newest batches are applied (the
older of the two gives counters their rate); the points of timed (job) series are
taken from every frame. The result is a :class:`~console.core.store.Store` that every
pane, ``snapshot`` and ``explain`` read exactly like the live one.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sqlite3
from array import array
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from itertools import compress as selected
from operator import eq, not_
from pathlib import Path
from typing import Any, TypeVar, cast

from console.api import SourceStatus
from console.core.garbage import long_lived_objects
from console.core.model import COUNTER_METRICS, TIMED_METRICS, Batch, Entity, Finding, Sample
from console.core.store import DEFAULT_HISTORY, SUMMED_METRICS, FleetShape, Store
from console.recording.codec import (
    DECIMAL,
    GROUPED,
    READABLE_VERSIONS,
    XORED,
    Known,
    Like,
    MetricOrder,
    Place,
    Points,
    as_optional,
    decimal_floats,
    decode,
    decompress,
    inflate,
    join_history,
    keyframe_against,
    patched,
    patches,
    place_among,
    unpack_decimals,
    unpack_floats,
    unpack_history,
    unpack_keys,
)
from console.recording.entities import latest_entities
from console.recording.layout import database_file
from console.recording.points import TimedPoints
from console.recording.readings import LazyReadings, counter_rates
from console.recording.restored import restored_entities


class RecordingError(ValueError):
    """The recording cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class Incident:
    """A new critical finding the recorder marked."""

    time: float
    ref: str
    kind: str
    severity: str
    title: str

    @property
    def start(self) -> float:
        """Where to open it: a little before the finding appeared."""
        return self.time - 60.0


@dataclass
class Moment:
    """The fleet at one recorded second."""

    time: float
    """The frame's time (the store's clock then)."""
    store: Store
    statuses: list[SourceStatus]
    origin: str | None = None
    """Where it was read when not from the recording: the names of the sources that
    kept it (Prometheus, for a time before the recording starts)."""


@dataclass
class _Batch:
    source: str
    frame: float
    batch_time: float
    keys: tuple[list[str], list[str]]
    times: bytes | None
    values: bytes
    schema: int | None = None
    timed: list[bytes] | None = None
    """The timed series' values and times, apart (read from batches otherwise skipped)."""
    against: bytes | None = None
    """What its values are XORed against (its schema's in the keyframe's frame)."""
    order: MetricOrder | None = None
    """The order its values were written in, when not the schema's."""
    flags: int = 0

    def column(self) -> array[float]:
        """Its values in the schema's order, NaN for *not available*."""
        return _column(self.values, self.against, self.order, self.flags, len(self.keys[0]))


@dataclass
class _State:
    readings: LazyReadings = field(default_factory=LazyReadings)
    """The store's readings, each made when first read (a fleet has hundreds of
    thousands; a screen reads a few thousand)."""
    entities: dict[str, bytes] = field(default_factory=dict)
    """Each entity's recorded body by ref (a seek puts up to 60,000 in, a keyframe's
    and nine frames' changed GPUs: no tuple a ref with its source)."""
    sources: dict[str, str] = field(default_factory=dict)
    """Each entity's source by ref."""
    findings: bytes = b""
    statuses: bytes = b""
    meta: bytes = b""
    analysis: bytes = b""
    history: dict[tuple[str, str], Points] = field(default_factory=dict)
    """The timed (job) series' points, as two columns each."""


@dataclass
class _HourGroup:
    """Keyframes in a row with the same keys, for :meth:`Recording.hour_history`."""

    keys: tuple[list[str], list[str]]
    index: dict[tuple[str, str], int]
    """Each key's place in a keyframe's column."""
    size: int
    times: array[float] = field(default_factory=lambda: array("d"))
    points: array[float] = field(default_factory=lambda: array("d"))
    """The keyframes' columns one after another (a counter's rate, a gauge's value)."""


class Recording:
    """One recording, open for reading (the file of a live console too)."""

    def __init__(self, path: Path, threads: bool = False) -> None:
        """``threads``: used from more than one thread (one at a time: the caller locks)."""
        self.file = database_file(path)
        if not self.file.is_file():
            raise RecordingError(f"{path}: no recording there")
        try:
            self._db = sqlite3.connect(
                f"file:{self.file}?mode=ro", uri=True, check_same_thread=not threads
            )
            row = self._db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        except sqlite3.Error as exc:
            raise RecordingError(f"{self.file}: not a recording ({exc})") from None
        if row is None or row[0] not in READABLE_VERSIONS:
            found = "no version" if row is None else f"version {row[0]}"
            readable = f"{', '.join(READABLE_VERSIONS[:-1])} and {READABLE_VERSIONS[-1]}"
            raise RecordingError(f"{self.file}: {found}, this console reads {readable}")
        self._schemas: dict[int, tuple[list[str], list[str]]] = {}
        self._orders: dict[int, MetricOrder] = {}
        self._last_index: tuple[int, dict[tuple[str, str], int]] | None = None
        """The place of each key in the last keyframe schema's columns (a seek's dict of
        readings starts as its copy: 227,000 keys at 1,000 nodes, made once)."""
        self._summed: list[Any] = [None, None, None, None]
        """What :meth:`LazyReadings.summed` keeps for the next seek from the same
        keyframe schema (this reader's: another recording read beside it has its own)."""
        self._places: dict[tuple[Any, Any], Place] = {}
        """Where each batch schema's keys sit in a keyframe schema's (one after another:
        :meth:`LazyReadings.lay` copies them as a slice)."""
        self._within: dict[int, tuple[list[str], list[str], bool]] = {}
        """Whether a batch schema's refs are all among a keyframe schema's (by the
        batch's list of refs; :meth:`_gone`)."""
        self._last_frames: dict[float, dict[str, Any]] = {}
        """The frames of the last seek's keyframe interval read so far, decompressed, by
        time (at most :data:`_KEPT_FRAMES`)."""
        self._last_keyframe: tuple[Any, ...] | None = None
        """The last seek's keyframe: its body, its :class:`_References` and, from the
        second seek from it on, its readings' three columns (times, values, rates)."""
        self._made_entities: dict[str, Entity] = {}
        self._made_bodies: dict[str, bytes] = {}
        """The last seek's entities and the recorded bodies they were made from, by ref
        (:meth:`_entities`)."""
        self._shape = FleetShape()
        """The last seek's entities grouped by kind and parent (most seeks' are the same)."""
        self._last_known: Known | None = None
        """The last keyframe's :class:`Known`, taken again for a keyframe of the same
        entities (a stable fleet's: 4 ms a seek to make at 1,000 nodes)."""
        self._last_like: tuple[float, Like] | None = None
        """The last keyframe's :func:`_like` by its time (4 MB of bodies at 1,000 nodes,
        ~5 ms to make): seeks to the seconds of one keyframe's interval, one after
        another (a rewind stepping or playing), make it once."""

    def close(self) -> None:
        """Let go of the file."""
        self._db.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- what is in it ----------------------------------------------------------

    def span(self) -> tuple[float, float] | None:
        """First and last recorded time, or ``None`` when empty."""
        first = self._db.execute(
            "SELECT min(time) FROM frames WHERE keyframe=1"
        ).fetchone()[0]  # fmt: skip
        last = self._db.execute("SELECT max(time) FROM frames").fetchone()[0]
        return None if first is None or last is None else (first, last)

    def times(self, start: float = float("-inf"), end: float = float("inf")) -> list[float]:
        """Every frame's time in ``[start, end]``, oldest first."""
        rows = self._db.execute(
            "SELECT time FROM frames WHERE time >= ? AND time <= ? ORDER BY time", (start, end)
        )
        return [row[0] for row in rows]

    def incidents(self) -> list[Incident]:
        """Every marked incident still in the recording, oldest first."""
        rows = self._db.execute(
            "SELECT time, ref, kind, severity, title FROM incidents ORDER BY time"
        )
        return [Incident(*row) for row in rows]

    def stats(self) -> dict[str, Any]:
        """Frames, keyframes, bytes on disk (for the benchmark and ``--help`` figures)."""
        frames, keyframes, body = self._db.execute(
            "SELECT count(*), coalesce(sum(keyframe), 0), coalesce(sum(length(body)), 0) "
            "FROM frames"
        ).fetchone()
        schema = self._db.execute("SELECT coalesce(sum(length(body)), 0) FROM schemas").fetchone()
        return {"frames": frames, "keyframes": keyframes, "frame_bytes": body,
                "schema_bytes": schema[0]}  # fmt: skip

    # -- seeking -----------------------------------------------------------------

    def keyframe_at(self, when: float) -> float:
        """Time of the keyframe a seek to ``when`` starts from (the first if none before)."""
        row = self._db.execute(
            "SELECT max(time) FROM frames WHERE keyframe=1 AND time <= ?", (when,)
        ).fetchone()
        if row[0] is not None:
            return float(row[0])
        first = self._db.execute("SELECT min(time) FROM frames WHERE keyframe=1").fetchone()[0]
        return float(first) if first is not None else when

    def prepare(self) -> bool:
        """Make ahead what a session's first seek makes and the seeks after it keep: the
        schemas' keys, the newest keyframe schema's index, where each batch's keys sit in
        it, the grouping of its summed readings (a first seek at 1,000 nodes: 300-430 ms,
        any other 130; bench/recording.py). One seek to the last second, thrown away; a
        later seek under the same keyframe schema (a stable fleet's, all day) then costs
        what any does. For the reader's own thread, before a user's first seek; ``False``
        when there is nothing recorded yet."""
        span = self.span()
        if span is None:
            return False
        self.at(span[1])
        # Its keyframe's alone (8 MB and more): a first seek lands elsewhere. The
        # entities are kept: most of a fleet's are the same at any other second.
        self._last_like = self._last_keyframe = None
        self._last_frames = {}
        return True

    def at(self, when: float, history: int = DEFAULT_HISTORY) -> Moment:
        """The fleet as it was at ``when`` (the last frame at or before it)."""
        with long_lived_objects(), self._damaged_at(when), self._snapshot():
            return self._at(when, history)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction for what is read inside: the file as it was at its first
        read (WAL), whatever the recorder writes or trims meanwhile (a keyframe's history
        row trimmed between its frame and it read a healthy file as damaged)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")  # read only: nothing to keep or undo

    @contextlib.contextmanager
    def _damaged_at(self, when: float) -> Iterator[None]:
        """A damaged or foreign file read inside: one :class:`RecordingError` saying which
        file and where, never a traceback of what its bytes broke."""
        try:
            yield
        except RecordingError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, RecursionError, sqlite3.Error) as exc:
            # (sqlite3.Error: a table of its version missing, a file torn underneath;
            # RecursionError: msgpack nested past the decoder's depth)
            raise RecordingError(f"{self.file}: damaged at {when:.0f}: {exc}") from None

    def _at(self, when: float, history: int) -> Moment:
        row = self._db.execute(
            "SELECT time, body FROM frames WHERE keyframe=1 AND time <= ? "
            "ORDER BY time DESC LIMIT 1",
            (when,),
        ).fetchone()
        if row is None:
            span = self.span()
            where = "it is empty" if span is None else f"it starts at {span[0]:.0f}"
            raise RecordingError(f"{self.file}: nothing recorded at or before {when:.0f} "
                                 f"({where})")  # fmt: skip
        key_time, key_blob = row
        rows = self._db.execute(
            "SELECT time, body FROM frames WHERE keyframe=0 AND time > ? AND time <= ? "
            "ORDER BY time",
            (key_time, when),
        )
        # A frame of this keyframe's interval read before is not decompressed again (a
        # rewind stepping reads the same keyframe and frames after it, one more or less
        # each time); another interval's are let go.
        kept = self._last_frames if key_time in self._last_frames else {}
        frames = [(t, kept[t] if t in kept else decompress(blob))
                  for t, blob in [(key_time, key_blob), *rows]]  # fmt: skip
        kept.update(frames)  # (the frames it holds already counted once)
        self._last_frames = kept if len(kept) <= _KEPT_FRAMES else {}
        state = self._replay(frames)
        return Moment(frames[-1][0], self._store(state, frames[-1][1], history),
                      _statuses(state.statuses))  # fmt: skip

    def hour_history(self, moment: Moment, seconds: float = 3600.0, points: int = 24) -> None:
        """Fill the moment's history with ``points`` readings spread over the ``seconds``
        before it (from keyframes), so that a sparkline spans the last hour."""
        # Millions of points, none of them garbage (1,000 nodes: 9,400 young passes,
        # 1.3 s of its 7 s, with the collector on).
        with long_lived_objects(), self._snapshot():
            self._hour_history(moment, seconds, points)

    def _hour_history(self, moment: Moment, seconds: float, points: int) -> None:
        store = moment.store
        start = moment.time - seconds
        step = seconds / points
        rows = self._db.execute(
            "SELECT time, body FROM frames WHERE keyframe=1 AND time >= ? AND time < ? "
            "ORDER BY time",
            (start, moment.time),
        )
        # The keyframes' points as columns, one run of keyframes with the same keys a
        # group: their columns one after another, so that a series' points are one
        # strided slice (227,000 series at 1,000 nodes: no tuple a point).
        groups: list[_HourGroup] = []
        next_time = start
        for frame_time, blob in rows:
            if frame_time < next_time:
                continue
            next_time = frame_time + step
            with self._damaged_at(frame_time):
                body = decompress(blob)
                schema, _times, _values, rates, *_flags = body["k"]
                keys = self._keys(schema)
                counters = _marks(keys)[0]
                shown = array(
                    "d", self._keyframe_values(body, schema, keys, _References(body, self._keys))
                )
                rates_ = unpack_floats(rates)
                if not len(shown) == len(rates_) == len(keys[0]):
                    raise ValueError("damaged keyframe: not one value a key")
                for i in counters:  # a counter's point is its rate
                    shown[i] = rates_[i]
                if not groups or groups[-1].keys is not keys:
                    groups.append(_HourGroup(keys, self._index(schema, keys), len(keys[0])))
                groups[-1].times.append(frame_time)
                groups[-1].points.extend(shown)
        for ref, metric, reading in list(store.readings()):
            if metric in TIMED_METRICS:
                continue  # job series keep every point (stall onsets read them)
            times, values = array("d"), array("d")
            for group in groups:
                place = group.index.get((ref, metric))
                if place is not None:
                    times += group.times
                    values += group.points[place :: group.size]
            now = reading.rate if metric in COUNTER_METRICS else reading.value
            times.append(reading.time)
            values.append(math.nan if now is None else now)
            store.restore_history_columns(ref, metric, times, values)
        store.version += 1

    def replay_from(self, moment: Moment, end: float) -> Iterator[Moment]:
        """Frame by frame after ``moment`` up to ``end``: the same store, applied forward
        (histories fill as they did live)."""
        store = moment.store
        row = self._db.execute(
            "SELECT time, body FROM frames WHERE keyframe=1 AND time <= ? "
            "ORDER BY time DESC LIMIT 1",
            (moment.time,),
        ).fetchone()
        with self._damaged_at(moment.time):
            keyframe = decompress(row[1]) if row is not None else {}
            # Its Like made when a frame's entities ask, the seek's kept (self._like).
            key_time = row[0] if row is not None else math.nan
            references, like = (
                _References(keyframe, self._keys),
                functools.partial(self._like, key_time, keyframe),
            )
        rows = self._db.execute(
            "SELECT time, body FROM frames WHERE time > ? AND time <= ? ORDER BY time",
            (moment.time, end),
        )
        statuses = moment.statuses
        for frame_time, blob in rows:
            with self._damaged_at(frame_time):
                body = decompress(blob)
                if "k" in body:
                    references = _References(body, self._keys)
                    like = functools.partial(self._like, frame_time, body)
                self._apply_forward(store, body, references, like)
                if body.get("s") is not None:
                    statuses = _statuses(body["s"])
                store.time = body["t"]
            store.version += 1
            yield Moment(frame_time, store, statuses)

    def _keys(self, schema: Any) -> tuple[list[str], list[str]]:
        if isinstance(schema, list):
            return schema[0], schema[1]
        keys = self._schemas.get(schema)
        if keys is None:
            row = self._db.execute("SELECT body FROM schemas WHERE id=?", (schema,)).fetchone()
            if row is None:
                raise RecordingError(f"{self.file}: a frame refers to a missing schema {schema}")
            keys = self._schemas[schema] = unpack_keys(decode(inflate(row[0])))
        return keys

    def _index(self, schema: Any, keys: tuple[list[str], list[str]]) -> dict[tuple[str, str], int]:
        """Each key of a keyframe's schema and its place (the last schema's kept)."""
        if self._last_index is not None and self._last_index[0] == schema:
            return self._last_index[1]
        pairs = _pairs(keys)
        index = dict(zip(pairs, range(len(pairs)), strict=True))
        if isinstance(schema, int):
            self._last_index = (schema, index)
            self._places.clear()
        return index

    def _place(
        self,
        schema: Any,
        index: dict[tuple[str, str], int],
        key_pairs: list[tuple[str, str]],
        batch: _Batch,
    ) -> Place:
        """Where the batch's keys sit in the keyframe's columns (``codec.place_among``,
        kept per schema pair; the keyframe's index is the last one's)."""
        cached = isinstance(schema, int) and batch.schema is not None
        if cached and (schema, batch.schema) in self._places:
            return self._places[(schema, batch.schema)]
        refs, metrics = batch.keys
        where = place_among(key_pairs, index, refs, metrics, split=self._keys(schema))
        if cached:
            self._places[(schema, batch.schema)] = where
        return where

    def _keyframe_columns(
        self,
        body: dict[str, Any],
        schema: Any,
        keys: tuple[list[str], list[str]],
        references: _References,
    ) -> tuple[array[float], array[float], array[float]]:
        """A keyframe's readings' times, values and rates (``ValueError`` for a column
        not as long as its schema: read later, a short one raised outside the seek)."""
        _schema, times, _values, rates, *_flags = body["k"]
        values = self._keyframe_values(body, schema, keys, references)
        columns = unpack_floats(times), values, unpack_floats(rates)
        if any(len(column) != len(keys[0]) for column in columns):
            raise ValueError("a keyframe's readings not as many as its schema's keys")
        return columns

    def _keyframe_values(
        self,
        body: dict[str, Any],
        schema: Any,
        keys: tuple[list[str], list[str]],
        references: _References,
    ) -> array[float]:
        """A keyframe's readings' values; since version 5 XORed against its batches'
        (``codec.keyframe_against``, as the recorder laid them: each schema's first
        batch, the one the frames after it are XORed against, whose column a seek
        unpacks anyway)."""
        _schema, _times, values, _rates, *flags = body["k"]
        if not flags or not flags[0] & XORED:
            return unpack_floats(values)
        index = self._index(schema, keys)
        pairs = _pairs(keys)
        laid = []
        done: set[int] = set()
        for entry in body.get("b", []):
            number = entry[2]
            if not isinstance(number, int) or number in done:
                continue
            done.add(number)
            flags_ = entry[6] if len(entry) > 6 else 0
            column = array("d", references.get(number))
            order = self._order(number, flags_ if isinstance(flags_, int) else 0)
            if order is not None:
                column = order.ungroup(column)
            batch_keys = self._keys(number)
            if len(column) != len(batch_keys[0]):
                raise ValueError("damaged column: not as long as its schema")
            batch = _Batch("", 0.0, 0.0, batch_keys, None, b"", number)
            laid.append((column, self._place(schema, index, pairs, batch)))
        return unpack_floats(values, keyframe_against(len(pairs), laid))

    def _gone(
        self,
        key_keys: tuple[list[str], list[str]],
        keys: tuple[list[str], list[str]],
        present: dict[str, Any],
    ) -> frozenset[str]:
        """The refs of these keys with no entity ``present``: none past the keyframe's
        own when all of them are among the keyframe schema's refs (kept per schema:
        most batches' are, and comparing each batch's refs again cost a seek 6 %)."""
        if keys is key_keys:
            return _refs(keys).difference(present)
        within = self._within.get(id(keys[0]))
        if within is None or within[0] is not keys[0] or within[1] is not key_keys[0]:
            within = (keys[0], key_keys[0], _refs(keys) <= _refs(key_keys))
            if len(keys[0]) >= 256:
                self._within[id(keys[0])] = within
        return frozenset() if within[2] else _refs(keys).difference(present)

    def _order(self, schema: Any, flags: int) -> MetricOrder | None:
        """How a batch of this schema with these flags laid its values out."""
        if not flags & GROUPED:
            return None
        order = self._orders.get(schema)
        if order is None:
            order = self._orders[schema] = MetricOrder(self._keys(schema)[1])
        return order

    def _replay(self, frames: list[tuple[float, dict[str, Any]]]) -> _State:
        state = _State()
        key_body = frames[0][1]
        if "k" not in key_body:
            raise RecordingError(f"{self.file}: the keyframe at {frames[0][0]} is damaged")
        key_schema = key_body["k"][0]
        key_keys = self._keys(key_schema)
        # The keyframe's columns first (its order), the newest batches' laid over them.
        places = self._index(key_schema, key_keys)
        kept = self._last_keyframe
        again = kept is not None and kept[0] is key_body
        references = kept[1] if kept is not None and again else _References(key_body, self._keys)
        if not again:
            self._last_keyframe = (key_body, references, None)
        state.history.update(self._history(frames[0][0], key_body))
        # Which batch of each schema is newest, and second newest: the rest are replaced.
        # The keyframe's own batches are only ever a second newest (the readings they
        # laid down are the keyframe's).
        batches: list[_Batch] = []
        in_keyframe = 0
        for place, (frame_time, body) in enumerate(frames):
            for source, batch_time, schema, times_, values_, timed, against, flags in _entries(
                body, references
            ):
                batches.append(_Batch(source, frame_time, batch_time, self._keys(schema),
                                      times_, values_,
                                      schema if isinstance(schema, int) else None,
                                      timed, against, self._order(schema, flags),
                                      flags))  # fmt: skip
            if place == 0:
                in_keyframe = len(batches)
        # Of each schema the newest batch is laid down whole, its counters' rates taken
        # against the one before it; older ones give only the timed series' points.
        # (A source that alternates between two key sets within one keyframe interval
        # would see a counter's rate against the wrong neighbour; none does today.)
        seen: dict[int, int] = {}
        rank = [1] * len(batches)
        for index in range(len(batches) - 1, -1, -1):
            number = batches[index].schema
            if number is not None:
                rank[index] = seen[number] = seen.get(number, 0) + 1
        second: dict[int, _Batch] = {
            batch.schema: batch
            for batch, place in zip(batches, rank, strict=True)
            if place == 2 and batch.schema is not None
        }
        newest = {
            id(batch): self._place(key_schema, places, _pairs(key_keys), batch)
            for batch, place in zip(batches[in_keyframe:], rank[in_keyframe:], strict=True)
            if place == 1
        }
        count = len(key_keys[0])
        if _laid_over(count, batches, newest, second):
            # Every reading of the keyframe laid over by a newer batch (a seek past the
            # keyframe, every source heard since): its own three columns are not read,
            # the batches' they were XORed against are (most are, for the newer ones).
            references.unpack_all()
            columns: tuple[array[float], ...] = tuple(array("d", bytes(8 * count))
                                                      for _ in range(3))  # fmt: skip
        elif not again:  # its first seek from this keyframe: nothing to copy
            columns = self._keyframe_columns(key_body, key_schema, key_keys, references)
        else:
            # Seeks from one keyframe, one after another (a rewind stepping): its columns
            # made the second time and kept, each seek given copies (the newer batches
            # are laid over them in place), a memory copy each.
            made = cast("tuple[Any, ...]", kept)[2]
            if made is None:
                made = self._keyframe_columns(key_body, key_schema, key_keys, references)
                self._last_keyframe = (key_body, references, made)
            columns = tuple(column[:] for column in made)
        state.readings.start(places, *columns)
        points = TimedPoints(state.history)
        laid = [key_keys]
        for batch, place in zip(batches[in_keyframe:], rank[in_keyframe:], strict=True):
            if place == 1:
                before = second.get(batch.schema) if batch.schema is not None else None
                where = newest[id(batch)]
                run = where if isinstance(where, int) else None  # laid one after another
                _apply(state.readings, points, batch, before, run)
                if run is None:  # laid as a slice of the keyframe's: its refs are among them
                    laid.append(batch.keys)
            else:
                _timed_points(points, batch)
        points.add_all()
        like = functools.partial(self._like, frames[0][0], key_body)
        latest = latest_entities(frames, like)
        state.entities, state.sources = latest or _frame_by_frame(frames, like)
        for _time, body in frames:
            for name, key in (("findings", "f"), ("statuses", "s"), ("meta", "m"),
                              ("analysis", "a")):  # fmt: skip
                if body.get(key) is not None:
                    setattr(state, name, body[key])
        # Series of entities gone since the keyframe go with them (refs kept per schema).
        present = state.entities
        gone = set().union(*(self._gone(key_keys, keys, present) for keys in laid))
        if gone:
            state.readings.drop_refs(gone)
        return state

    def _store(self, state: _State, last: dict[str, Any], history: int) -> Store:
        store = Store(history)
        seen = last["t"]
        sources = list(map(state.sources.__getitem__, state.entities))
        entities = self._entities(state.entities)
        # The readings the store sums as it takes them: their values from the columns.
        summed = state.readings.summed(SUMMED_METRICS, self._summed)
        store.restore_fleet(entities, sources, seen, state.readings, summed, self._shape)
        for (ref, metric), points in state.history.items():
            if ref in state.entities and (ref, metric) in state.readings:
                store.restore_history_columns(ref, metric, *points)
        store.findings = [Finding(**item) for item in decode(state.findings or b"\x90")]
        store.source_meta = decode(state.meta) if state.meta else {}
        store.analysis_state = decode(state.analysis) if state.analysis else {}
        store.findings_pending = bool(last.get("p"))  # its own: not a changed part
        store.time = seen
        store.version += 1
        return store

    def _history(self, key_time: float, key_body: dict[str, Any]) -> dict[tuple[str, str], Points]:
        """A keyframe's job history: in its frame before version 7, since then its row
        of the ``history`` table, whole or added to its base's (``codec.join_history``)."""
        if "h" in key_body:
            return unpack_history(key_body["h"])
        query = "SELECT base, body FROM history WHERE time=?"
        row = self._db.execute(query, (key_time,)).fetchone()
        if row is None:
            raise ValueError("a keyframe without its job history")
        part = decode(inflate(row[1]))
        if row[0] == key_time:
            return unpack_history(part)
        base = self._db.execute(query, (row[0],)).fetchone()
        if base is None:
            raise ValueError("a keyframe's job history without its base")
        return join_history(unpack_history(decode(inflate(base[1]))), part)

    def _entities(self, bodies: dict[str, bytes]) -> list[Entity]:
        """The entities of these recorded bodies (by ref): an entity the last seek made
        from the same bytes is taken again (nothing changes a restored entity in place,
        a store replaces it), the rest are decoded together, each one's attrs when first
        read (:class:`~console.recording.restored.RestoredEntity`). Seeks to other
        seconds meet most of the fleet unchanged (nodes, ports, links, switches: 5,000
        of 13,000 at 1,000 simulated nodes); a rewind stepping, all of it. Only the last
        seek's are kept: one fleet's. Compared by ref then bytes, in C (as dict keys,
        the bodies' 4 MB were hashed each seek)."""
        refs, made = list(bodies), self._made_entities
        found: list[Any] = list(map(made.get, refs))
        same = map(eq, map(self._made_bodies.get, refs), bodies.values())
        missing = list(selected(range(len(refs)), map(not_, same)))
        if missing:
            listed = list(bodies.values())
            decoded = restored_entities([listed[place] for place in missing])
            for place, entity in zip(missing, decoded, strict=True):
                found[place] = entity
        self._made_bodies, self._made_entities = bodies, dict(zip(refs, found, strict=True))
        return cast("list[Entity]", found)

    def _like(self, key_time: float, key_body: dict[str, Any]) -> Like:
        """:func:`_like` of the keyframe at ``key_time``, kept for the next seek there."""
        if self._last_like is None or self._last_like[0] != key_time:
            like = _like(key_body, self._last_known)
            self._last_like = (key_time, like)
            if like.known is not None:
                self._last_known = like.known
        return self._last_like[1]

    def _apply_forward(
        self,
        store: Store,
        body: dict[str, Any],
        references: _References,
        like: Callable[[], Like],
    ) -> None:
        for ref, source, entity in zip(*_frame_entities(body, like), strict=True):
            store.restore_entity(_entity(ref, entity), source, body["t"])
        for source, batch_time, schema, times, values, _timed, against, flags in _entries(
            body, references
        ):
            refs, metrics = self._keys(schema)
            own = unpack_floats(times) if times is not None else None
            column = _column(values, against, self._order(schema, flags), flags, len(refs))
            samples = [
                Sample(refs[i], metrics[i], as_optional(column[i]),
                       own[i] if own is not None else batch_time)
                for i in range(len(refs))
            ]  # fmt: skip
            store.apply(Batch(samples=samples, time=batch_time), source or "analysis", batch_time)
        if body.get("x"):
            store.expire_refs(body["x"])
        if body.get("f") is not None:
            store.findings = [Finding(**item) for item in decode(body["f"])]
        if body.get("m") is not None:
            store.source_meta = decode(body["m"])
        if body.get("a") is not None:
            store.analysis_state = decode(body["a"])
        store.findings_pending = bool(body.get("p"))


class _References:
    """The value columns of a keyframe's frame by schema: what the batches of the frames
    after it are XORed against (unpacked when a batch asks, once)."""

    def __init__(
        self, keyframe: dict[str, Any], keys: Callable[[int], _Keys] | None = None
    ) -> None:
        """``keys``: a schema's (its count bounds what a column of it unpacks)."""
        self._keys = keys
        self._packed: dict[int, tuple[bytes, int]] = {}
        for entry in keyframe.get("b", []):
            if isinstance(entry[2], int):  # the first: as the recorder
                self._packed.setdefault(entry[2], (entry[4], entry[6] if len(entry) > 6 else 0))
        self._raw: dict[int, bytes] = {}
        self._ints: dict[int, list[int]] = {}

    def get(self, schema: int) -> bytes:
        raw = self._raw.get(schema)
        if raw is None:
            packed, flags = self._entry(schema)
            if isinstance(flags, int) and flags & DECIMAL:
                raw = decimal_floats(self.ints(schema), flags >> 4).tobytes()
            else:
                raw = unpack_floats(packed).tobytes()
            self._raw[schema] = raw
        return raw

    def ints(self, schema: int) -> list[int]:
        """The integers of a column of decimals (``codec.pack_decimals``)."""
        ints = self._ints.get(schema)
        if ints is None:
            packed, flags = self._entry(schema)
            if not isinstance(flags, int) or not flags & DECIMAL:
                raise ValueError(f"a column of decimals refers to schema {schema}'s floats")
            count = len(self._keys(schema)[0]) if self._keys is not None else None
            ints = self._ints[schema] = unpack_decimals(packed, count=count)
        return ints

    def unpack_all(self) -> None:
        """Every column unpacked (each once): a damaged one is refused at any second of
        the keyframe's interval, as when the keyframe's readings are read against them."""
        for schema, (_packed, flags) in self._packed.items():
            if isinstance(flags, int) and flags & DECIMAL:
                self.ints(schema)
                continue
            raw = self.get(schema)
            if self._keys is not None and len(raw) != 8 * len(self._keys(schema)[0]):
                raise ValueError("damaged column: not as long as its schema")

    def _entry(self, schema: int) -> tuple[bytes, int]:
        found = self._packed.get(schema)
        if found is None:
            raise ValueError(f"a column refers to schema {schema}, not in its keyframe")
        return found


def _entries(body: dict[str, Any], references: _References) -> Iterator[tuple[Any, ...]]:
    """A frame's batches as ``(source, time, schema, times, values, timed, against,
    flags)``: ``against`` the column its values are XORed against (of decimals: the
    integers they differ from), or ``None`` (a version 2 recording's batches have six
    parts: no flag)."""
    for entry in body.get("b", []):
        flags = entry[6] if len(entry) > 6 else 0
        if not isinstance(flags, int):
            raise ValueError("a batch's flags are not a number")
        against: Any = None
        if flags & XORED:
            get = references.ints if flags & DECIMAL else references.get
            against = get(entry[2])
        yield (*entry[:6], against, flags)


def _like(keyframe: dict[str, Any], known: Known | None = None) -> Like:
    """The entity bodies of a keyframe's frame: what the frames after it write theirs
    against (``codec.Like``); ``known``: another keyframe's, taken when its refs and
    sources are this one's."""
    if "r" in keyframe:
        like = Like(keyframe["B"])
        refs, sources = keyframe["r"]
        like.known = (
            known if known is not None and known.same(refs, sources) else Known(refs, sources)
        )
        return like
    return Like([item[2] for item in keyframe.get("e", [])])


def _frame_by_frame(
    frames: list[tuple[float, dict[str, Any]]], like: Callable[[], Like]
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Each entity's newest body and its source by ref, one frame after another (what
    ``entities.latest_entities`` leaves to it: versions before 7, an entity of the
    keyframe removed)."""
    entities: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    strays = False  # a frame after the keyframe listed entities it does not flag
    for place, (_time, body) in enumerate(frames):
        refs, owners, bodies = _frame_entities(body, like)
        if place == 0:
            entities = dict(zip(refs, bodies, strict=True))
            sources = dict(zip(refs, owners, strict=True))
        else:
            entities.update(zip(refs, bodies, strict=True))
            # A flagged entity has its source in the keyframe: the sources are the
            # keyframe's until a frame lists others (not 5,500 a frame compared).
            strays = strays or "n" not in body or bool(body["n"][1])
            if strays and list(map(sources.get, refs)) != owners:
                sources.update(zip(refs, owners, strict=True))
        for ref in body.get("x", []):
            entities.pop(ref, None)
            sources.pop(ref, None)
    return entities, sources


def _frame_entities(
    body: dict[str, Any], like: Callable[[], Like]
) -> tuple[list[str], list[str], list[bytes]]:
    """A frame's entities as their refs, sources and bodies: a keyframe's as they are,
    a later frame's inflated like its keyframe's (``like()``, asked only then: a seek
    to a keyframe makes none; ``r``: refs and sources as two lists; before version 5,
    ``e``: a list an entity, with its body unless ``E``)."""
    if "n" in body:  # since version 7
        flags, others, other_sources = body["n"]
        known = like().known
        if known is None:
            raise ValueError("damaged entities: flagged without a keyframe's")
        marks = known.marks(flags)
        refs = list(selected(known.refs, marks)) + others
        sources = list(selected(known.sources, marks)) + other_sources
        if "P" in body:  # since version 8: each the bytes after those kept of its keyframe's
            bases = list(selected(like().ordered(), marks))
            kept, tails = patches(body["P"], len(bases))
            bases += [b""] * (len(tails) - len(bases))
            entities = patched(bases, kept, tails)
        else:
            entities = decode(inflate(body["E"], like())) if "E" in body else []
    elif "r" in body:
        refs, sources = body["r"]
        entities = decode(inflate(body["E"], like())) if "E" in body else body["B"]
    else:
        listed = body.get("e", [])
        refs = [item[0] for item in listed]
        sources = [item[1] for item in listed]
        entities = decode(inflate(body["E"], like())) if "E" in body else [i[2] for i in listed]
    if not isinstance(entities, list) or not len(refs) == len(sources) == len(entities):
        raise ValueError("damaged entities: not one source and body a ref")
    return refs, sources, entities


def _column(
    packed: bytes, against: Any, order: MetricOrder | None, flags: int = 0, count: int | None = None
) -> array[float]:
    """A batch's values in its schema's order (XORed back, or decimals made floats,
    then ungrouped), NaN for *not available*; ``count``: its schema's keys."""
    if flags & DECIMAL:
        column = decimal_floats(unpack_decimals(packed, against, count), flags >> 4)
    else:
        column = unpack_floats(packed, against)
    return column if order is None else order.ungroup(column)


def _apply(
    readings: LazyReadings,
    points: TimedPoints,
    batch: _Batch,
    before: _Batch | None = None,
    run: int | None = None,
) -> None:
    """Lay one batch over the readings: whole columns at once; a loop only for the
    counters (their rate against ``before``, the batch of the same keys before it, or
    the reading there was) and the few timed series."""
    refs, metrics = batch.keys
    counters, timed = _marks(batch.keys)
    column = batch.column()
    count = len(column)
    own = unpack_floats(batch.times) if batch.times is not None else None
    times = own if own is not None else array("d", [batch.batch_time]) * count
    rates = array("d", [math.nan]) * count
    if before is not None and counters:  # its column decoded only for the counters' rates
        previous = before.column()
        then = unpack_floats(before.times) if before.times is not None else None
        now_all, then_all = batch.batch_time, before.batch_time
        if own is None and then is None and len(counters) == count:
            # Every key a counter, one time a batch (a source's counters sent apart:
            # 34,000 at 1,000 nodes): the rates in one pass, not an index a counter,
            # and laid as a slice, only those of the readings made (a screen's few).
            elapsed = now_all - then_all
            if elapsed > 0 and run is not None:
                readings.lay_counters(run, times, column, previous, elapsed)
                _add_timed(points, batch.keys, timed, times, column)
                return
            if elapsed > 0:
                rates = counter_rates(column, previous, elapsed)
        else:
            for i in counters:
                value, old = column[i], previous[i]
                elapsed = (own[i] if own is not None else now_all) - (
                    then[i] if then is not None else then_all
                )
                if elapsed > 0 and value >= old:
                    rates[i] = (value - old) / elapsed
    elif before is None:
        for i in counters:
            found = readings.latest((refs[i], metrics[i]))  # the keyframe's, or laid before
            latest = column[i]
            if found is not None and found[1] is not None and latest == latest:
                elapsed, delta = times[i] - found[0], latest - found[1]
                if elapsed > 0 and delta >= 0:
                    rates[i] = delta / elapsed
    readings.lay(len(refs) if run is not None else _pairs(batch.keys), times, column, rates, run)
    _add_timed(points, batch.keys, timed, times, column)


def _add_timed(
    points: TimedPoints, keys: _Keys, timed: list[int], times: array[float], column: array[float]
) -> None:
    """A newest batch's timed series' points (where ``timed`` says among its keys)."""
    if timed:
        points.add(keys, timed, array("d", map(times.__getitem__, timed)),
                   array("d", map(column.__getitem__, timed)))  # fmt: skip


def _laid_over(
    count: int, batches: list[_Batch], newest: dict[int, Place], second: dict[int, _Batch]
) -> bool:
    """Whether the newest batches (``newest``: each one's place among the keyframe's
    ``count`` readings, by ``id``) lay a value over every one of them, as one slice
    each, and none of their counters needs the keyframe's reading for its rate (every
    one has a batch before it, ``second``)."""
    runs: list[tuple[int, int]] = []
    for batch in batches:
        where = newest.get(id(batch))
        if where is None or not batch.keys[0]:  # (a source's batch of no readings)
            continue
        if not isinstance(where, int):
            return False
        if batch.schema not in second and _marks(batch.keys)[0]:
            return False
        runs.append((where, where + len(batch.keys[0])))
    reached = 0
    for start, end in sorted(runs):
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= count


_KEPT_FRAMES = 32
"""Decompressed frames a reader keeps for the next seek (a keyframe interval's: ten at
one cycle a second, ~7 MB at 1,000 nodes, most of it the keyframe's entity bodies; a
faster cycle's interval is cut short)."""

_CACHED_SCHEMAS = 1024
"""Schemas whose layouts and refs a process keeps: every schema of a seek (1,000
nodes: ~60 of 5,000 keys; 4,000 nodes: ~4x as many, past the 64 kept before, which
a seek there would clear again and again)."""
_Made = TypeVar("_Made")
_Keys = tuple[list[str], list[str]]


def _kept(
    cache: dict[int, tuple[list[str], _Made]], keys: _Keys, make: Callable[[_Keys], _Made]
) -> _Made:
    """``make(keys)``, kept per schema of 256 keys or more (by its list of refs: a seek
    meets the same few schemas again and again)."""
    found = cache.get(id(keys[0]))
    if found is not None and found[0] is keys[0]:
        return found[1]
    made = make(keys)
    if len(keys[0]) >= 256:
        if len(cache) >= _CACHED_SCHEMAS:
            cache.clear()
        cache[id(keys[0])] = (keys[0], made)
    return made


def _make_marks(keys: _Keys) -> tuple[list[int], list[int]]:
    metrics = keys[1]
    names = set(metrics)  # a metric or a few: a schema a source's column, mostly
    return _places_of(metrics, names, COUNTER_METRICS), _places_of(metrics, names, TIMED_METRICS)


def _places_of(metrics: list[str], names: set[str], wanted: Collection[str]) -> list[int]:
    """Where the metrics among ``wanted`` sit (``names``: every one there is): none or
    all of them without a step a key (a session's first seek meets 500,000 keys)."""
    found = names.intersection(wanted)
    if not found:
        return []
    if len(found) == len(names):
        return list(range(len(metrics)))
    return [i for i, metric in enumerate(metrics) if metric in found]


def _make_pairs(keys: _Keys) -> list[tuple[str, str]]:
    return list(zip(*keys, strict=True))


_marks_kept: dict[int, tuple[list[str], tuple[list[int], list[int]]]] = {}
_pairs_kept: dict[int, tuple[list[str], list[tuple[str, str]]]] = {}
_refs_kept: dict[int, tuple[list[str], frozenset[str]]] = {}


def _marks(keys: _Keys) -> tuple[list[int], list[int]]:
    """Where a schema's counters and its timed series sit."""
    return _kept(_marks_kept, keys, _make_marks)


def _pairs(keys: _Keys) -> list[tuple[str, str]]:
    """A schema's keys as pairs: a keyframe's (its index's keys), or a batch's laid
    key by key; a batch laid as one slice (most) makes none (227,000 at 1,000 nodes)."""
    return _kept(_pairs_kept, keys, _make_pairs)


def _refs(keys: _Keys) -> frozenset[str]:
    """The refs of a schema."""
    return _kept(_refs_kept, keys, lambda keys: frozenset(keys[0]))


def _timed_points(points: TimedPoints, batch: _Batch) -> None:
    """The points of the timed series of a batch a newer one replaces."""
    if batch.timed is None:
        return
    values, times = (unpack_floats(part) for part in batch.timed)
    points.add(batch.keys, _marks(batch.keys)[1], times, values)


def _entity(ref: str, body: bytes) -> Entity:
    item = decode(body)
    return Entity(ref, item["name"], item.get("parent"), item.get("attrs") or {})


def _statuses(body: bytes) -> list[SourceStatus]:
    if not body:
        return []
    return [SourceStatus(**item) for item in decode(body)]
