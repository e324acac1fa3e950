"""The flight recorder: every cycle's changes appended to a local SQLite file.

Two halves. :meth:`Recorder.on_cycle` runs where a cycle's results are known (an
engine's cycle hook, on the collector's loop): it takes the batches the store
applied since the last cycle and notes which entities, findings, source statuses
and source facts changed — references and small byte strings, no disk. A writer
thread turns that into a frame (:mod:`console.recording.codec`), writes it in its
own transaction, and keeps the file inside its size and age. The loop never waits
on the disk; when the disk is slower than the cycles, frames are dropped (counted)
and the next one is a keyframe, so what is kept stays whole.

SQLite in WAL mode commits each frame: a console killed with SIGKILL loses only the
frames still in the queue (the last second or two), and the file opens as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, repeat
from itertools import compress as selected
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.core.garbage import no_cyclic_collection
from console.core.model import TIMED_METRICS, Batch
from console.core.store import Changes, Store
from console.recording.codec import (
    DECIMAL,
    FORMAT_VERSION,
    GROUPED,
    INLINE_SCHEMA,
    XORED,
    Against,
    HistoryBase,
    Known,
    Like,
    MetricOrder,
    Place,
    Series,
    compress,
    decimal_digits,
    deflate,
    encode,
    float_bytes,
    history_base,
    history_since,
    keyframe_against,
    pack_decimals,
    pack_floats,
    pack_history_columns,
    pack_keys,
    patch,
    place_among,
)
from console.recording.layout import SCHEMA_SQL, database_file, kept_histories

if TYPE_CHECKING:
    from console.core.engine import Engine

log = logging.getLogger(__name__)

KEYFRAME_EVERY = 10.0
"""Seconds (of recorded time) between keyframes: how far a seek replays at most. At
1,000 nodes a frame after the keyframe costs a seek ~9 ms (30 s: up to 0.26 s); a
keyframe costs 2.3 delta frames on disk, so 10 s adds ~13 % (bench/recording.py)."""
QUEUE_FRAMES = 16
"""Frames waiting for the disk at most; more are dropped (and counted)."""
TRIM_EVERY = 60
"""Frames between two checks of the file's age and size."""
INCIDENT_BEFORE = 300.0
INCIDENT_AFTER = 300.0
"""Seconds kept around a new critical finding however old it gets (``keep`` aside)."""
DERIVED_SOURCE = ""
"""The pseudo source of readings analysis recorded (link utilisation, job GPU use)."""


class RecorderBusy(RuntimeError):
    """Another process records into this recording now."""


_Columns = tuple[list[tuple[str, str]], list[float], list[float | None], list[float | None]]
"""Every reading of a store: its keys, and their times, values and rates."""


@dataclass
class _Cycle:
    """What :meth:`Recorder.on_cycle` hands the writer: references and small bytes."""

    time: float
    keyframe: bool
    batches: list[tuple[str, Batch, float]]
    derived: list[tuple[str, str, float | None, float]]
    entities: tuple[list[str], list[str], list[bytes]]
    """The changed entities' refs, sources and encoded bodies (three lists: no object
    an entity)."""
    removed: list[str]
    findings: bytes | None
    statuses: bytes | None
    meta: bytes | None
    state: bytes | None
    pending: bool = False
    """Its findings not analysed yet (the collector's first cycle goes out before its
    first analysis; a console reading a relay waits for the collector's)."""
    incidents: list[tuple[str, str, str, str]] = field(default_factory=list)
    full: _Columns | None = None
    history: list[Series] | None = None
    """A keyframe's timed (job) series, each its points as two columns."""


def status_json(status: Any) -> dict[str, Any]:
    """A source status as recorded (with its times, unlike the snapshot's)."""
    return {**status.to_json(), "last_ok": status.last_ok, "duration": status.duration}


def plain_state(state: dict[str, Any]) -> dict[str, Any]:
    """The parts of ``analysis_state`` that are plain ``{ref: number}`` maps (when a power
    cap or a security event began): those the panes read; the rest is rebuilt."""
    kept: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, int | float) for k, v in value.items()
        ):
            kept[key] = dict(value)
    return kept


