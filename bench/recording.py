"""The flight recorder at fleet size: bytes per sample, CPU share, size of an hour, seek.

The simulator's engine runs ``--cycles`` cycles at ``--nodes`` nodes with the recorder
attached (``Recorder.flush`` after each cycle, so the writer's CPU is counted whole).
The same cycles go to the candidates the storage was chosen against:

- ``sqlite-frames`` (the recorder): one row per cycle, the batch's values as a column
  under a schema written once, grouped by metric, XORed against the keyframe's,
  byte-shuffled, Zstandard; a cycle's changed entities compressed like the keyframe's;
  keyframes every 10 s;
- ``sqlite-rows``: one row per sample ``(series, time, value)``, WITHOUT ROWID;
- ``duckdb``: the same rows in DuckDB's columnar file (if ``duckdb`` is installed:
  ``pip install duckdb``; it is not a dependency of Watchfloor).

Figures: bytes per sample on disk (anchor: Prometheus TSDB ~1.3 B/sample), CPU per
cycle against the console's own, an hour's size, and the time to rebuild the fleet at
a second (the worst case: the last frame before a keyframe). Seek cost does not grow
with the length of the recording (one indexed lookup, then at most 10 s of frames);
``--day`` seeks to random seconds of a simulated 24 h recording at this size.

The 24 h recording is simulated, not recorded (a day at 1,000 nodes is tens of GB and
a day of cycles here): its frames table has a row for every second of 24 h, with the
real frames recorded above (a keyframe and the deltas after it) copied, at their own
seconds, into windows around ``--seeks`` random seconds and at its end, and small
bodies elsewhere (a seek reads only its keyframe and the frames after it, so the rest
only makes the index a day long). Each seek lands at a random second of its window: 0 to 9 frames
after the keyframe, from a recording prepared as a live console's rewind prepares it
(``Recording.prepare``). p50 and p95 over those seeks (wall and CPU: on a shared machine
the CPU time is the steadier figure). Each moment is kept until the next replaces it,
as a rewind keeps it on screen (its freeing is in the next seek); then the young
collection it leaves to the UI's loop is timed apart; the first seek of a session
(every schema's keys and index made) apart, from fresh opens, cold (``explain --at``)
and after ``Recording.prepare`` (a live console's rewind makes them ahead in its
reader's thread: both CPU figures printed); and CPU by frames after the
keyframe, with the minor page faults a seek took. ``H`` (``hour_history``) is timed on
an hour of real keyframes copied every 150 s.

``--alone``: the recorder without the candidates (their writes take minutes at 1,000
nodes; the recorder's figures are the same either way).

Run: ``.venv/bin/python bench/recording.py [--nodes 1000] [--cycles 40] [--day] [--alone]
[--keep DIR]`` (``--keep``: the recordings stay in ``DIR``, its 24 h one in ``DIR/day``:
what ``bench/seek_day_ab.py`` seeks in).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.core.config import Config
from console.core.garbage import young_collections_rarer
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Changes
from console.recording import Recorder, Recording
from console.recording.codec import decode, deflate, encode, inflate
from console.recording.layout import database_file
from console.recording.recorder import KEYFRAME_EVERY


class RowStore:
    """A candidate that stores one row per sample."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.series: dict[tuple[str, str], int] = {}
        self.cpu = 0.0
        self.samples = 0

    def rows(self, changes: Changes) -> tuple[list[float], list[int], list[float | None]]:
        times: list[float] = []
        ids: list[int] = []
        values: list[float | None] = []
        series = self.series
        for _source, batch, batch_time in changes.batches:
            for sample in batch.as_samples():
                key = (sample.ref, sample.metric)
                number = series.get(key)
                if number is None:
                    number = series[key] = len(series)
                ids.append(number)
                times.append(sample.time or batch_time)
                values.append(sample.value)
        for ref, metric, value, when in changes.derived:
            number = series.setdefault((ref, metric), len(series))
            ids.append(number)
            times.append(when)
            values.append(value)
        return times, ids, values


class SqliteRows(RowStore):
    def __init__(self, path: Path) -> None:
        super().__init__("sqlite-rows")
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE samples (series INTEGER, time REAL, value REAL, "
                        "PRIMARY KEY (series, time)) WITHOUT ROWID")  # fmt: skip

    def __call__(self, changes: Changes) -> None:
        began = time.process_time()
        times, ids, values = self.rows(changes)
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO samples VALUES (?, ?, ?)",
                            zip(ids, times, values, strict=True))  # fmt: skip
        self.db.execute("COMMIT")
        self.samples += len(ids)
        self.cpu += time.process_time() - began

    def size(self) -> int:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size

    def seek(self, when: float) -> float:
        began = time.perf_counter()
        self.db.execute(
            "SELECT series, value, max(time) FROM samples WHERE time <= ? GROUP BY series",
            (when,),
        ).fetchall()
        return time.perf_counter() - began


