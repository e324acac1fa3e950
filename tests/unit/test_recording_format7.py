"""Format 7 against what a file or a fleet may hold: a keyframe of no entity, a lying
column of decimals, a history table trimmed under a seek or missing.

Cycles are driven (``engine.collect``) and ``Recorder.flush`` waits for the writer
thread, so no test sleeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from console.core.config import Config
from console.core.engine import Engine
from console.core.model import Entity
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.recording import Recorder, Recording, RecordingError
from console.recording.codec import compress, decompress, encode, float_bytes
from console.recording.layout import database_file
from console.recording.reader import _like
from tests.unit.recording_versions import deflate_like, marked

REGISTRY = load_registry()


def demo_engine() -> Engine:
    options = DemoOptions("congested-link", 1, 4)
    return build_engine(build_sources(Config(), REGISTRY, options, local=False), REGISTRY)


def record(engine: Engine, path: Path, cycles: int, keyframe_every: float = 10.0) -> Recorder:
    """``cycles`` cycles of ``engine`` recorded at ``path``; the recorder, closed."""
    recorder = Recorder(path, keyframe_every=keyframe_every)
    recorder.attach(engine)

    async def run() -> None:
        for _ in range(cycles):
            await engine.collect(1)
            recorder.flush()
        await engine.stop()

    asyncio.run(run())
    recorder.close()
    return recorder


def test_an_engine_with_no_source_records_its_cycles(tmp_path: Path) -> None:
    recorder = record(build_engine([], REGISTRY), tmp_path / "rec", 3)
    assert recorder.error is None and recorder.frames == 3
    with Recording(tmp_path / "rec") as recording:
        times = recording.times()
        assert len(times) == 3
        assert recording.at(times[-1]).store.entities == {}


def test_a_keyframe_of_no_entity_then_a_frame_flagging_among_them_seeks(tmp_path: Path) -> None:
    record(build_engine([], REGISTRY), tmp_path / "rec", 2)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    (key_time, key_blob), (later, blob) = db.execute(
        "SELECT time, body FROM frames ORDER BY time"
    ).fetchall()
    keyframe, body = decompress(key_blob), decompress(blob)
    assert keyframe["r"] == [[], []]
    # An entity that came after the keyframe: flagged among its none, named apart.
    like = _like(keyframe)
    assert like.known is not None
    entity = Entity("gpu/n1/0", "n1/0")
    flags, (refs, sources, _bodies), ordered = marked(like.known, ["gpu/n1/0"], ["sim"],
                                                      [encode(entity)])  # fmt: skip
    body.pop("r", None), body.pop("B", None)
    body["n"], body["E"] = [flags, refs, sources], deflate_like(like, encode(ordered))
    db.execute("UPDATE frames SET body = ? WHERE time = ?", (compress(body), later))
    db.commit()
    db.close()
    with Recording(tmp_path / "rec") as recording:
        assert recording.at(key_time).store.entities == {}
        assert recording.at(later).store.entities == {"gpu/n1/0": entity}


def _decimal_batch(path: Path) -> tuple[float, list[Any]]:
    """A frame of a recording at ``path`` with a column of decimals, and its batch."""
    from console.recording.codec import DECIMAL

    db = sqlite3.connect(database_file(path))
    rows = db.execute("SELECT time, body FROM frames ORDER BY time").fetchall()
    db.close()
    for when, blob in rows:
        for entry in decompress(blob)["b"]:
            if len(entry) > 6 and entry[6] & DECIMAL:
                return when, entry
    raise AssertionError("no column of decimals")


def _put_batch(path: Path, when: float, entry: list[Any], replaced: list[Any]) -> None:
    """The frame at ``when`` with its batch ``entry`` replaced."""
    db = sqlite3.connect(database_file(path))
    body = decompress(db.execute("SELECT body FROM frames WHERE time=?", (when,)).fetchone()[0])
    body["b"] = [replaced if e == entry else e for e in body["b"]]
    db.execute("UPDATE frames SET body = ? WHERE time = ?", (compress(body), when))
    db.commit()
    db.close()


@pytest.mark.parametrize("digits", [0, 4, 25, -25])
def test_a_column_of_decimals_with_digits_not_written_is_damaged(
    tmp_path: Path, digits: int
) -> None:
    """``flags >> 4`` of 25: 10.0**400 overflows; of -25 (negative flags): 0.0 divides."""
    from console.recording.codec import DECIMAL

    record(decimal_engine(), tmp_path / "rec", 2)
    when, entry = _decimal_batch(tmp_path / "rec")
    flags = (entry[6] & 15) | digits << 4
    assert flags & DECIMAL
    _put_batch(tmp_path / "rec", when, entry, [*entry[:6], flags])
    with (
        Recording(tmp_path / "rec") as recording,
        pytest.raises(RecordingError, match=r"damaged at .*digits after the point"),
    ):
        recording.at(when)


def decimal_engine() -> Engine:
    """A fleet with a batch of jobs' throughput under a schema (one decimal)."""
    options = DemoOptions(nodes=64)
    return build_engine(build_sources(Config(), REGISTRY, options, local=False), REGISTRY)