class Recorder:
    """Records an engine's cycles into ``path`` (a directory) until :meth:`close`."""

    def __init__(
        self,
        path: Path,
        keep: float = 86_400.0,
        max_mb: float = 2000.0,
        fresh: bool = False,
        keyframe_every: float = KEYFRAME_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        """The recording's directory."""
        self.keep = keep
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.keyframe_every = keyframe_every
        self.clock = clock
        self.frames = 0
        """Frames written so far."""
        self.dropped = 0
        """Cycles not recorded because the disk fell behind."""
        self.error: str | None = None
        """Why recording stopped, if it did (the console goes on without it)."""
        self.notice: str | None = None
        """What the console should tell at start (an older recording set aside)."""
        self.samples = 0
        """Readings written so far (batches' samples and analysis's derived readings)."""
        self.capture_seconds = 0.0
        """CPU time spent on the collector's loop noting cycles (the benchmark reads it)."""
        self.write_seconds = 0.0
        """CPU time the writer thread spent encoding, compressing and writing."""
        self._queue: queue.Queue[_Cycle | None] = queue.Queue(QUEUE_FRAMES)
        self._schemas: Schemas = {}
        """The key sets written so far (the writer thread's own)."""
        self._references: dict[int, bytes] = {}
        """The values of each schema in the last keyframe's frame (the writer thread's
        own): the frames after it XOR theirs against them (``codec.pack_floats``)."""
        self._key_index: list[Any] = [None, {}, {}, []]
        """The last keyframe schema, the place of each of its keys, where each batch
        schema's keys sit among them, and its keys (the writer thread's own;
        :func:`_keyframe_against`, :func:`_keyframe_schema`)."""
        self._histories = _Histories()
        """The keyframes' job histories (the writer thread's own)."""
        self._like: list[Like] = []
        """The entity bodies of the last keyframe's frame (the writer thread's own): the
        frames after it compress theirs like them (``codec.Like``)."""
        self._findings = self._statuses = self._meta = self._state = b""
        self._last_keyframe: float | None = None
        self._force_keyframe = True
        self._criticals: set[tuple[str, str]] = set()
        self._last_time: float | None = None
        self._timed: tuple[list[tuple[str, str]], list[tuple[str, str]]] = ([], [])
        """The last keyframe's reading keys, and the timed ones among them (on the loop)."""
        self._store: Store | None = None
        self._engine: Engine | None = None
        path.mkdir(parents=True, exist_ok=True)
        self._lock = open(path / "lock", "a+")  # noqa: SIM115 - held while recording
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise RecorderBusy(f"another console records into {path}") from None
        self._db = self._open(database_file(path), fresh)
        self._thread = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._thread.start()

    # -- on the collector's loop -----------------------------------------------

    def attach(self, engine: Engine) -> None:
        """Record every cycle of this engine from now on (one call, any engine)."""
        self._store = engine.store
        self._engine = engine
        engine.store.journal = []
        engine.cycle_hooks.append(self.on_cycle)

    def on_cycle(self, changes: Changes) -> None:
        """Note one cycle's changes and hand them to the writer (no disk here):
        ``changes`` carries the cycle's batches as sent (what a replay applies) and the
        readings analysis derived (the store keeps them while :meth:`attach` says so)."""
        engine = self._engine
        if engine is None:
            return
        began = time.thread_time()  # this thread's CPU: the loop's cost, not its waits
        # What a capture makes (an encoded copy of each changed entity, of every reading
        # at a keyframe) lives on until the writer has it, so the cyclic collector would
        # only walk it, and the fleet's objects behind it, again and again while it is
        # made (a third of a capture at 1,000 nodes): it waits until the capture is done.
        try:
            with no_cyclic_collection():
                self._capture(engine, changes)
        finally:
            self.capture_seconds += time.thread_time() - began

    def _capture(self, engine: Engine, changes: Changes) -> None:
        store = engine.store
        journal, derived = list(changes.batches), list(changes.derived)
        if self.error is not None:
            return
        now = store.time if store.time is not None else engine.clock()
        if self._last_time is not None and now <= self._last_time:
            now = self._last_time + 0.001  # keys stay in order when the clock stalls
        self._last_time = now
        keyframe = self._force_keyframe or (
            self._last_keyframe is None or now - self._last_keyframe >= self.keyframe_every
        )
        # Entities encoded in C (msgspec takes the dataclass as it is): a copy of what
        # each says now, which analysis may change in place later. A keyframe copies
        # every one; between keyframes only those the cycle changed (half of a
        # fleet's GPUs: their processes move; the rest are left alone). Three lists
        # made by ``map``, no tuple an entity nor a Python step.
        entities, sources = store.entities, store.entity_source
        refs = list(entities) if keyframe else list(filter(entities.__contains__, changes.entities))
        changed = (refs, list(map(sources.get, refs, repeat(""))),
                   list(map(encode, map(entities.__getitem__, refs))))  # fmt: skip
        removed = [] if keyframe else [ref for ref in changes.removed if ref not in entities]
        cycle = _Cycle(
            time=now,
            keyframe=keyframe,
            batches=journal,
            derived=derived,
            entities=changed,
            removed=removed,
            findings=self._changed("_findings", [f.to_json() for f in store.findings], keyframe),
            statuses=self._changed(
                "_statuses", [status_json(s) for s in engine.statuses()], keyframe
            ),
            meta=self._changed("_meta", store.source_meta, keyframe),
            state=self._changed("_state", plain_state(store.analysis_state), keyframe),
            pending=not engine.analysed or store.findings_pending,
        )
        criticals = {(f.ref, f.kind) for f in store.findings if f.severity == "critical"}
        cycle.incidents = [
            (f.ref, f.kind, f.severity, f.title)
            for f in store.findings
            if f.severity == "critical" and (f.ref, f.kind) not in self._criticals
        ]
        self._criticals = criticals
        if keyframe:
            cycle.full = store.reading_fields()  # a copy of every reading
            cycle.history = [(ref, metric, *store.timed_columns(ref, metric))
                             for ref, metric in self._timed_keys(cycle.full[0])]  # fmt: skip
        try:
            self._queue.put_nowait(cycle)
        except queue.Full:
            self.dropped += 1
            self._force_keyframe = True  # what follows a gap must stand on its own
            return
        if keyframe:
            self._last_keyframe = now
            self._force_keyframe = False

    def _timed_keys(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The timed (job) series among a keyframe's reading keys: found again only when
        the keys are not the last keyframe's (compared in C: the same key objects)."""
        if keys != self._timed[0]:
            by_ref: dict[str, list[tuple[str, str]]] = {}  # each ref's together, as before
            for key in keys:
                if key[1] in TIMED_METRICS:
                    by_ref.setdefault(key[0], []).append(key)
            self._timed = (keys, list(chain.from_iterable(by_ref.values())))
        return self._timed[1]

    def _changed(self, name: str, value: Any, keyframe: bool) -> bytes | None:
        body = encode(value)
        if not keyframe and body == getattr(self, name):
            return None
        setattr(self, name, body)
        return body

    def flush(self) -> None:
        """Wait until every cycle handed over so far is on disk (tests, ``close``)."""
        if self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        """Write what is queued, stop the writer and let go of the file."""
        if self._store is not None:
            self._store.journal = None
        with contextlib.suppress(Exception):
            self._queue.put(None, timeout=10)
        self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            self._db.close()
        with contextlib.suppress(Exception):
            self._lock.close()

    # -- on the writer thread ----------------------------------------------------

    def _open(self, file: Path, fresh: bool) -> sqlite3.Connection:
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{file}{suffix}")
        db = sqlite3.connect(file, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # before the tables: space can be given back
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a crash of the process loses nothing committed
        db.executescript(SCHEMA_SQL)
        version = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        if version is None:
            db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT_VERSION),))
            db.execute("INSERT INTO meta VALUES ('created', ?)", (str(self.clock()),))
        elif version[0] != str(FORMAT_VERSION):
            # An older console's recording: kept whole beside it (an older watchfloor
            # still opens it), and this one records afresh rather than not at all.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            kept = file.with_name(f"{file.stem}-v{version[0]}-{int(self.clock())}{file.suffix}")
            os.replace(file, kept)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{file}{suffix}")
            self.notice = (
                f"{file} was a version {version[0]} recording; kept as {kept.name}, "
                "recording afresh"
            )
            return self._open(file, fresh=False)
        return db

    def _write_loop(self) -> None:
        schemas = self._schemas
        since_trim = 0
        while True:
            cycle = self._queue.get()
            if cycle is None:
                self._queue.task_done()
                break
            if self.error is not None:  # stopped: what is queued is let go
                self._queue.task_done()
                continue
            began = time.thread_time()
            try:
                body = _frame(
                    cycle, schemas, self._db, self._references, self._like, self._key_index
                )
                floor = body.pop("floor")
                history = self._histories.row(cycle) if cycle.keyframe else None
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.execute(
                        "INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?)",
                        (cycle.time, int(cycle.keyframe), compress(body), floor),
                    )
                    if history is not None:
                        self._db.execute("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", history)
                    for ref, kind, severity, title in cycle.incidents:
                        self._db.execute(
                            "INSERT INTO incidents (time, ref, kind, severity, title, keep_from,"
                            " keep_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (cycle.time, ref, kind, severity, title,
                             cycle.time - INCIDENT_BEFORE, cycle.time + INCIDENT_AFTER),
                        )  # fmt: skip
                self.frames += 1
                self.samples += sum(b.reading_count() for _, b, _ in cycle.batches)
                self.samples += len(cycle.derived)
                since_trim += 1
                if since_trim >= TRIM_EVERY:
                    since_trim = 0
                    self.trim(cycle.time)
            except Exception as exc:  # a full disk, a removed directory: say so, stop
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("recording stopped: %s", self.error)
            self.write_seconds += time.thread_time() - began
            self._queue.task_done()

    def trim(self, now: float) -> None:
        """Drop what is older than ``keep`` (incidents' minutes aside), then the oldest
        until the file fits ``max_mb``. A recording always starts at a keyframe."""
        db = self._db
        cutoff = now - self.keep
        _drop_before(db, cutoff, protect=True)
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        for _ in range(100):
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            free = db.execute("PRAGMA freelist_count").fetchone()[0]
            if (pages - free) * page_size <= self.max_bytes:
                break
            first = db.execute("SELECT min(time) FROM frames").fetchone()[0]
            if first is None or not _drop_before(db, first + 1e-6, protect=False):
                break
        # A keyframe's history goes with it, a base's when no kept keyframe adds to it.
        db.execute(f"DELETE FROM history WHERE time NOT IN ({kept_histories()})")
        db.execute("PRAGMA incremental_vacuum")
        # No frame refers to a schema row below every frame's floor.
        floor = db.execute("SELECT min(schema_floor) FROM frames").fetchone()[0]
        if floor is not None:
            db.execute("DELETE FROM schemas WHERE id < ?", (floor,))
            # A key set whose row went is written again when it comes back.
            for quick, known in list(self._schemas.items()):
                if known[2] < floor:
                    del self._schemas[quick]