class DuckRows(RowStore):
    def __init__(self, path: Path) -> None:
        import duckdb

        super().__init__("duckdb")
        self.path = path
        self.db = duckdb.connect(str(path))
        self.db.execute("CREATE TABLE samples (series INTEGER, time DOUBLE, value DOUBLE)")

    def __call__(self, changes: Changes) -> None:
        began = time.process_time()
        times, ids, values = self.rows(changes)
        self.db.execute(
            "INSERT INTO samples SELECT unnest($1), unnest($2), unnest($3)", [ids, times, values]
        )
        self.db.execute("CHECKPOINT")
        self.samples += len(ids)
        self.cpu += time.process_time() - began

    def size(self) -> int:
        self.db.execute("CHECKPOINT")
        return self.path.stat().st_size

    def seek(self, when: float) -> float:
        began = time.perf_counter()
        self.db.execute(
            "SELECT series, arg_max(value, time) FROM samples WHERE time <= ? GROUP BY series",
            [when],
        ).fetchall()
        return time.perf_counter() - began


def run(nodes: int, cycles: int, workdir: Path, day: bool, day_count: int, alone: bool) -> None:
    registry = load_registry()
    sources = build_sources(Config(), registry, DemoOptions(nodes=nodes), local=False)
    engine = build_engine(sources, registry)
    recorder = Recorder(workdir / "recording")
    candidates: list[Any] = [] if alone else [SqliteRows(workdir / "rows.sqlite")]
    try:
        candidates += [] if alone else [DuckRows(workdir / "rows.duckdb")]
    except ImportError:
        print("duckdb: not installed (pip install duckdb to compare)")
    console_cpu: list[float] = []

    async def drive() -> None:
        await engine.collect(1)  # warm: the first cycle builds every series
        recorder.attach(engine)
        # The same cycles' batches the recorder gets (the cycle hook's changes).
        engine.cycle_hooks[:0] = candidates
        for _ in range(cycles):
            before = time.process_time()
            capture, write = recorder.capture_seconds, recorder.write_seconds
            others = sum(c.cpu for c in candidates)
            await engine.collect(1)
            recorder.flush()
            spent = time.process_time() - before
            mine = (recorder.capture_seconds - capture) + (recorder.write_seconds - write)
            console_cpu.append(spent - mine - (sum(c.cpu for c in candidates) - others))
        await engine.stop()

    asyncio.run(drive())
    recorder.close()
    console = statistics.mean(console_cpu)
    print(f"{nodes} nodes, {cycles} cycles, {recorder.samples / recorder.frames:,.0f} samples "
          f"a cycle; the console's own CPU {console * 1000:,.0f} ms a cycle")  # fmt: skip
    file = database_file(workdir / "recording")
    sqlite3.connect(file).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    size = file.stat().st_size
    with Recording(workdir / "recording") as recording:
        stats = recording.stats()
        times = recording.times()
        keyframe_times = [t for t in times if recording.keyframe_at(t) == t]
        last_delta = max((t for t in times if t not in keyframe_times), default=times[-1])
        seeks, builds = [], []
        for _ in range(3):
            began = time.perf_counter()
            moment = recording.at(last_delta)
            seeks.append(time.perf_counter() - began)
            assert moment.time == last_delta
        del moment
        rows = recording._db.execute("SELECT keyframe, length(body) FROM frames").fetchall()
        # Since version 7 a keyframe's job history is a row of its own table, not a part
        # of its frame: counted with it, as the figures of older versions were.
        (history,) = recording._db.execute(
            "SELECT coalesce(sum(length(body)), 0) FROM history"
        ).fetchone()
    deltas = [n for key, n in rows if not key]
    frame_keys = [n for key, n in rows if key]
    keys = [n + history / len(frame_keys) for n in frame_keys]
    per_sample = size / recorder.samples
    share = (recorder.capture_seconds + recorder.write_seconds) / cycles / console
    print(f"sqlite-frames: {per_sample:.2f} B/sample on disk "
          f"(deltas {statistics.mean(deltas) / (recorder.samples / cycles):.2f} B/sample, "
          f"keyframe {statistics.mean(keys) / 1e6:.2f} MB with its job history, "
          f"{statistics.mean(frame_keys) / 1e6:.2f} MB without; schemas "
          f"{stats['schema_bytes'] / 1e6:.1f} MB once)")  # fmt: skip
    print(f"  CPU a cycle: capture on the loop {recorder.capture_seconds / cycles * 1000:.0f} ms, "
          f"writer thread {recorder.write_seconds / cycles * 1000:.0f} ms = {share:.1%} of the "
          f"console's")  # fmt: skip
    keyframes = 3600 / KEYFRAME_EVERY
    hour = (3600 - keyframes) * statistics.mean(deltas) + keyframes * statistics.mean(keys)
    print(f"  one hour at 1 s: {hour / 1e9:.2f} GB (3,600 frames, {keyframes:.0f} keyframes)")
    print(f"  seek (rebuild the whole fleet at the last second before a keyframe, "
          f"{len(times) - 1 - times.index(keyframe_times[-1]) if keyframe_times else 0} "
          f"frames after it): best {min(seeks) * 1000:.0f} ms, "
          f"median {statistics.median(seeks) * 1000:.0f} ms")  # fmt: skip
    del builds
    for candidate in candidates:
        bytes_ = candidate.size()
        seek = candidate.seek(times[-1])
        print(f"{candidate.name}: {bytes_ / candidate.samples:.2f} B/sample on disk, "
              f"CPU {candidate.cpu / cycles * 1000:.0f} ms a cycle "
              f"({candidate.cpu / cycles / console:.1%} of the console's), "
              f"latest of every series at the end {seek * 1000:.0f} ms")  # fmt: skip
    where_the_bytes_go(file, recorder.samples / cycles)
    if day:
        day_seeks(workdir, day_count)