def test_a_column_of_decimals_claiming_millions_of_values_is_refused_in_little_memory(
    tmp_path: Path,
) -> None:
    """A kilobyte compressed of 4 million values, past its schema's count: refused
    before it is unpacked (it took 225 MB, and 7 GB at the bound of a part)."""
    import tracemalloc

    from console.recording.codec import deflate

    record(decimal_engine(), tmp_path / "rec", 3)
    when, entry = _decimal_batch(tmp_path / "rec")
    bomb = deflate(bytes(8 * 4_000_001))
    assert len(bomb) < 4096
    _put_batch(tmp_path / "rec", when, entry, [*entry[:4], bomb, *entry[5:]])
    with Recording(tmp_path / "rec") as recording:
        for at in (when, when + 1):  # the keyframe's column, the one a later frame XORs to
            tracemalloc.start()
            try:
                with pytest.raises(RecordingError, match=r"damaged at .*not as long as"):
                    recording.at(at)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 24 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_decimals_are_integers_of_64_bits_and_read_as_many_as_their_schema_has() -> None:
    from array import array

    from console.recording.codec import float_bytes, pack_decimals, unpack_decimals

    values = [1.5, -2.25, 1e15]
    packed = pack_decimals(values, 2, float_bytes(values))
    assert packed is not None and packed[1] == array("q", [150, -225, 10**17])
    assert unpack_decimals(packed[0], count=3) == list(packed[1])
    with pytest.raises(ValueError, match="not as long as its schema"):
        unpack_decimals(packed[0], count=4)
    # Integers past 64 bits are left to the floats, which a reader would refuse.
    assert pack_decimals([1e18, 0.5], 1, float_bytes([1e18, 0.5])) is None


def test_a_seek_reads_the_file_as_it_was_while_the_recorder_trims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trim deletes the keyframe's history row between the seek's read of its frame
    and of that row: the seek still reads the row (one read transaction)."""
    from console.recording import reader

    record(demo_engine(), tmp_path / "rec", 2)
    writer = sqlite3.connect(database_file(tmp_path / "rec"), isolation_level=None)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    history = reader.Recording._history

    def trimmed_meanwhile(self: Any, key_time: float, key_body: Any) -> Any:
        assert writer.execute("DELETE FROM history WHERE time = ?", (key_time,)).rowcount == 1
        return history(self, key_time, key_body)

    monkeypatch.setattr(reader.Recording, "_history", trimmed_meanwhile)
    with Recording(tmp_path / "rec") as recording:
        first = recording.times()[0]
        assert recording.at(first).time == first
        # Read afresh, it is gone: the next seek says so.
        monkeypatch.setattr(reader.Recording, "_history", history)
        fresh = Recording(tmp_path / "rec")
        with fresh, pytest.raises(RecordingError, match="without its job history"):
            fresh.at(first)
    writer.close()


def test_a_version_7_file_without_its_history_table_is_damaged(tmp_path: Path) -> None:
    record(demo_engine(), tmp_path / "rec", 2)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    db.execute("DROP TABLE history")
    db.commit()
    db.close()
    with (
        Recording(tmp_path / "rec") as recording,
        pytest.raises(RecordingError, match=r"damaged at .*: no such table: history"),
    ):
        recording.at(recording.times()[0])


def test_a_schema_that_is_no_grid_writes_its_decimals_as_integers() -> None:
    """Its values grouped by metric are a tuple (one ``itemgetter``): decimals still."""
    from console.recording.codec import DECIMAL, GROUPED, MetricOrder, decimal_digits
    from console.recording.layout import SCHEMA_SQL
    from console.recording.reader import _column
    from console.recording.recorder import _batch

    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA_SQL)
    refs = [f"gpu/n{i}/0" for i in range(20) for _ in range(2)] + ["node/n0"]
    metrics = ["gpu.power", "gpu.util"] * 20 + ["node.power"]  # the node's: no grid
    values = [round(100 + i * 1.37, 2) for i in range(len(refs))]
    grouped = MetricOrder(metrics).group(values)
    assert isinstance(grouped, tuple) and decimal_digits(grouped) == 2
    entry, _number, order = _batch("sim", 1.0, refs, metrics, values, [None] * len(refs),
                                   {}, db, {}, True)  # fmt: skip
    assert entry[6] & (DECIMAL | GROUPED) == DECIMAL | GROUPED and entry[6] >> 4 == 2
    assert _column(entry[4], None, order, entry[6], len(refs)).tobytes() == float_bytes(values)