HISTORY_BASE_EVERY = 6
"""Keyframes from one whose job history is written whole to the next: those between
write what their series added since (``codec.history_since``), and a seek reads two
histories, not one. A minute: each keyframe writes 125 points a series on average,
not 600 (once the console has run 10 minutes)."""


class _Histories:
    """The keyframes' job histories as rows of the ``history`` table: whole at a base
    keyframe, then what was added since (the writer thread's)."""

    def __init__(self) -> None:
        self._base: HistoryBase = {}
        self._base_time: float | None = None
        self._since = 0

    def row(self, cycle: _Cycle) -> tuple[float, float, bytes]:
        """The ``history`` row of a keyframe: its time, its base's, its body."""
        series = cycle.history or []
        if self._base_time is None or self._since + 1 >= HISTORY_BASE_EVERY:
            self._base, self._base_time, self._since = history_base(series), cycle.time, 0
            return cycle.time, cycle.time, deflate(encode(pack_history_columns(series)))
        self._since += 1
        return cycle.time, self._base_time, deflate(encode(history_since(self._base, series)))


def _drop_before(db: sqlite3.Connection, cutoff: float, protect: bool) -> bool:
    """Delete frames before the first keyframe at or after ``cutoff`` (outside the kept
    incident windows when ``protect``); True when anything went."""
    keyframe = db.execute(
        "SELECT min(time) FROM frames WHERE keyframe=1 AND time >= ?", (cutoff,)
    ).fetchone()[0]
    if keyframe is None:
        return False
    if not protect:
        gone = db.execute("DELETE FROM frames WHERE time < ?", (keyframe,)).rowcount
        db.execute("DELETE FROM incidents WHERE keep_to < ?", (keyframe,))
        return bool(gone)
    # An incident window is kept from the keyframe before it, so it can be opened.
    gone = db.execute(
        """DELETE FROM frames WHERE time < ? AND NOT EXISTS (
             SELECT 1 FROM incidents i WHERE frames.time <= i.keep_to AND frames.time >=
               coalesce((SELECT max(k.time) FROM frames k WHERE k.keyframe=1
                         AND k.time <= i.keep_from), i.keep_from))""",
        (keyframe,),
    ).rowcount
    return bool(gone)