PARTS = {"b": "batch values", "k": "keyframe readings", "h": "job history",
         "B": "entities", "E": "entities", "r": "entities", "e": "entities", "n": "entities",
         "P": "entities", "f": "findings", "s": "statuses", "m": "source facts",
         "a": "analysis state", "x": "entities removed", "t": "time",
         "p": "findings pending"}  # fmt: skip
"""A frame's parts by what they hold (``codec``'s keys)."""


def where_the_bytes_go(file: Path, samples: float) -> None:
    """Bytes on disk per part, a keyframe's and a delta frame's, by what they hold. The
    parts compressed together (``z``: everything but the columns) are each compressed
    alone here and scaled to what ``z`` took, so the shares add up to the frame."""
    db = sqlite3.connect(file)
    totals: dict[tuple[int, str], float] = {}
    counts = {0: 0, 1: 0}
    for keyframe, blob in db.execute("SELECT keyframe, body FROM frames"):
        counts[keyframe] += 1
        outer = decode(blob)
        shares = {name: float(len(encode(value))) for name, value in outer.items()}
        rest = decode(inflate(outer.pop("z")))
        alone = {name: len(deflate(encode(value))) for name, value in rest.items()}
        scale = shares.pop("z") / max(1, sum(alone.values()))
        shares.update({name: size * scale for name, size in alone.items()})
        for name, size in shares.items():
            part = PARTS.get(name, name)
            totals[keyframe, part] = totals.get((keyframe, part), 0.0) + size
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='history'").fetchone():  # version 7
        (history,) = db.execute("SELECT coalesce(sum(length(body)), 0) FROM history").fetchone()
        totals[1, PARTS["h"]] = totals.get((1, PARTS["h"]), 0.0) + history
    db.close()
    for keyframe, title in ((1, "a keyframe"), (0, "a delta frame")):
        frames = max(1, counts[keyframe])
        whole = sum(size for (key, _part), size in totals.items() if key == keyframe)
        parts = sorted(((size, part) for (key, part), size in totals.items() if key == keyframe),
                       reverse=True)  # fmt: skip
        print(f"  where the bytes go, {title} ({whole / frames / 1000:,.0f} kB, "
              f"{whole / frames / samples:.2f} B/sample): "
              + ", ".join(f"{part} {size / frames / 1000:,.1f} kB"
                          for size, part in parts if size / frames >= 50))  # fmt: skip


FIRST_SEEKS = 4
"""Fresh opens of the day's recording, each timed at its first seek."""