SchemaKey = tuple[str, int, str, str, str, str]
"""A schema's quick key: source, count, first and last ref and metric (the lists are
then compared whole, at C speed: a source's batches repeat the same string objects)."""
Schemas = dict[SchemaKey, tuple[list[str], list[str], int, list[int], MetricOrder]]
"""Every key set written (bounded: :data:`SCHEMAS_KEPT`), with its schema row, where
its timed series sit and its values' order on disk. By content, not by source: one
source may send several batches a cycle (the simulator sends 5,000 samples a batch),
each with keys of its own."""
SCHEMAS_KEPT = 4096


def _schema(
    source: str, refs: list[str], metrics: list[str], schemas: Schemas, db: sqlite3.Connection
) -> tuple[int | list[list[str]], list[int], MetricOrder | None]:
    """A schema number for these keys (a row written the first time), or the keys inline;
    the positions of the timed (job) series among them; and the order its values are
    written in (``None``: as they are, for keys inline)."""
    if len(refs) < INLINE_SCHEMA:
        return [refs, metrics], [i for i, m in enumerate(metrics) if m in TIMED_METRICS], None
    quick = (source, len(refs), refs[0], refs[-1], metrics[0], metrics[-1])
    known = schemas.get(quick)
    if known is not None and known[0] == refs and known[1] == metrics:
        return known[2], known[3], known[4]
    cursor = db.execute("INSERT INTO schemas (body) VALUES (?)", (compress_keys(refs, metrics),))
    number = int(cursor.lastrowid or 0)
    timed = [i for i, m in enumerate(metrics) if m in TIMED_METRICS]
    if len(schemas) >= SCHEMAS_KEPT:
        schemas.clear()
    order = MetricOrder(metrics)
    # Copies: ``refs`` may be a source's own list (:func:`_batch_readings`).
    schemas[quick] = (list(refs), list(metrics), number, timed, order)
    return number, timed, order