def day_seeks(workdir: Path, count: int) -> None:
    """Seeks to random seconds of a simulated 24 h recording (see the module's note)."""
    source = sqlite3.connect(database_file(workdir / "recording"))
    rows = source.execute("SELECT time, keyframe, body, schema_floor FROM frames ORDER BY time")
    frames = list(rows)
    # A keyframe and the deltas after it: the second keyframe's, whose job history adds
    # to the first's (a seek joins the two, as most do).
    start = [i for i, row in enumerate(frames) if row[1] == 1][1]
    every = int(KEYFRAME_EVERY)
    window = frames[start : start + every]
    schemas = source.execute("SELECT id, body FROM schemas").fetchall()
    histories = {t: (base, body) for t, base, body in source.execute("SELECT * FROM history")}
    source.close()
    base_time, added = histories[window[0][0]]
    behind, base = window[0][0] - base_time, histories[base_time][1]
    first = window[0][0]
    day = 86_400
    rng = random.Random(18)
    starts = sorted(rng.sample(range(1, day // every - 1), count))
    # Real frames in each seek's window, and in the last (what `Recording.prepare` reads).
    real = {every * s + i: window[i] for s in [*starts, day // every - 1]
            for i in range(len(window))}  # fmt: skip
    recorder = Recorder(workdir / "day")
    recorder.close()
    db = sqlite3.connect(database_file(workdir / "day"), isolation_level=None)
    db.execute("BEGIN")
    db.executemany("INSERT INTO schemas VALUES (?, ?)", schemas)
    db.executemany(
        "INSERT INTO frames VALUES (?, ?, ?, ?)",
        ((first + t, real[t][1], real[t][2], real[t][3]) if t in real
         else (first + t, int(t % every == 0), b"", None) for t in range(day)),
    )  # fmt: skip
    keyframes = [first + t for t in real if t % every == 0]
    db.executemany("INSERT OR IGNORE INTO history VALUES (?, ?, ?)",
                   [(t, t - behind, added) for t in keyframes]
                   + [(t - behind, t - behind, base) for t in keyframes])  # fmt: skip
    db.execute("COMMIT")
    db.close()
    spent, cpu, left, offsets, faults = [], [], [], [], []
    with Recording(workdir / "day") as recording:
        # As a live console's rewind does before the first key (RewindReader.prepare):
        # the session's first seek, made cold, is timed apart below, not among these
        # (it was their slowest, and so their p95 of 20, until stop 29).
        recording.prepare()
        moment = None
        for s in starts:
            offsets.append(rng.randrange(len(window)))
            when = first + every * s + offsets[-1]
            began_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            began, began_cpu = time.perf_counter(), time.process_time()
            moment = recording.at(when)  # the one before freed as it is replaced (a rewind)
            spent.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - began_faults)
            # The young collection the moment leaves to the UI's loop (which keeps it).
            began_cpu = time.process_time()
            gc.collect(1)
            left.append(time.process_time() - began_cpu)
        del moment
        by_offset = sorted(zip(offsets, cpu, faults, strict=True))
        # A rewind stepping: each second of one interval, one after another.
        stepping = []
        for i in range(len(window)):
            began_cpu = time.process_time()
            recording.at(first + every * starts[-1] + i)
            stepping.append(time.process_time() - began_cpu)
        # What a seek defers (its readings made when read): every one read, as no screen
        # does (a rewind screen reads a few thousand), at a few of the same seconds.
        deferred = []
        for s in starts[:5]:
            moment = recording.at(first + every * s)
            began_cpu = time.process_time()
            for _ref, _metric, _reading in moment.store.readings():
                pass
            deferred.append(time.process_time() - began_cpu)
            del moment
    # The first seek of a session (a rewind's first key, `explain --at`, `replay`): a
    # freshly opened recording each time, so every schema's keys and index are made.
    firsts = []
    for s in starts[-FIRST_SEEKS:]:
        with Recording(workdir / "day") as recording:
            began_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            began_cpu = time.process_time()
            moment = recording.at(first + every * s + rng.randrange(len(window)))
            firsts.append(
                (
                    time.process_time() - began_cpu,
                    resource.getrusage(resource.RUSAGE_SELF).ru_minflt - began_faults,
                )
            )
            del moment
    # The same, prepared ahead (a live console's rewind: `Recording.prepare` in the
    # reader's thread before the first key): what preparing cost, then the first seek.
    prepared = []
    for s in starts[-FIRST_SEEKS:]:
        with Recording(workdir / "day") as recording:
            began_cpu = time.process_time()
            recording.prepare()
            ahead = time.process_time() - began_cpu
            began_cpu = time.process_time()
            moment = recording.at(first + every * s + rng.randrange(len(window)))
            prepared.append((ahead, time.process_time() - began_cpu))
            del moment
    hour = hour_seconds(workdir, window, schemas, base)
    spent.sort()
    cpu.sort()
    p95 = max(0, round(0.95 * len(spent)) - 1)
    ms = lambda seconds: f"{seconds * 1000:.0f} ms"  # noqa: E731
    print(f"24 h simulated ({day:,} frames, {count} random seconds): seek p50 "
          f"{ms(statistics.median(spent))}, p95 {ms(spent[p95])} (CPU p50 "
          f"{ms(statistics.median(cpu))}, p95 {ms(cpu[p95])})")  # fmt: skip
    print(f"  then the young collection it leaves to the loop: CPU p50 "
          f"{ms(statistics.median(left))}, most {ms(max(left))}")  # fmt: skip
    print(f"  the first seek of a session ({len(firsts)} fresh opens), CPU "
          f"{', '.join(f'{ms(c)} ({f:,} faults)' for c, f in firsts)}")  # fmt: skip
    pairs = ", ".join(f"{ms(ahead)} + {ms(seek)}" for ahead, seek in prepared)
    print(f"  prepared ahead (the rewind's reader, in its thread, before the first key): CPU "
          f"prepare + first seek {pairs}")  # fmt: skip
    print("  by frames after the keyframe, CPU min / median (minor page faults, most):")
    for offset in sorted(set(offsets)):
        mine = [(c, f) for o, c, f in by_offset if o == offset]
        print(f"    {offset}: {ms(min(c for c, _ in mine))} / "
              f"{ms(statistics.median(c for c, _ in mine))} over {len(mine)} "
              f"({max(f for _, f in mine):,})")  # fmt: skip
    print(f"  stepping through one interval's {len(stepping)} seconds, one after another: "
          f"CPU p50 {ms(statistics.median(stepping))}, most {ms(max(stepping))}")  # fmt: skip
    print(f"  then every reading read (what a seek defers; a screen reads a few thousand): "
          f"CPU p50 {ms(statistics.median(deferred))}")  # fmt: skip
    print(f"  H (the last hour's 24 keyframes into every series' sparkline) after a seek: "
          f"CPU {', '.join(map(ms, hour))}")  # fmt: skip


def hour_seconds(workdir: Path, window: list[Any], schemas: list[Any], base: bytes) -> list[float]:
    """CPU of ``Recording.hour_history`` (``H`` in a rewind), twice, on a recording whose
    last hour holds a real keyframe every 150 s (the 24 it reads), then ``window``."""
    first = window[0][0]
    Recorder(workdir / "hour").close()
    db = sqlite3.connect(database_file(workdir / "hour"), isolation_level=None)
    db.execute("BEGIN")
    db.executemany("INSERT INTO schemas VALUES (?, ?)", schemas)
    rows = [(first + t, 1, window[0][2], window[0][3]) for t in range(0, 3600, 150)]
    rows += [(first + 3600 + i, row[1], row[2], row[3]) for i, row in enumerate(window)]
    db.executemany("INSERT INTO frames VALUES (?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO history VALUES (?, ?, ?)",
                   [(row[0], row[0], base) for row in rows if row[1] == 1])  # fmt: skip
    db.execute("COMMIT")
    db.close()
    spent = []
    with Recording(workdir / "hour") as recording:
        for _ in range(2):
            moment = recording.at(first + 3600 + len(window) - 1)
            began = time.process_time()
            recording.hour_history(moment)
            spent.append(time.process_time() - began)
            del moment
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument(
        "--day",
        action="store_true",
        help="also seek to random seconds of a simulated 24 h recording",
    )
    parser.add_argument("--seeks", type=int, default=20, help="random seconds (--day)")
    parser.add_argument(
        "--alone", action="store_true", help="the recorder alone (no candidates: minutes less)"
    )
    parser.add_argument(
        "--keep", type=Path, help="keep the recordings in this new folder (--day: its day/)"
    )
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; figures are noisy on a "
        "shared machine"
    )
    # The recorder runs in the collector process, under its garbage collection settings.
    with contextlib.ExitStack() as stack:
        stack.enter_context(young_collections_rarer())
        if args.keep is not None:
            args.keep.mkdir(parents=True)
            workdir = str(args.keep)
        else:
            workdir = stack.enter_context(tempfile.TemporaryDirectory())
        run(args.nodes, args.cycles, Path(workdir), args.day, args.seeks, args.alone)


if __name__ == "__main__":
    main()