def compress_keys(refs: list[str], metrics: list[str]) -> bytes:
    """A schema row's bytes (:func:`codec.pack_keys`)."""
    return deflate(encode(pack_keys(refs, metrics)))


def _times(times: list[float | None], batch_time: float) -> bytes | None:
    """Per-sample times, or ``None`` when every sample has the batch's time."""
    # Counted in C first: all ``None`` (a source's batch) or all its time (analysis's).
    same = times.count(None if times and times[0] is None else batch_time)
    if same == len(times) or all(t is None or t == batch_time for t in times):
        return None
    return pack_floats([batch_time if t is None else t for t in times])


def _batch(
    source: str,
    batch_time: float,
    refs: list[str],
    metrics: list[str],
    values: list[float | None],
    times: list[float | None],
    schemas: Schemas,
    db: sqlite3.Connection,
    references: dict[int, bytes],
    keyframe: bool,
) -> tuple[list[Any], int | None, MetricOrder | None]:
    """One batch of a frame: source, time, schema, times, values, and the timed series'
    values and times apart (a seek reads those from frames it otherwise skips); then
    its flags: :data:`GROUPED` when its values are grouped by metric (a schema's are),
    :data:`XORED` when they are XORed against its schema's in the keyframe's frame
    (the first batch of each schema in a keyframe's frame is that reference)."""
    schema, timed, order = _schema(source, refs, metrics, schemas, db)
    own_times = _times(times, batch_time)
    timed_part = None
    if timed:
        timed_part = [
            pack_floats([values[i] for i in timed]),
            pack_floats([batch_time if times[i] is None else times[i] for i in timed]),
        ]
    against = references.get(schema) if isinstance(schema, int) and not keyframe else None
    if against is not None and len(against) != 8 * len(values):
        against = None  # not the same keys after all (a schema row written again)
    laid = order.group(values) if order is not None else values
    raw = float_bytes(laid)
    number = schema if isinstance(schema, int) else None
    reference = against is None and keyframe and number is not None
    reference = reference and number not in references
    # Short decimals as integers: a reference's when its values are, and the columns
    # XORed against it then as their difference from its integers.
    decimals, digits = None, 0
    if reference:
        digits = decimal_digits(laid)
        decimals = pack_decimals(laid, digits, raw) if digits else None
    elif isinstance(against, Against) and against.decimals is not None:
        digits, ints = against.decimals
        decimals = pack_decimals(laid, digits, raw, ints)
        if decimals is None:  # floats from now to the next keyframe, not tried each frame
            against.decimals = None
    values_part = decimals[0] if decimals is not None else pack_floats(raw, against)
    entry = [source, batch_time, schema, own_times, values_part, timed_part]
    flags = (XORED if against is not None else 0) | (GROUPED if order is not None else 0)
    if decimals is not None:
        flags |= DECIMAL | digits << 4
    if flags:
        entry.append(flags)  # without: plain, as every batch of a version 2 recording
    if reference and number is not None:
        kept = references[number] = Against(raw)
        if decimals is not None:
            kept.decimals = (digits, decimals[1])
    return entry, number, order


_REF, _METRIC, _VALUE, _TIME = map(attrgetter, ("ref", "metric", "value", "time"))
"""A batch's columns, taken at C speed (no Python frame per sample)."""


def _batch_readings(
    batch: Batch,
) -> tuple[list[str], list[str], list[float | None], list[float | None]]:
    """A batch's refs, metrics, values and times, samples then columns (the order the
    store applies them): a frame keeps readings so, whichever form a source sent. A
    batch of one column (a simulator's, an agent's metric) gives its own lists, read and
    never changed here: no copy of 5,000 readings."""
    samples, columns = batch.samples, batch.columns
    if not samples and len(columns) == 1 and type(columns[0].refs) is list:
        column = columns[0]  # (a tuple would differ from its schema's copy each cycle)
        count = len(column.refs)
        times: list[float | None] = [None] * count if column.times is None else column.times
        return column.refs, [column.metric] * count, column.values, times
    refs, metrics = list(map(_REF, samples)), list(map(_METRIC, samples))
    values, times = list(map(_VALUE, samples)), list(map(_TIME, samples))
    for column in columns:
        refs += column.refs
        metrics += [column.metric] * len(column)
        values += column.values
        times += [None] * len(column) if column.times is None else column.times
    return refs, metrics, values, times


def _entity_parts(cycle: _Cycle, like: list[Like]) -> dict[str, Any]:
    """A keyframe's entities as ``r``: their refs and their sources, two lists; and
    its bodies as ``B``, a list (what later frames' are written against, ``like``). A
    later frame's as ``n``: the keyframe's entities it has flagged, and the others'
    refs and sources (``codec.Known``); its bodies as ``P``, those flagged then the
    others, each the bytes after those it shares with its keyframe's body
    (``codec.patch``: a GPU whose process share moved is its last byte or two; the
    others whole). Lists, not a small list an entity: a seek reads 5,400 changed
    entities a frame at 1,000 nodes."""
    refs, sources, bodies = cycle.entities
    if cycle.keyframe:
        like[:] = [Like(bodies)]
        like[0].known = Known(refs, sources)
    if cycle.keyframe or not bodies or not like or like[0].known is None:
        return {"r": [refs, sources], "B": bodies}
    known = like[0].known
    flags, (other_refs, other_sources, _bodies), ordered = known.flag(refs, sources, bodies)
    bases = list(selected(like[0].ordered(), flags))
    return {"n": [deflate(bytes(flags)), other_refs, other_sources], "P": patch(ordered, bases)}


def _keyframe_against(
    keys: list[tuple[str, str]],
    index: dict[tuple[str, str], int],
    places: dict[int, Place],
    firsts: list[tuple[int, list[str], list[str], list[float | None], MetricOrder | None]],
    references: dict[int, bytes],
) -> bytes:
    """What a keyframe's readings' values are XORed against (``codec.keyframe_against``):
    its batches' values (each schema's first: its ``references`` column, the one the
    frames after it are XORed against; an inline batch's none) in the readings' order.
    Most readings are their batch's value: their bytes XOR to zero (382 -> 1 kB a
    keyframe at 1,000 nodes: a keyframe's values repeated its batches'). ``places``:
    where each batch schema's keys sit, kept per schema."""
    laid = []
    for number, refs, metrics, values, order in firsts:
        reference = references.get(number)
        if reference is None:  # none kept: the values themselves
            column = array("d", float_bytes(values))
        else:
            column = array("d", reference)
            column = order.ungroup(column) if order is not None else column
        where = places.get(number)
        if where is None:
            where = places[number] = place_among(keys, index, refs, metrics)
        laid.append((column, where))
    return keyframe_against(len(keys), laid)


KEYFRAME_SCHEMA = "\0keyframe"
"""The pseudo source of a keyframe's readings' schema."""
_FIELDS = tuple(map(itemgetter, range(4)))
"""The four fields of a derived reading, ``(ref, metric, value, time)``."""


def _keyframe_schema(
    keys: list[tuple[str, str]], schemas: Schemas, db: sqlite3.Connection, key_index: list[Any]
) -> int | list[list[str]]:
    """A keyframe's schema (:func:`_schema`): the last keyframe's while its keys are the
    same list (compared in C: a fleet's keys are the same objects keyframe after
    keyframe) and its row is kept, with no list split (227,000 keys at 1,000 nodes)."""
    last = key_index[0]
    if isinstance(last, int) and keys and keys == key_index[3]:
        (first_ref, first_metric), (last_ref, last_metric) = keys[0], keys[-1]
        quick = (KEYFRAME_SCHEMA, len(keys), first_ref, last_ref, first_metric, last_metric)
        known = schemas.get(quick)
        if known is not None and known[2] == last:
            return last
    refs, metrics = list(map(itemgetter(0), keys)), list(map(itemgetter(1), keys))
    return _schema(KEYFRAME_SCHEMA, refs, metrics, schemas, db)[0]


def _frame(
    cycle: _Cycle,
    schemas: Schemas,
    db: sqlite3.Connection,
    references: dict[int, bytes],
    like: list[Like],
    key_index: list[Any],
) -> dict[str, Any]:
    """The document of one frame (keys written as schema rows on the way; a keyframe's
    batches become the ``references`` of the frames up to the next, its entities what
    theirs are compressed ``like``, and what its readings' values are XORed against)."""
    if cycle.keyframe:
        references.clear()
    batches = []
    numbers: list[int] = []
    firsts: list[tuple[int, list[str], list[str], list[float | None], MetricOrder | None]] = []
    parts = [(source, batch_time, *_batch_readings(batch))
             for source, batch, batch_time in cycle.batches]  # fmt: skip
    if cycle.derived:
        derived, (ref_of, metric_of, value_of, time_of) = cycle.derived, _FIELDS
        parts.append((DERIVED_SOURCE, cycle.time, list(map(ref_of, derived)),
                      list(map(metric_of, derived)), list(map(value_of, derived)),
                      list(map(time_of, derived))))  # fmt: skip
    for source, batch_time, refs, metrics, values, times in parts:
        entry, number, order = _batch(source, batch_time, refs, metrics, values, times,
                                      schemas, db, references, cycle.keyframe)  # fmt: skip
        batches.append(entry)
        if number is not None:
            if cycle.keyframe and number not in numbers:  # its schema's reference
                firsts.append((number, refs, metrics, values, order))
            numbers.append(number)
    body: dict[str, Any] = {
        "t": cycle.time,
        "b": batches,
        **_entity_parts(cycle, like),
        "x": cycle.removed,
        "f": cycle.findings,
        "s": cycle.statuses,
        "m": cycle.meta,
        "a": cycle.state,
    }
    if cycle.pending:  # (absent otherwise: no byte a frame)
        body["p"] = 1
    if cycle.full is not None:
        keys, read_times, read_values, rates = cycle.full
        schema = _keyframe_schema(keys, schemas, db, key_index)
        if isinstance(schema, int):
            numbers.append(schema)
        if key_index[0] != schema or len(key_index[2]) > SCHEMAS_KEPT:
            key_index[:] = [schema, dict(zip(keys, range(len(keys)), strict=True)), {}, keys]
        against = _keyframe_against(keys, key_index[1], key_index[2], firsts, references)
        body["k"] = [schema, pack_floats(read_times), pack_floats(read_values, against),
                     pack_floats(rates), XORED]  # fmt: skip
    body["floor"] = min(numbers, default=None)
    return body
