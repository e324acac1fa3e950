"""The flight recorder: what it writes reads back as the live store was, at every second.

Cycles are driven (``engine.collect``) on the simulator's clock; ``Recorder.flush``
waits for the writer thread, so no test sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sqlite3
import struct
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from console.analysis.causes import explain
from console.analysis.jobs import job_state
from console.analysis.thresholds import THRESHOLDS
from console.core import store as store_module
from console.core.config import Config, ConfigError, parse_config
from console.core.engine import Engine
from console.core.headless import snapshot_document
from console.core.model import COUNTER_METRICS, TIMED_METRICS, Entity
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import SUMMED_METRICS, Reading, Store, SummedKeys
from console.recording import Recorder, RecorderBusy, Recording, RecordingError, parse_time
from console.recording.codec import (
    DECIMAL,
    GROUPED,
    XOR_PIECE,
    XORED,
    MetricOrder,
    decimal_digits,
    decimal_floats,
    float_bytes,
    pack_decimals,
    pack_floats,
    unpack_decimals,
    unpack_floats,
)
from console.recording.layout import database_file
from console.recording.recorder import KEYFRAME_EVERY
from console.sim.cluster import EPOCH
from tests.unit.recording_versions import deflate_like, marked, unmarked

REGISTRY = load_registry()


def demo_engine(onset: float | None = None, scenario: str = "congested-link") -> Engine:
    options = DemoOptions(scenario, 1, 4, onset=onset)
    return build_engine(build_sources(Config(), REGISTRY, options, local=False), REGISTRY)


def record(engine: Engine, recorder: Recorder, cycles: int) -> dict[float, dict[str, Any]]:
    """Drive ``cycles`` cycles; the live snapshot document after each, by store time,
    with the victim's explanation under ``explain``."""
    seen: dict[float, dict[str, Any]] = {}

    async def run() -> None:
        for _ in range(cycles):
            await engine.collect(1)
            recorder.flush()
            document = snapshot_document(engine.store, engine.statuses())
            chain = explain(engine.store, "job/4711")
            document["explain"] = chain.to_json() if chain is not None else None
            document["gpu_power"] = engine.store.gpu_total(None, "gpu.power")
            seen[engine.store.time or 0.0] = json.loads(json.dumps(document, default=str))
        await engine.stop()

    asyncio.run(run())
    return seen


def test_every_recorded_second_reads_back_as_the_live_snapshot(tmp_path: Path) -> None:
    engine = demo_engine()
    recorder, live = recorded(engine, tmp_path / "rec", 35, keyframe_every=10)
    assert recorder.frames == 35 and recorder.dropped == 0 and recorder.error is None
    with Recording(tmp_path / "rec") as recording:
        assert recording.stats()["keyframes"] == 4  # 0, 10, 20, 30: seeks replay deltas too
        for when, document in live.items():
            moment = recording.at(when)
            assert moment.time == when
            again = snapshot_document(moment.store, moment.statuses)
            chain = explain(moment.store, "job/4711")
            again["explain"] = chain.to_json() if chain is not None else None
            again["gpu_power"] = moment.store.gpu_total(None, "gpu.power")  # power pane's sum
            assert json.loads(json.dumps(again, default=str)) == document, when


def test_between_frames_a_seek_shows_the_last_frame_before(tmp_path: Path) -> None:
    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec")
    recorder.attach(engine)
    record(engine, recorder, 3)
    recorder.close()
    with Recording(tmp_path / "rec") as recording:
        assert recording.at(EPOCH + 1.5).time == EPOCH + 1
        with pytest.raises(RecordingError, match="nothing recorded at or before"):
            recording.at(EPOCH - 1)


def test_rewind_through_the_onset_of_a_congested_link(tmp_path: Path) -> None:
    """The acceptance walk: before the onset the victim runs with no cause; from the
    second the simulator's ``injected`` record names, the injected link is the cause,
    and the stall (from that second) once it has lasted ``stall_seconds``."""
    engine = demo_engine(onset=40)
    recorder = Recorder(tmp_path / "rec", keyframe_every=15)
    recorder.attach(engine)
    record(engine, recorder, 80)
    recorder.close()
    injected = engine.store.source_meta["sim"]["injected"]
    onset, victim = injected["onset"], injected["victim"]
    assert onset == EPOCH + 40
    stall_shown = onset + THRESHOLDS.stall_seconds
    with Recording(tmp_path / "rec") as recording:
        for when in range(int(onset) - 10, int(stall_shown) + 5):
            moment = recording.at(when)
            result = explain(moment.store, victim)
            assert result is not None
            causes = [cause.ref for cause in result.causes]
            if when < onset:
                assert job_state(moment.store, victim) == "RUNNING", when
                assert causes == [] and result.stall is None, when
            else:
                assert causes[0] == injected["link"], when
            if when >= stall_shown:
                assert job_state(moment.store, victim) == "STALLED", when
                assert result.stall is not None and result.stall.since == onset
            elif when >= onset:
                assert job_state(moment.store, victim) == "RUNNING", when


def test_a_new_critical_finding_is_an_incident(tmp_path: Path) -> None:
    engine = demo_engine(onset=5)
    recorder = Recorder(tmp_path / "rec")
    recorder.attach(engine)
    record(engine, recorder, 40)
    recorder.close()
    with Recording(tmp_path / "rec") as recording:
        incidents = recording.incidents()
    stalled = [i for i in incidents if i.kind == "job-stalled"]
    assert [i.ref for i in stalled] == ["job/4711"]  # once, though it stays critical
    assert stalled[0].time == EPOCH + 5 + THRESHOLDS.stall_seconds


def test_trim_keeps_the_age_whole_from_a_keyframe_and_the_incident_window(
    tmp_path: Path,
) -> None:
    engine = demo_engine(onset=5)
    recorder = Recorder(tmp_path / "rec", keep=30, keyframe_every=10)
    recorder.attach(engine)
    record(engine, recorder, 60)
    recorder.flush()
    recorder.trim(EPOCH + 59)
    recorder.close()
    with Recording(tmp_path / "rec") as recording:
        first, last = recording.span() or (0.0, 0.0)
        # The incident (25 s) is kept with the minutes around it, from a keyframe.
        assert first == EPOCH
        assert recording.at(EPOCH + 25).time == EPOCH + 25
    engine = demo_engine(scenario="healthy")  # no incident: only `keep` is kept
    recorder = Recorder(tmp_path / "healthy", keep=30, keyframe_every=10)
    recorder.attach(engine)
    record(engine, recorder, 60)
    recorder.flush()
    recorder.trim(EPOCH + 59)
    recorder.close()
    with Recording(tmp_path / "healthy") as recording:
        first, last = recording.span() or (0.0, 0.0)
        assert first == EPOCH + 30 and last == EPOCH + 59
        assert recording.times()[0] == EPOCH + 30  # nothing before the first keyframe
        assert recording.at(EPOCH + 31).time == EPOCH + 31
        kept = recording._db.execute("SELECT time - ?, base - ? FROM history ORDER BY time",
                                     (EPOCH, EPOCH)).fetchall()  # fmt: skip
    # The kept keyframes' job histories, and the one they add to (kept past its frame).
    assert kept == [(0, 0), (30, 0), (40, 0), (50, 0)]
    from console.recording.export import export_recording

    with Recording(tmp_path / "healthy") as recording:
        export_recording(recording, tmp_path / "out.sqlite", EPOCH + 45, EPOCH + 59)
        moment = recording.at(EPOCH + 47)
    with Recording(tmp_path / "out.sqlite") as exported:  # with its base's history
        assert store_state(exported.at(EPOCH + 47).store) == store_state(moment.store)


def test_trim_holds_the_file_under_max_mb(tmp_path: Path) -> None:
    engine = demo_engine(scenario="healthy")
    recorder = Recorder(tmp_path / "rec", max_mb=0.15, keyframe_every=5)
    recorder.attach(engine)
    record(engine, recorder, 60)
    recorder.flush()
    recorder.trim(EPOCH + 59)
    recorder.close()
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    pages, free, size = (db.execute(f"PRAGMA {name}").fetchone()[0]
                         for name in ("page_count", "freelist_count", "page_size"))  # fmt: skip
    db.close()
    assert (pages - free) * size <= 0.15 * 1024 * 1024
    with Recording(tmp_path / "rec") as recording:
        first, last = recording.span() or (0.0, 0.0)
        assert EPOCH < first < last == EPOCH + 59
        assert recording.at(first).time == first


def test_one_recorder_per_recording(tmp_path: Path) -> None:
    first = Recorder(tmp_path / "rec")
    try:
        with pytest.raises(RecorderBusy, match="another console records"):
            Recorder(tmp_path / "rec")
    finally:
        first.close()
    Recorder(tmp_path / "rec").close()  # free again once the first let go


def test_a_recorder_that_cannot_write_stops_and_the_console_goes_on(tmp_path: Path) -> None:
    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec")
    recorder.attach(engine)
    recorder._db.close()  # what a vanished disk looks like to the writer
    record(engine, recorder, 3)
    recorder.close()
    assert recorder.error is not None and "closed" in recorder.error
    assert engine.store.time == EPOCH + 2  # the cycles went on


def test_not_a_recording_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no recording there"):
        Recording(tmp_path / "missing")
    (tmp_path / "junk.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(RecordingError, match="not a recording"):
        Recording(tmp_path / "junk.sqlite")


def test_float_columns_round_trip_with_not_available() -> None:
    values = [1.5, None, -0.0, 1e300, 3.0]
    back = unpack_floats(pack_floats(values))
    assert [None if v != v else v for v in back] == values


def test_xored_columns_round_trip_piece_by_piece() -> None:
    """A column XORed a piece at a time: pieces the same as the keyframe's, pieces of
    zeros on either side, pieces that differ, and a short last piece all come back."""
    per_piece = XOR_PIECE // 8
    count = 3 * per_piece + 5  # a short last piece
    keyframe = [float(i) + 0.25 for i in range(count)]
    keyframe[per_piece : 2 * per_piece] = [0.0] * per_piece  # zeros on the keyframe's side
    values = list(keyframe)  # the first piece: the keyframe's values again
    values[per_piece + 3] = 7.5  # a piece the keyframe had as zeros
    values[2 * per_piece :] = [v * 1.001 for v in keyframe[2 * per_piece :]]  # changed
    values[-1] = None
    against = float_bytes(keyframe)
    for column in (values, keyframe, [0.0] * count):
        back = unpack_floats(pack_floats(column, against), against)
        assert [None if v != v else v for v in back] == column
    with pytest.raises(ValueError, match="not as long"):
        unpack_floats(pack_floats(values, against), against[:-8])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-10m", 10_000.0 - 600),
        ("-90s", 10_000.0 - 90),
        ("-1h30m", 10_000.0 - 5400),
        ("02:40", 9600.0),  # 1970-01-01 02:46:40 UTC is the reference
        ("02:50", 9600.0 + 600 - 86_400),  # later than the reference: the day before
        ("02:46:40", 10_000.0),
        ("1970-01-01T02:00:00+00:00", 7200.0),
        ("1970-01-01T02:00:00", 7200.0),  # naive: local (UTC in the tests)
    ],
)
def test_times(text: str, expected: float) -> None:
    assert parse_time(text, 10_000.0) == expected


@pytest.mark.parametrize("text", ["-10x", "25:00", "yesterday", "-"])
def test_bad_times_say_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|-10m"):
        parse_time(text, 10_000.0)


def test_history_config() -> None:
    text = "history:\n  path: rec\n  keep: 90m\n  max_mb: 50\n"
    config = parse_config(text, "/etc/wf/config.yaml", REGISTRY.source_types)
    assert config.history.path == Path("/etc/wf/rec")
    assert config.history.keep == 5400 and config.history.max_mb == 50
    assert parse_config("history: {keep: 3600}", "c.yaml", {}).history.keep == 3600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interval: 1\nhistory:\n  keep: soon\n", "c.yaml:3: history: 'keep' must be a duration"),
        ("history:\n  max_mb: -1\n", "c.yaml:2: history: 'max_mb' must be a positive"),
        ("history:\n  size: 1\n", "c.yaml:2: history: unknown key 'size'"),
        ("history:\n  path: 3\n", "c.yaml:2: history: 'path' must be a directory"),
        ("history: 3\n", "c.yaml:1: history must be a mapping"),
    ],
)
def test_history_config_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", {})
    assert str(caught.value).startswith(message)


def test_hour_history_spreads_points_over_the_span_from_keyframes(tmp_path: Path) -> None:
    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=10)
    recorder.attach(engine)
    record(engine, recorder, 100)
    recorder.close()
    with Recording(tmp_path / "rec") as recording:
        moment = recording.at(EPOCH + 99)
        assert len(moment.store.history("gpu/node01/0", "gpu.util")) <= 1  # no warm-up
        recording.hour_history(moment, seconds=60, points=3)
        history = moment.store.history("gpu/node01/0", "gpu.util")
        # Keyframes at 40, 60 and 80 s (20 s apart at least), then the moment itself.
        expected = [recording.at(EPOCH + t).store.value("gpu/node01/0", "gpu.util")
                    for t in (40, 60, 80, 99)]  # fmt: skip
        assert history == expected
        rates = moment.store.history("port/leaf01/p1", "port.tx_bytes")
        assert rates[0] == recording.at(EPOCH + 40).store.value("port/leaf01/p1", "port.tx_bytes")


def test_the_hours_points_of_every_series_are_its_keyframes_then_its_reading(
    tmp_path: Path,
) -> None:
    """Every series (a counter's rate, a gauge's value), not only the few a pane shows."""
    engine = demo_engine()
    recorded(engine, tmp_path / "rec", 35, keyframe_every=10)
    with Recording(tmp_path / "rec") as recording:
        end = max(recording.times())
        keyframes = [when for when in recording.times() if recording.keyframe_at(when) == when]
        moment = recording.at(end)
        recording.hour_history(moment, seconds=end - keyframes[0] + 1, points=len(keyframes))
        then = [recording.at(when).store for when in keyframes if when < end]
    checked = 0
    for ref, metric, reading in moment.store.readings():
        if metric in TIMED_METRICS:
            continue
        counter = metric in COUNTER_METRICS
        expected = [
            (past.rate if counter else past.value)
            for store in then
            if (past := store.reading(ref, metric)) is not None
        ]
        expected.append(reading.rate if counter else reading.value)
        assert moment.store.history(ref, metric) == expected, (ref, metric)
        checked += 1
    assert checked > 1000


def test_no_garbage_collection_runs_while_the_hour_is_filled(tmp_path: Path) -> None:
    """Millions of points at fleet size, none of them garbage: a young pass every few
    hundred objects walked them again and again (``H`` in a rewind)."""
    import gc

    engine = demo_engine()
    recorded(engine, tmp_path / "rec", 25, keyframe_every=10)
    passes: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    with Recording(tmp_path / "rec") as recording:
        moment = recording.at(max(recording.times()))
        thresholds = gc.get_threshold()
        gc.set_threshold(10)  # a young pass every few objects: the hour makes thousands
        gc.callbacks.append(watch)
        try:
            recording.hour_history(moment, seconds=30, points=3)
        finally:
            gc.callbacks.remove(watch)
            gc.set_threshold(*thresholds)
    assert len(moment.store.history("gpu/node01/0", "gpu.util")) == 4  # 3 keyframes, the moment
    assert passes == [] and gc.isenabled()


def test_a_damaged_frame_or_a_zip_bomb_is_a_clear_error(tmp_path: Path) -> None:
    import zstandard

    from console.recording import codec

    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec")
    recorder.attach(engine)
    record(engine, recorder, 3)
    recorder.close()
    db = sqlite3.connect(database_file(tmp_path / "rec"))

    def put(body: bytes) -> None:
        db.execute("UPDATE frames SET body = ? WHERE time = ?", (body, EPOCH + 2))
        db.commit()

    for damaged in (b"\x93garbage", b"\x91" * 100_000 + b"\xc0"):  # (nested past any depth)
        put(damaged)
        with Recording(tmp_path / "rec") as recording:
            assert recording.at(EPOCH + 1).time == EPOCH + 1
            with pytest.raises(RecordingError, match="damaged"):
                recording.at(EPOCH + 2)
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * 1000)
    put(codec.encode({"t": EPOCH + 2, "b": [], "z": unsized}))
    with Recording(tmp_path / "rec") as recording, pytest.raises(RecordingError, match="its size"):
        recording.at(EPOCH + 2)
    put(codec.encode({"t": EPOCH + 2, "b": [], "z": codec.deflate(b"\0" * (8 << 20))}))
    db.close()
    limit = codec.MAX_INFLATED
    codec.MAX_INFLATED = 1 << 20  # the bomb is 8 MB of zeros: past this bound
    try:
        with Recording(tmp_path / "rec") as recording:
            with pytest.raises(RecordingError, match="grows past") as caught:
                recording.at(EPOCH + 2)
            assert "damaged" in str(caught.value)
    finally:
        codec.MAX_INFLATED = limit


def test_a_damaged_frame_is_a_clear_error_in_replay_and_hour_history(tmp_path: Path) -> None:
    from console.recording import codec

    recorded(demo_engine(), tmp_path / "rec", 3)  # a keyframe, then two frames
    with Recording(tmp_path / "rec") as recording:
        moment = recording.at(EPOCH + 1)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    # Well-formed, the wrong shape: a lying file, not a torn one.
    db.execute("UPDATE frames SET body = ? WHERE time = ?",
               (codec.encode({"t": EPOCH + 2, "b": [[1]]}), EPOCH + 2))  # fmt: skip
    db.execute("UPDATE frames SET body = ? WHERE time = ?",
               (codec.encode({"t": EPOCH, "k": [0]}), EPOCH))  # fmt: skip
    db.commit()
    db.close()
    with Recording(tmp_path / "rec") as recording:
        with pytest.raises(RecordingError, match="damaged"):
            list(recording.replay_from(moment, EPOCH + 2))
        with pytest.raises(RecordingError, match="damaged"):
            recording.hour_history(moment)


def test_a_writer_that_falls_behind_drops_cycles_and_starts_again_from_a_keyframe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from console.recording import recorder as recorder_module

    release = threading.Event()
    real_frame = recorder_module._frame

    def stuck_disk(*args: Any) -> dict[str, Any]:
        release.wait(timeout=60)  # the disk answers when the test says so
        return real_frame(*args)

    monkeypatch.setattr(recorder_module, "_frame", stuck_disk)
    monkeypatch.setattr(recorder_module, "QUEUE_FRAMES", 2)
    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=1000)
    recorder.attach(engine)

    async def run() -> None:
        for _ in range(8):  # the loop never waits for the disk
            await engine.collect(1)
        release.set()
        recorder.flush()
        for _ in range(2):
            await engine.collect(1)
        await engine.stop()

    asyncio.run(run())
    recorder.close()
    assert recorder.dropped >= 4
    with Recording(tmp_path / "rec") as recording:
        times = recording.times()
        assert len(times) == recorder.frames == 10 - recorder.dropped
        after_gap = next(t for t, before in zip(times[1:], times, strict=False) if t > before + 1)
        assert recording.keyframe_at(after_gap) == after_gap  # stands on its own
        for when in times:
            assert recording.at(when).time == when


def test_start_recording_is_one_call_and_says_why_when_it_cannot(tmp_path: Path) -> None:
    from console.core.config import HistoryConfig
    from console.recording.session import start_recording

    engine = demo_engine()
    history = HistoryConfig(path=tmp_path / "rec", keep=600, max_mb=10)
    recorder, notice = start_recording(engine, history)
    assert recorder is not None and notice is None
    assert engine.cycle_hooks == [recorder.on_cycle] and recorder.keep == 600
    second = demo_engine()
    other, notice = start_recording(second, history)  # the file is taken
    assert other is None and notice is not None
    assert notice.startswith("not recording: another console records into")
    assert second.cycle_hooks == [] and second.store.journal is None
    recorder.close()
    assert start_recording(second, HistoryConfig(enabled=False)) == (None, None)


def test_a_source_sending_several_batches_a_cycle_writes_each_key_set_once(
    tmp_path: Path,
) -> None:
    # 30 nodes: the simulator sends its samples in batches of 5,000, so one source sends
    # two large batches a cycle, each with its own keys (once, not once per cycle).
    engine = build_engine(build_sources(Config(), REGISTRY, DemoOptions(nodes=30), local=False),
                          REGISTRY)  # fmt: skip
    recorder = Recorder(tmp_path / "rec", keyframe_every=1000)
    recorder.attach(engine)
    record(engine, recorder, 2)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    after_two = db.execute("SELECT count(*) FROM schemas").fetchone()[0]
    assert after_two >= 3  # two of the simulator's, the keyframe's: the case at hand
    record(engine, recorder, 4)
    recorder.close()
    assert db.execute("SELECT count(*) FROM schemas").fetchone()[0] == after_two
    db.close()


def test_a_recording_of_another_format_is_refused_by_name(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "rec")
    recorder.close()
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    db.execute("UPDATE meta SET value='1' WHERE key='format'")
    db.commit()
    db.close()
    with pytest.raises(RecordingError, match=r"version 1, this console reads 2, 3, .* 7 and 8"):
        Recording(tmp_path / "rec")
    # A console upgraded over its old recording keeps that one aside and records anew.
    again = Recorder(tmp_path / "rec", clock=lambda: 1700000000.0)
    again.close()
    assert again.notice == (
        f"{database_file(tmp_path / 'rec')} was a version 1 recording; "
        "kept as frames-v1-1700000000.sqlite, recording afresh"
    )
    assert (tmp_path / "rec" / "frames-v1-1700000000.sqlite").is_file()
    with Recording(tmp_path / "rec") as recording:
        assert recording.span() is None  # the new one, empty


def count_readings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every reading object a seek's lazy readings make, one entry each."""
    from console.recording import readings

    made: list[int] = []
    real = readings.Reading

    def counting(*args: Any) -> Any:
        made.append(1)
        return real(*args)

    monkeypatch.setattr(readings, "Reading", counting)
    return made


def test_a_seek_makes_reading_objects_only_for_the_series_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = demo_engine()
    _, live = recorded(engine, tmp_path / "rec", 4, keyframe_every=1000)
    made = count_readings(monkeypatch)
    last = max(live)
    with Recording(tmp_path / "rec") as recording:
        moment = recording.at(last)
        assert len(made) == 0  # the totals (power) summed from the columns, not readings
        assert moment.store.gpu_total(None, "gpu.power") == live[last]["gpu_power"]
        assert moment.store.value("gpu/node01/0", "gpu.util") is not None
        assert len(made) == 1  # one read, one made
        again = json.loads(json.dumps(snapshot_document(moment.store, moment.statuses),
                                      default=str))  # fmt: skip
        assert again["gpus"] == live[last]["gpus"] and again["links"] == live[last]["links"]
        series = len(list(moment.store.readings()))
    assert series > 1000
    assert len(made) == series  # each made once, when first read


def test_two_recordings_read_side_by_side_group_their_summed_keys_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a seek keeps for the next (its summed keys and their grouping) was kept in
    # module globals: two recordings read in turn regrouped 32,000 keys (87 ms at
    # 1,000 nodes) at every seek, and the last one's stayed after it was closed.
    lasts = {}
    for name in ("a", "b"):
        lasts[name] = max(recorded(demo_engine(), tmp_path / name, 3, keyframe_every=1000)[1])
    grouped: list[int] = []
    group_keys = store_module._group_keys
    monkeypatch.setattr(store_module, "_group_keys",
                        lambda keys: grouped.append(len(keys)) or group_keys(keys))  # fmt: skip
    with Recording(tmp_path / "a") as a, Recording(tmp_path / "b") as b:
        for _ in range(2):
            for name, recording in (("a", a), ("b", b)):
                moment = recording.at(lasts[name])
                assert moment.store.gpu_total(None, "gpu.power")
    assert len(grouped) == 2  # once a recording, whatever was read between its seeks


def test_a_seek_just_after_a_keyframe_takes_counters_rates_against_its_batches(
    tmp_path: Path,
) -> None:
    engine = demo_engine()
    _, live = recorded(engine, tmp_path / "rec", 7, keyframe_every=5)  # keyframes at 0 and 5
    after = sorted(live)[6]  # the one frame after the second keyframe
    with Recording(tmp_path / "rec") as recording:
        assert recording.keyframe_at(after) == sorted(live)[5]
        moment = recording.at(after)
        again = json.loads(json.dumps(snapshot_document(moment.store, moment.statuses),
                                      default=str))  # fmt: skip
    assert again["gpus"] == live[after]["gpus"] and again["links"] == live[after]["links"]


def store_state(store: Store) -> dict[str, Any]:
    """What a store holds that a seek restores: every reading, entity, total and timed
    series' points."""
    readings = {(ref, metric): (r.time, r.value, r.rate) for ref, metric, r in store.readings()}
    timed = {key: store.timed_history(*key) for key in readings if key[1] in TIMED_METRICS}
    return {"readings": readings, "entities": dict(store.entities),
            "sources": dict(store.entity_source), "findings": store.findings,
            "totals": {(node, metric): store.gpu_total(node, metric)
                       for node in [None, *(e.ref for e in store.of_kind("node"))]
                       for metric in SUMMED_METRICS},
            "timed": {key: points for key, points in timed.items() if points}}  # fmt: skip


def recorded_states(
    engine: Engine,
    path: Path,
    cycles: int,
    keyframe_every: float,
    before_cycle: Callable[[int], None] | None = None,
) -> dict[float, dict[str, Any]]:
    """:func:`recorded`, keeping :func:`store_state` of the live store after each cycle
    (by store time) rather than its snapshot document; ``before_cycle(number)`` called
    before each."""
    recorder = Recorder(path, keyframe_every=keyframe_every)
    recorder.attach(engine)
    live: dict[float, dict[str, Any]] = {}

    async def run() -> None:
        for cycle in range(cycles):
            if before_cycle is not None:
                before_cycle(cycle)
            await engine.collect(1)
            recorder.flush()
            live[engine.store.time or 0.0] = store_state(engine.store)
        await engine.stop()

    asyncio.run(run())
    recorder.close()
    return live


def test_a_seeks_store_is_the_live_store_of_that_second(tmp_path: Path) -> None:
    engine = demo_engine(onset=12.0)
    live = recorded_states(engine, tmp_path / "rec", 25, keyframe_every=10)
    with Recording(tmp_path / "rec") as recording:
        for when, state in live.items():
            again = store_state(recording.at(when).store)
            for part in state:
                assert again[part] == state[part], (when, part)


def test_a_seek_past_its_keyframe_reads_no_keyframe_readings_newer_batches_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every source sends all its keys each cycle: a frame after the keyframe lays a
    value over each of the keyframe's readings, which a seek there does not unpack
    (a seek at 1,000 nodes: three columns of 227,000); the store is the live one."""
    from console.recording.reader import Recording as Reader

    engine = demo_engine(onset=12.0)
    live = recorded_states(engine, tmp_path / "rec", 14, keyframe_every=10)
    read: list[float] = []
    columns = Reader._keyframe_columns
    monkeypatch.setattr(Reader, "_keyframe_columns",
                        lambda self, body, *rest: read.append(body["t"]) or
                        columns(self, body, *rest))  # fmt: skip
    with Recording(tmp_path / "rec") as recording:
        keyframes = {recording.keyframe_at(when) for when in live}
        assert len(keyframes) == 2
        for when, state in live.items():
            read.clear()
            assert store_state(recording.at(when).store) == state, when
            if when in keyframes:
                assert read == [when]
            elif when > max(keyframes):  # (the first cycle's sources are still warming)
                assert read == [], when


def test_a_keyframes_readings_are_read_unless_newer_batches_lay_a_slice_over_each() -> None:
    from console.recording.reader import _Batch, _laid_over

    def batch(schema: int, refs: list[str], metric: str) -> _Batch:
        return _Batch("s", 0.0, 0.0, (refs, [metric] * len(refs)), None, b"", schema)

    gauges, more = batch(1, ["a", "b"], "gpu.temp"), batch(2, ["c"], "gpu.temp")
    counter = batch(3, ["d"], "port.tx_bytes")
    assert "port.tx_bytes" in COUNTER_METRICS
    assert _laid_over(3, [gauges, more], {id(gauges): 0, id(more): 2}, {})
    assert _laid_over(3, [more, gauges], {id(gauges): 1, id(more): 0}, {})  # in any order
    empty = batch(4, [], "gpu.temp")  # a source's batch of no readings: placed nowhere
    assert _laid_over(3, [gauges, empty, more], {id(gauges): 0, id(empty): [], id(more): 2}, {})
    assert not _laid_over(4, [gauges, more], {id(gauges): 0, id(more): 3}, {})  # a gap
    assert not _laid_over(4, [gauges, more], {id(gauges): 0, id(more): 2}, {})  # one short
    assert not _laid_over(3, [gauges, more], {id(gauges): [0, 1], id(more): 2}, {})  # apart
    assert not _laid_over(3, [gauges], {id(gauges): 0}, {})  # a batch not among the newest
    # A counter's rate with no batch before it is taken against the keyframe's reading.
    assert not _laid_over(3, [gauges, counter], {id(gauges): 0, id(counter): 2}, {})
    assert _laid_over(3, [gauges, counter], {id(gauges): 0, id(counter): 2}, {3: counter})


def test_a_keyframes_column_too_short_is_refused_past_the_keyframe_too(tmp_path: Path) -> None:
    """A seek past the keyframe that reads none of its readings still unpacks the
    columns of its batches, each checked against its schema's count."""
    from console.recording.codec import compress, decompress

    recorded(demo_engine(), tmp_path / "rec", 3)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    when, blob = db.execute("SELECT time, body FROM frames ORDER BY time LIMIT 1").fetchone()
    body = decompress(blob)
    entry = next(e for e in body["b"] if isinstance(e[2], int) and not _flags(e) & DECIMAL)
    entry[4] = pack_floats([1.0])  # one value for a schema of more
    db.execute("UPDATE frames SET body = ? WHERE time = ?", (compress(body), when))
    db.commit()
    db.close()
    with Recording(tmp_path / "rec") as recording:
        for at in (when, recording.times()[-1]):
            with pytest.raises(RecordingError, match=r"damaged at .*not as long as"):
                recording.at(at)


@pytest.mark.parametrize("column", [1, 3])  # the keyframe's times, its rates
def test_a_keyframes_readings_column_too_short_is_refused_at_the_seek(
    tmp_path: Path, column: int
) -> None:
    """Found in review: a short times or rates column seeked without error, and the
    first read of a reading it lacked raised IndexError on the UI's thread."""
    from console.recording.codec import compress, decompress

    recorded(demo_engine(), tmp_path / "rec", 3)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    when, blob = db.execute("SELECT time, body FROM frames ORDER BY time LIMIT 1").fetchone()
    body = decompress(blob)
    body["k"][column] = pack_floats([1.0])
    db.execute("UPDATE frames SET body = ? WHERE time = ?", (compress(body), when))
    db.commit()
    db.close()
    with (
        Recording(tmp_path / "rec") as recording,
        pytest.raises(RecordingError, match=r"damaged at .*not as many"),
    ):
        recording.at(when)


def test_between_keyframes_only_the_entities_the_cycle_changed_are_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.recording import recorder as recorder_module

    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=1000)
    recorder.attach(engine)
    record(engine, recorder, 2)  # the keyframe, and a cycle
    encoded: list[object] = []
    real = recorder_module.encode
    monkeypatch.setattr(
        recorder_module, "encode", lambda value: encoded.append(value) or real(value)
    )
    record(engine, recorder, 1)
    recorder.close()
    entities = [value for value in encoded if isinstance(value, Entity)]
    assert 0 < len(entities) < len(engine.store.entities) // 2
    with Recording(tmp_path / "rec") as recording:  # and what was left alone reads back
        moment = recording.at(max(recording.times()))
        assert moment.store.entities == engine.store.entities


def test_no_garbage_collection_runs_while_a_cycle_is_captured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=1000)
    recorder.attach(engine)
    record(engine, recorder, 1)  # the keyframe
    inside, during = [False], []
    real = recorder._capture

    def capture(*args: Any) -> None:
        inside[0] = True
        try:
            real(*args)
        finally:
            inside[0] = False

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and inside[0]:
            during.append(info["generation"])

    monkeypatch.setattr(recorder, "_capture", capture)
    thresholds = gc.get_threshold()
    gc.set_threshold(10)  # a young pass every few objects: a capture makes thousands
    gc.callbacks.append(watch)
    try:
        record(engine, recorder, 2)
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*thresholds)
    recorder.close()
    assert recorder.frames == 3 and during == []
    assert gc.isenabled()  # and collection runs again after


def test_a_seeks_moment_is_left_in_the_oldest_generation(tmp_path: Path) -> None:
    """Made with the collector off, none of it garbage: the young collections after a
    rewind key (on the UI's loop) must not walk it, nor every reading made at once."""
    import gc

    engine = demo_engine()
    recorded(engine, tmp_path / "rec", 3)

    def young() -> set[int]:
        return {id(item) for generation in (0, 1) for item in gc.get_objects(generation)}

    thresholds = gc.get_threshold()
    gc.set_threshold(0)  # no automatic pass: where the objects are is where the seek left them
    try:
        with Recording(tmp_path / "rec") as recording:
            moment = recording.at(max(recording.times()))
        after_seek = young()
        readings = [reading for _ref, _metric, reading in moment.store.readings()]
        after_reading = young()
    finally:
        gc.set_threshold(*thresholds)
    entities = list(moment.store.entities.values())
    assert entities and gc.is_tracked(entities[0]) and gc.is_tracked(readings[0])
    assert not after_seek.intersection(map(id, entities))
    assert not after_reading.intersection(map(id, readings))
    assert gc.isenabled() and gc.get_freeze_count() == 0  # none left frozen


def test_a_seek_reads_at_most_ten_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.recording import reader

    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec")  # the default keyframe interval
    recorder.attach(engine)
    record(engine, recorder, 25)
    recorder.close()
    read: list[int] = []
    real = reader.decompress
    monkeypatch.setattr(reader, "decompress", lambda blob: read.append(1) or real(blob))
    most = 0
    with Recording(tmp_path / "rec") as recording:
        times = recording.times()
    for when in times:
        with Recording(tmp_path / "rec") as recording:  # none kept from a seek before
            read.clear()
            assert recording.at(when).time == when
            most = max(most, len(read))
    assert most == 10  # a keyframe and the nine frames after it, at worst


def test_a_seek_reuses_what_the_last_one_read_and_shows_what_a_fresh_reader_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.recording import reader

    engine = demo_engine(onset=12.0)
    recorded(engine, tmp_path / "rec", 25, keyframe_every=10)
    with Recording(tmp_path / "rec") as recording:
        times = recording.times()
        keyframes = [when for when in times if recording.keyframe_at(when) == when]
    start = keyframes[1]
    steps = [start + 9, start, start + 5, start + 6, start + 4, start, keyframes[0] + 3, start + 6]
    fresh: dict[float, dict[str, Any]] = {}
    for when in set(steps):
        with Recording(tmp_path / "rec") as recording:
            fresh[when] = store_state(recording.at(when).store)
    read: list[int] = []
    decoded: list[int] = []
    real, real_entities = reader.decompress, reader.restored_entities
    monkeypatch.setattr(reader, "decompress", lambda blob: read.append(1) or real(blob))

    def counted(bodies: list[bytes]) -> Any:
        decoded.append(len(bodies))
        return real_entities(bodies)

    monkeypatch.setattr(reader, "restored_entities", counted)
    with Recording(tmp_path / "rec") as recording:
        for number, when in enumerate(steps):
            moment = recording.at(when)
            # Back to the keyframe after its frames were laid: its columns were copied.
            assert store_state(moment.store) == fresh[when], (number, when)
            if number == 0:
                assert len(read) == 10  # the keyframe and the nine frames after it
                fleet = decoded[0]
                node = moment.store.entities["node/node01"]
            if number == 4:  # stepping within the interval: no frame decompressed again
                assert len(read) == 10
        # Another interval's seek and back: its frames alone read; what no frame changed
        # is the same object again, not decoded again.
        assert len(read) == 10 + 4 + 7
        assert moment.store.entities["node/node01"] is node
        assert sum(decoded) < len(steps) * fleet / 2


def test_a_keyframes_like_is_made_only_past_it_and_once_for_its_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.recording import reader

    engine = demo_engine()
    _, live = recorded(engine, tmp_path / "rec", 25)
    made: list[int] = []
    real = reader._like
    monkeypatch.setattr(reader, "_like", lambda body, *known: made.append(1) or real(body, *known))
    with Recording(tmp_path / "rec") as recording:
        times = recording.times()
        keyframes = [when for when in times if recording.keyframe_at(when) == when]
        assert len(keyframes) >= 2
        recording.at(keyframes[0])
        assert made == []  # a seek to a keyframe inflates no frame after it
        inside = [when for when in times if keyframes[0] < when < keyframes[1]]
        for when in inside:  # a rewind stepping through one interval
            moment = recording.at(when)
            assert gpus_of(moment.store) == live[when]["gpus"]
        assert made == [1]
        moment = recording.at(keyframes[1] + 1)
        assert gpus_of(moment.store) == live[keyframes[1] + 1]["gpus"]
        assert made == [1, 1]  # another keyframe's own


def _batches(file: Path) -> list[tuple[int, list[list[Any]]]]:
    """Every frame's batch entries, with its keyframe flag, oldest first."""
    from console.recording.codec import decompress

    db = sqlite3.connect(database_file(file))
    rows = db.execute("SELECT keyframe, body FROM frames ORDER BY time").fetchall()
    db.close()
    return [(keyframe, decompress(body)["b"]) for keyframe, body in rows]


def recorded(
    engine: Engine, path: Path, cycles: int, keyframe_every: float = KEYFRAME_EVERY
) -> tuple[Recorder, dict[float, dict[str, Any]]]:
    """A recorder at ``path`` attached to ``engine``, ``cycles`` recorded (as
    :func:`record` gives them) and closed."""
    recorder = Recorder(path, keyframe_every=keyframe_every)
    recorder.attach(engine)
    live = record(engine, recorder, cycles)
    recorder.close()
    return recorder, live


def gpus_of(store: Store) -> Any:
    """The snapshot document's GPUs, as :func:`record` keeps the live ones (via JSON)."""
    return json.loads(json.dumps(snapshot_document(store, []), default=str))["gpus"]


def _flags(entry: list[Any]) -> int:
    return int(entry[6]) if len(entry) > 6 else 0


def test_values_between_keyframes_are_xored_against_the_keyframes_and_read_back(
    tmp_path: Path,
) -> None:
    engine = demo_engine()
    _, live = recorded(engine, tmp_path / "rec", 12, keyframe_every=5)
    frames = _batches(tmp_path / "rec")
    # A keyframe's batches are the references, plain; the frames after it XOR theirs.
    assert not any(_flags(e) & XORED for keyframe, batches in frames if keyframe for e in batches)
    xored = [e for keyframe, b in frames if not keyframe for e in b if _flags(e) & XORED]
    # (the first cycle's keys are not the next ones': the first keyframe is no reference)
    assert len(xored) == 14
    # ...which is what makes them smaller than the same values packed plain.
    second = [batches for keyframe, batches in frames if keyframe][1]
    reference = {e[2]: e[4] for e in second if isinstance(e[2], int)}
    keyframes = list(itertools.accumulate(keyframe for keyframe, _batches in frames))
    entry = next(
        e
        for (_key, batches), seen in zip(frames, keyframes, strict=True)
        if seen == 2
        for e in batches
        if _flags(e) & XORED and not _flags(e) & DECIMAL
    )
    values = unpack_floats(entry[4], unpack_floats(reference[entry[2]]).tobytes()).tolist()
    assert len(entry[4]) < len(pack_floats(values)) * 0.9
    with Recording(tmp_path / "rec") as recording:
        for when in sorted(live)[-7:]:  # a keyframe and the frames after it
            assert gpus_of(recording.at(when).store) == live[when]["gpus"]
        # Applied forward across a keyframe (the references change there) as rewind does.
        first = recording.at(min(live))
        for moment in recording.replay_from(first, max(live)):
            assert gpus_of(moment.store) == live[moment.time]["gpus"]


def test_a_schemas_values_are_written_grouped_by_metric_and_read_back(tmp_path: Path) -> None:
    options = DemoOptions(nodes=32)  # batches of thousands of keys, as at fleet size
    engine = build_engine(build_sources(Config(), REGISTRY, options, local=False), REGISTRY)
    _, live = recorded(engine, tmp_path / "rec", 8, keyframe_every=5)  # keyframes at 0 and 5
    frames = _batches(tmp_path / "rec")
    numbered = [e for _keyframe, batches in frames for e in batches if isinstance(e[2], int)]
    assert numbered and all(_flags(e) & GROUPED for e in numbered)
    xored = [e for e in numbered if _flags(e) & XORED and not _flags(e) & DECIMAL]
    with Recording(tmp_path / "rec") as recording:
        grouped = ungrouped = 0
        for entry in xored:
            names = recording._keys(entry[2])[1]
            grouped += len(entry[4])
            # The same XORed values in the schema's order (a node's metrics in turn) pack
            # larger (XOR is bytewise: reordering the XORed column is the same column).
            ungrouped += len(pack_floats(MetricOrder(names).ungroup(unpack_floats(entry[4]))))
        assert grouped < ungrouped * 0.95
        for when in sorted(live):
            assert gpus_of(recording.at(when).store) == live[when]["gpus"]


def test_short_decimals_are_written_as_integers_and_read_back_as_the_live_store(
    tmp_path: Path,
) -> None:
    options = DemoOptions(nodes=64)  # a batch of jobs' throughput with a schema
    engine = build_engine(build_sources(Config(), REGISTRY, options, local=False), REGISTRY)
    live = recorded_states(engine, tmp_path / "rec", 12, keyframe_every=5)
    frames = _batches(tmp_path / "rec")
    # A job's throughput (one decimal): in a keyframe as integers, in the frames after
    # it as their difference from the keyframe's.
    keyed = {(_flags(e) >> 4, bool(_flags(e) & XORED)) for keyframe, batches in frames
             for e in batches if _flags(e) & DECIMAL and keyframe}  # fmt: skip
    later = [e for keyframe, b in frames if not keyframe for e in b if _flags(e) & DECIMAL]
    assert keyed == {(1, False)} and later and all(_flags(e) & XORED for e in later)
    with Recording(tmp_path / "rec") as recording:
        for when, state in live.items():
            again = store_state(recording.at(when).store)
            for part in state:
                assert again[part] == state[part], (when, part)
        first = recording.at(min(live))  # and forward, as rewind plays
        for moment in recording.replay_from(first, max(live)):
            assert store_state(moment.store)["readings"] == live[moment.time]["readings"]


def test_short_decimals_pack_smaller_than_floats_and_back_bit_for_bit() -> None:
    import random

    rng = random.Random(7)
    keyframe = [round(rng.uniform(60, 700), 2) for _ in range(4000)]
    later = [round(v + rng.uniform(-8, 8), 2) for v in keyframe]
    assert decimal_digits(keyframe) == 2 and decimal_digits([1.0, 2.0]) == 0
    first = pack_decimals(keyframe, 2, float_bytes(keyframe))
    assert first is not None
    ints = first[1]
    packed = pack_decimals(later, 2, float_bytes(later), ints)
    assert packed is not None
    assert unpack_decimals(first[0]) == list(ints)  # (the recorder keeps them as an array)
    back = decimal_floats(unpack_decimals(packed[0], ints), 2)
    assert back.tobytes() == float_bytes(later)
    # As floats XORed against the keyframe's they take three times the bytes.
    assert len(packed[0]) * 3 < len(pack_floats(later, float_bytes(keyframe)))
    # Whatever the integers would not give back bit for bit is left to the floats.
    for odd in ([*later[:-1], -0.0], [*later[:-1], None], [*later[:-1], math.nan],
                [*later[:-1], 1.005], [*later[:-1], math.inf], [*later[:-1], 1e300]):  # fmt: skip
        assert pack_decimals(odd, 2, float_bytes(odd), ints) is None
    with pytest.raises(ValueError, match="damaged column"):
        unpack_decimals(packed[0], ints[:-1])


def test_a_column_of_decimals_that_is_not_one_now_is_xored_against_the_keyframes_floats() -> None:
    from console.recording.layout import SCHEMA_SQL
    from console.recording.reader import _column, _References
    from console.recording.recorder import _batch

    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA_SQL)
    refs, metrics = [f"gpu/n{i}/0" for i in range(40)], ["gpu.power"] * 40
    first = [round(100 + i * 1.37, 2) for i in range(40)]
    then = [*first[:-1], None]  # a GPU lost: not a decimal any more
    later = [round(v + 0.5, 2) for v in first]
    references: dict[int, bytes] = {}
    schemas: dict[Any, Any] = {}
    entries = [
        _batch("sim", 1.0, refs, metrics, values, [None] * 40, schemas, db, references, at == 0)[0]
        for at, values in enumerate([first, then, later])
    ]
    # Not tried again until the next keyframe: the column that failed once is floats.
    assert [_flags(e) & (DECIMAL | XORED) for e in entries] == [DECIMAL, XORED, XORED]
    keyframe = _References({"b": entries[:1]})
    for entry, values in zip(entries, [first, then, later], strict=True):
        flags = _flags(entry)
        against = None
        if flags & XORED:
            against = keyframe.ints(entry[2]) if flags & DECIMAL else keyframe.get(entry[2])
        column = _column(entry[4], against, None, flags)
        assert column.tobytes() == float_bytes(values)


def test_a_frames_entities_are_flagged_among_the_keyframes_and_the_others_named() -> None:
    from console.recording.codec import Known

    known = Known(["a", "b", "c", "d"], ["s", "s", "s", "s"])
    assert sorted(known.refs) == ["a", "b", "c", "d"]  # scattered, each once
    flags, others, bodies = marked(known, ["c", "a"], ["s", "s"], [b"C", b"A"])
    assert others == ([], [], []) and unmarked(known, flags) == (
        [r for r in known.refs if r in "ac"], ["s", "s"])  # fmt: skip
    assert bodies == [{"a": b"A", "c": b"C"}[r] for r in unmarked(known, flags)[0]]
    # One the keyframe has not, one from another source now, one twice: named.
    flags, others, bodies = marked(known, ["x", "b", "d", "d"], [None, "t", "s", "s"],  # type: ignore[list-item]
                                       [b"X", b"B", b"D", b"D2"])  # fmt: skip
    assert unmarked(known, flags) == (["d"], ["s"])
    assert others == (["x", "b", "d"], [None, "t", "s"], [b"X", b"B", b"D2"])
    assert bodies == [b"D", b"X", b"B", b"D2"]
    with pytest.raises(ValueError, match="damaged entities"):
        unmarked(Known(["a"], ["s"]), flags)


def test_between_keyframes_entities_are_patches_of_the_keyframes_and_read_back(
    tmp_path: Path,
) -> None:
    from console.recording import codec
    from console.recording.codec import Known, Like, decompress, deflate, encode

    engine = demo_engine()
    _, live = recorded(engine, tmp_path / "rec", 4, keyframe_every=1000)
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    keyframe, *later = [decompress(body) for (body,) in
                        db.execute("SELECT body FROM frames ORDER BY time")]  # fmt: skip
    db.close()
    like = Like(keyframe["B"])
    known = like.known = Known(*keyframe["r"])
    for frame in later:
        # The keyframe's entities flagged, not named again: only the others are.
        flags, other_refs, other_sources = frame["n"]
        refs, sources = unmarked(known, flags)
        assert refs and not other_refs and not other_sources
        assert "e" not in frame and "E" not in frame
        assert len(flags) < len(deflate(encode([refs, sources]))) / 2
        # Each body the bytes after those it shares with its keyframe's body.
        bases = [keyframe["B"][keyframe["r"][0].index(ref)] for ref in refs]
        kept, tails = codec.patches(frame["P"], len(bases))
        changed = codec.patched(bases, kept, tails)
        assert len(changed) == len(refs) == len(sources) > 0
        assert changed != bases and all(0 < n <= len(b) for n, b in zip(kept, bases, strict=True))
        # A fraction of what the bodies cost compressed on their own.
        assert len(frame["P"]) < len(deflate(b"".join(changed))) / 5
    with Recording(tmp_path / "rec") as recording:
        for when in sorted(live):
            moment = recording.at(when)
            again = json.loads(json.dumps(snapshot_document(moment.store, moment.statuses),
                                          default=str))  # fmt: skip
            assert again == {k: v for k, v in live[when].items() if k in again}
        first = recording.at(min(live))  # and forward, as rewind plays
        for moment in recording.replay_from(first, max(live)):
            assert gpus_of(moment.store) == live[moment.time]["gpus"]


def _history_as_points(series: Any) -> dict[str, dict[str, list[tuple[float, float | None]]]]:
    """A keyframe's job history as versions 2 to 4 wrote it: a map of points."""
    history: dict[str, dict[str, list[tuple[float, float | None]]]] = {}
    for ref, metric, times, values in series:
        points = [(t, None if v != v else v) for t, v in zip(times, values, strict=True)]
        history.setdefault(ref, {})[metric] = points
    return history


@pytest.mark.parametrize("version", ["2", "3", "4", "5", "6"])
def test_a_version_2_to_6_recording_still_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    from console.recording import recorder as recorder_module
    from console.recording.codec import (
        compress,
        decompress,
        deflate,
        encode,
        pack_history_columns,
    )
    from console.recording.reader import _References

    class NeverKept(dict[int, bytes]):
        def __setitem__(self, key: int, value: bytes) -> None:
            pass  # no reference: every column plain, as version 2 wrote them

    real = recorder_module._schema
    # Values in the schema's order, as versions 2 and 3 wrote them.
    monkeypatch.setattr(recorder_module, "_schema", lambda *args: (*real(*args)[:2], None))
    # A frame's entities as a list an entity, as versions 2 to 4 wrote them.
    real_parts = recorder_module._entity_parts

    def entity_lists(cycle: Any, like: Any) -> dict[str, Any]:
        parts = real_parts(cycle, like)
        refs, sources = cycle.entities[:2]
        parts.pop("r", None)
        if parts.pop("n", None) is not None:  # named, as before version 7
            parts["E"] = deflate_like(like[0], encode(cycle.entities[2]))
        if "B" in parts:
            return {"e": [list(entity) for entity in zip(refs, sources, parts["B"], strict=True)]}
        return {"e": [list(entity) for entity in zip(refs, sources, strict=True)], **parts}

    monkeypatch.setattr(recorder_module, "_entity_parts", entity_lists)
    # A schema as its two lists, as versions 2 to 5 wrote it.
    monkeypatch.setattr(recorder_module, "compress_keys",
                        lambda refs, metrics: deflate(encode([refs, metrics])))  # fmt: skip
    monkeypatch.setattr(recorder_module, "decimal_digits", lambda values: 0)  # floats all
    engine = demo_engine(onset=3.0)
    recorder = Recorder(tmp_path / "rec", keyframe_every=5)
    if version == "2":
        recorder._references = NeverKept()
    recorder.attach(engine)
    live = record(engine, recorder, 7)
    recorder.close()
    flags = {_flags(e) for _keyframe, batches in _batches(tmp_path / "rec") for e in batches}
    assert flags == ({0} if version == "2" else {0, XORED})
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    with Recording(tmp_path / "rec") as reading:  # a keyframe's values plain, as then
        for when, blob in db.execute("SELECT time, body FROM frames WHERE keyframe=1"):
            body = decompress(blob)
            schema, times, _values, rates, _xored = body["k"]
            plain = reading._keyframe_values(body, schema, reading._keys(schema),
                                             _References(body))  # fmt: skip
            body["k"] = [schema, times, pack_floats(plain.tolist()), rates]
            # Its job history in its frame, as before version 7: a map of points before
            # version 5.
            series = [(*key, *points) for key, points in reading._history(when, body).items()]
            as_then = _history_as_points if version in ("2", "3", "4") else pack_history_columns
            body["h"] = as_then(series)
            db.execute("UPDATE frames SET body=? WHERE time=?", (compress(body), when))
    db.execute("DELETE FROM history")
    db.execute("UPDATE meta SET value=? WHERE key='format'", (version,))
    db.commit()
    db.close()
    with Recording(tmp_path / "rec") as recording:
        last = max(live)
        moment = recording.at(last)
        assert gpus_of(moment.store) == live[last]["gpus"]
        timed = store_state(moment.store)["timed"]  # the job history, the keyframe's first
        assert timed == store_state(engine.store)["timed"] and timed


@pytest.mark.parametrize(
    "text",
    [
        "history:\n  keep: " + "9" * 100_000 + "x\n",
        "history:\n  " + "k" * 100_000 + ": 1\n",
        "actions:\n  audit_log: [" + "1, " * 30_000 + "1]\n",
    ],
    ids=["keep", "key", "audit_log"],
)
def test_a_huge_value_in_history_or_actions_is_shortened_in_the_error(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", {})
    assert str(caught.value).startswith("c.yaml:2: ") and len(str(caught.value)) < 300


def test_a_seeks_schema_layouts_stay_kept_for_a_fleet_of_hundreds_of_schemas() -> None:
    from console.recording import reader

    # 4,000 nodes send ~200 batches of up to 5,000 keys: a seek meets each schema once, and
    # the next seek finds each layout made (not all made again after a clear).
    schemas = [([f"gpu/n{s}/{i}" for i in range(300)], ["gpu.util"] * 300) for s in range(240)]
    made = (reader._marks, reader._pairs, reader._refs)
    first = [[make(keys) for make in made] for keys in schemas]
    again = [[make(keys) for make in made] for keys in schemas]
    assert all(a is b for x, y in zip(first, again, strict=True) for a, b in zip(x, y, strict=True))


def test_a_seek_makes_no_pairs_for_a_batch_laid_as_one_slice(tmp_path: Path) -> None:
    # A batch whose keys follow one another among its keyframe's (every batch a source
    # sends) is laid as a slice: its keys as pairs (227,000 at 1,000 nodes, all the
    # batches') were made at a session's first seek for nothing.
    from console.recording import reader

    _, live = recorded(demo_engine(onset=3.0), tmp_path / "rec", 4, keyframe_every=5)
    reader._pairs_kept.clear()
    with Recording(tmp_path / "rec") as recording:
        moment = recording.at(max(live))
        assert gpus_of(moment.store) == live[max(live)]["gpus"]
        big = [keys for keys in recording._schemas.values() if len(keys[0]) >= 256]
    kept = {id(refs) for refs, _pairs in reader._pairs_kept.values()}
    assert len(big) > 2 and len(kept) == 1  # the keyframe's alone


def test_lazy_readings_give_readings_every_way_a_dict_is_read() -> None:
    from array import array

    from console.core.store import Reading
    from console.recording.readings import LazyReadings

    def fresh() -> LazyReadings:
        readings = LazyReadings()
        keys = [("gpu/a/0", "gpu.util"), ("gpu/a/0", "gpu.power"), ("gpu/a/1", "gpu.util")]
        nan = float("nan")
        readings.start({key: i for i, key in enumerate(keys)}, array("d", [1.0, 1.0, 1.0]),
                       array("d", [5.0, nan, 7.0]), array("d", [nan] * 3))  # fmt: skip
        # A newer batch over the last two keys (one after another: copied in one go),
        # and one over a key the keyframe had not.
        readings.lay(keys[1:], array("d", [2.0, 2.0]), array("d", [9.0, 8.0]),
                     array("d", [float("nan"), 0.5]), run=1)  # fmt: skip
        readings.lay([("gpu/b/0", "gpu.util")], array("d", [3.0]), array("d", [4.0]),
                     array("d", [float("nan")]))  # fmt: skip
        return readings

    expected = {
        ("gpu/a/0", "gpu.util"): Reading(1.0, 5.0, None),
        ("gpu/a/0", "gpu.power"): Reading(2.0, 9.0, None),
        ("gpu/a/1", "gpu.util"): Reading(2.0, 8.0, 0.5),
        ("gpu/b/0", "gpu.util"): Reading(3.0, 4.0, None),
    }
    assert fresh().latest(("gpu/a/0", "gpu.power")) == (2.0, 9.0)
    assert dict(fresh()) == expected and {**fresh()} == expected
    assert dict(fresh().items()) == expected and list(fresh().values()) == list(expected.values())
    assert fresh() == expected and fresh().copy() == expected
    assert fresh().get(("gpu/a/1", "gpu.util")) == expected[("gpu/a/1", "gpu.util")]
    assert fresh().get(("gpu/x", "gpu.util"), 1) == 1
    assert fresh().pop(("gpu/b/0", "gpu.util")) == expected[("gpu/b/0", "gpu.util")]
    readings = fresh()
    assert readings[("gpu/a/0", "gpu.util")] is readings[("gpu/a/0", "gpu.util")]  # made once
    with pytest.raises(ValueError, match="damaged column"):  # never a shortened column
        readings.lay([("gpu/a/0", "gpu.util")], array("d"), array("d"), array("d"), run=0)
    readings.drop_refs({"gpu/a/0"})
    assert list(readings) == [("gpu/a/1", "gpu.util"), ("gpu/b/0", "gpu.util")]


def test_restore_fleet_sums_the_values_it_is_handed_as_the_readings_it_is_given() -> None:
    """A seek hands the store its summed readings' values from the columns (NaN for
    none); the totals are those of the readings themselves, the same keys again too."""
    gpus = [f"gpu/n{n}/{i}" for n in range(3) for i in range(3)]
    entities = [Entity(f"node/n{n}", f"n{n}") for n in range(3)]
    entities += [Entity(ref, ref, parent=f"node/{ref.split('/')[1]}") for ref in gpus]
    entities.append(Entity("pdu/a", "a"))  # a summed reading not a GPU's: the fleet's alone
    sources = ["s"] * len(entities)
    values = [None, 100.0, 250.5, math.nan, 300.0, 1e-7, math.inf, 7.25, -2.0]
    keys = [(gpu, metric) for gpu in gpus for metric in ("gpu.power", "gpu.energy_total")]
    keys += [("pdu/a", "gpu.power"), ("gpu/n0/0", "gpu.temp")]
    column = [*(v for v in values for _ in range(2)), 40.0, 60.0]
    summed = SummedKeys(key for key in keys if key[1] in SUMMED_METRICS)

    def readings(scaled: list[float | None]) -> dict[tuple[str, str], Reading]:
        return {key: Reading(5.0, None if v is None or v != v else v)
                for key, v in zip(keys, scaled, strict=True)}  # fmt: skip

    def totals(store: Store) -> dict[tuple[str | None, str], float | None]:
        return {(node, metric): store.gpu_total(node, metric)
                for node in (None, "node/n0", "node/n1", "node/n2", "pdu/a")
                for metric in ("gpu.power", "gpu.energy_total", "gpu.temp")}  # fmt: skip

    for scale in (1.0, 2.0):  # the same keys again: grouped once, summed afresh
        scaled = [None if v is None else v * scale for v in column]
        made = Store()
        made.restore_fleet(entities, sources, 7.0, readings(scaled))
        handed = [math.nan if v is None else v for key, v in zip(keys, scaled, strict=True)
                  if key[1] in SUMMED_METRICS]  # fmt: skip
        bulk = Store()
        bulk.restore_fleet(entities, sources, 7.0, readings(scaled), (summed, handed))
        assert totals(bulk) == totals(made)
        power = 100 + 250.5 + 300 + 1e-7 + 7.25 - 2 + 40  # None, NaN and inf count 0
        assert bulk.gpu_total(None, "gpu.power") == pytest.approx(scale * power)
        assert bulk.gpu_total("node/n2", "gpu.energy_total") == pytest.approx(scale * 5.25)
    with pytest.raises(ValueError, match="one value a key"):
        Store().restore_fleet(entities, sources, 7.0, readings(column), (summed, handed[1:]))


def test_an_entity_gone_since_the_keyframe_takes_its_series_with_it(tmp_path: Path) -> None:
    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=1000)
    recorder.attach(engine)
    record(engine, recorder, 3)
    store = engine.store
    gone = ["gpu/node01/0", "port/node01/mlx5_0:1"]
    assert all(ref in store.entities for ref in gone)
    store.remove(gone)  # expired between two cycles: the frame after says so
    recorder.on_cycle(store.take_changes())
    recorder.flush()
    live = store_state(store)
    recorder.close()
    with Recording(tmp_path / "rec") as recording:
        assert recording.keyframe_at(recording.times()[-1]) == recording.times()[0]
        again = store_state(recording.at(recording.times()[-1]).store)
    assert not [key for key in again["readings"] if key[0] in gone]
    for part in live:
        assert again[part] == live[part], part


def test_an_entity_read_from_another_source_and_back_reads_back_at_each_second(
    tmp_path: Path,
) -> None:
    """A frame flags the entities that come from their keyframe source and names the
    others: a seek takes the keyframe's sources as they are until a frame names one,
    and from then on each frame's, back to the keyframe's when one flags it again."""
    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=1000)
    recorder.attach(engine)
    record(engine, recorder, 2)
    store, ref = engine.store, "node/node01"
    first = store.entity_source[ref]
    live: dict[float, dict[str, Any]] = {}
    for step, source in enumerate(["elsewhere", first, first, "elsewhere"]):
        entity = store.entities[ref]
        attrs = {**entity.attrs, "step": step}
        store.restore_entity(Entity(ref, entity.name, entity.parent, attrs), source, 0.0)
        recorder.on_cycle(store.take_changes())
        recorder.flush()
        with Recording(tmp_path / "rec") as recording:
            live[recording.times()[-1]] = store_state(store)
    recorder.close()
    assert [state["sources"][ref] for state in live.values()] == [
        "elsewhere", first, first, "elsewhere"]  # fmt: skip
    with Recording(tmp_path / "rec") as recording:
        assert len({recording.keyframe_at(when) for when in live}) == 1
        for when, state in [*live.items(), *reversed(live.items())]:
            again = store_state(recording.at(when).store)
            assert again["sources"] == state["sources"], when
            assert again["entities"] == state["entities"], when


@pytest.mark.parametrize(
    "metrics",
    [
        ["gpu.util", "gpu.power", "gpu.temp"] * 40,  # a grid: strided slices
        ["gpu.util"] * 7,
        ["b", "a", "b"] * 3,  # a metric twice an entity: not a grid
        ["z", "y"] * 4 + ["z"],  # an entity short
        ["a", "b", "a", "c"],
        [],
    ],
)
def test_a_metric_order_is_the_stable_sort_by_metric_and_back(metrics: list[str]) -> None:
    order = MetricOrder(metrics)
    values: list[float | None] = [float(i) if i % 5 else None for i in range(len(metrics))]
    by_metric = sorted(range(len(metrics)), key=metrics.__getitem__)
    grouped = list(order.group(values))
    assert grouped == [values[i] for i in by_metric]
    column = array("d", [math.nan if v is None else v for v in grouped])
    back = order.ungroup(column).tolist()
    assert [None if v != v else v for v in back] == values
    with pytest.raises(ValueError, match="not as long"):
        order.ungroup(array("d", [*column, 1.0]))


def test_a_keyframes_job_history_is_two_float_columns(tmp_path: Path) -> None:
    from console.recording.codec import decode, inflate, join_history, unpack_history

    engine = demo_engine(onset=3.0)
    recorder = Recorder(tmp_path / "rec", keyframe_every=5)
    recorder.attach(engine)
    record(engine, recorder, 6)
    timed = [(ref, metric) for ref, metric, _reading in engine.store.readings()
             if metric in TIMED_METRICS]  # fmt: skip
    history = {key: engine.store.timed_history(*key) for key in timed}
    recorder.close()
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    (first, base), (last, later) = db.execute(
        "SELECT time, body FROM history ORDER BY time"
    ).fetchall()  # the keyframes' (0 and 5), none in their frames
    assert db.execute("SELECT base FROM history ORDER BY time").fetchall() == [(first,), (first,)]
    db.close()
    packed = decode(inflate(base))
    refs, metrics, counts, times, values = packed  # not a list a point
    assert isinstance(times, bytes) and isinstance(values, bytes) and sum(counts) > 20
    # The second adds to the first's what came since: not its points again.
    added = decode(inflate(later))
    assert sum(added[2]) < sum(counts) / 4 and min(added[5]) >= 0
    with Recording(tmp_path / "rec") as recording:
        read = recording._history(last, {})
    assert set(read) == {key for key, points in history.items() if points}
    for key, (at, value) in read.items():  # the keyframe's: the live points up to it
        assert isinstance(at, array) and isinstance(value, array)  # no object a point
        live = history[key][: len(at)]
        assert [(t, None if v != v else v) for t, v in zip(at, value, strict=True)] == live
        assert at[-1] == last
    with pytest.raises(ValueError, match="damaged history"):
        unpack_history([refs, metrics, [*counts[:-1], counts[-1] + 1], times, values])
    with pytest.raises(ValueError, match="damaged history"):
        join_history({}, added)  # its base's points gone


def test_a_keyframes_values_are_xored_against_its_batches_and_read_back(tmp_path: Path) -> None:
    from console.recording.codec import decompress

    engine = demo_engine()
    live = recorded_states(engine, tmp_path / "rec", 7, keyframe_every=3)  # keyframes at 0, 3 and 6
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    rows = db.execute("SELECT time, body FROM frames WHERE keyframe=1").fetchall()
    db.close()
    assert len(rows) == 3
    with Recording(tmp_path / "rec") as recording:
        for when, blob in rows:
            body = decompress(blob)
            _schema, _times, values, _rates, flags = body["k"]
            assert flags == XORED
            readings = live[when]["readings"]
            plain = pack_floats([value for _time, value, _rate in readings.values()])
            assert len(values) < len(plain) / 4  # most are their batch's value: zero bytes
            assert store_state(recording.at(when).store) == live[when]
        last = max(live)
        hour = recording.at(last)
        recording.hour_history(hour, seconds=10, points=5)  # from keyframes' values too
        key = next(key for key in live[last]["readings"] if key[1] == "gpu.util")
        before = [when for when, _blob in rows if when < last]
        expected = [live[when]["readings"][key][1] for when in [*before, last]]
        assert hour.store.history(*key) == expected and len(expected) == 3


def test_a_rewind_past_the_warm_up_size_seeks_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fleet past ``WARM_ENTITIES`` is shown at the second asked for with one seek (it
    took two: the warm-up's start, to learn the fleet's size, then the second); a
    smaller one is still warmed up, its job series filled as they were live."""
    from console.ui import rewind

    engine = demo_engine(onset=3.0)
    recorder = Recorder(tmp_path / "rec", keyframe_every=5)
    recorder.attach(engine)
    live = record(engine, recorder, 8)
    recorder.close()
    seeks: list[float] = []
    real_at = Recording.at

    def counted(self: Recording, when: float, history: int = 120) -> Any:
        seeks.append(when)
        return real_at(self, when, history)

    monkeypatch.setattr(Recording, "at", counted)
    reader = rewind.RewindReader(tmp_path / "rec")
    last = max(live)
    monkeypatch.setattr(rewind, "WARM_ENTITIES", 0)  # every fleet past it
    for hour in (False, True):
        seeks.clear()
        moment = reader.load(last, hour)
        assert seeks == [last] and moment.time == last
        assert gpus_of(moment.store) == live[last]["gpus"]
    monkeypatch.setattr(rewind, "WARM_ENTITIES", 10_000)  # warmed up from the first second
    seeks.clear()
    moment = reader.load(last)
    assert seeks == [last, min(live)] and moment.time == last
    assert store_state(moment.store)["timed"] == store_state(engine.store)["timed"]
    reader.close()


def test_replay_after_a_seek_makes_no_second_like_of_its_keyframe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewind seeks, then plays forward: the keyframe's entity bodies as a Zstandard
    dictionary (4 MB at 1,000 nodes) are made once for both, and a keyframe replay
    passes is made into one only when a frame after it needs it."""
    from console.recording import reader as reader_module

    _, live = recorded(demo_engine(onset=3.0), tmp_path / "rec", 12, keyframe_every=5)
    made: list[int] = []
    real_like = reader_module._like

    def counted(keyframe: dict[str, Any], *known: Any) -> Any:
        made.append(1)
        return real_like(keyframe, *known)

    monkeypatch.setattr(reader_module, "_like", counted)
    times = sorted(live)
    with Recording(tmp_path / "rec") as recording:
        keyframes = [t for t in times if recording.keyframe_at(t) == t]
        first = recording.at(keyframes[0] + 1)
        assert made == [1]
        moments = list(recording.replay_from(first, keyframes[1]))
        assert made == [1]  # the seek's, kept; the next keyframe's not needed yet
        assert gpus_of(moments[-1].store) == live[keyframes[1]]["gpus"]
        moments = list(recording.replay_from(moments[-1], keyframes[1] + 2))
        assert made == [1, 1] and gpus_of(moments[-1].store) == live[keyframes[1] + 2]["gpus"]


@pytest.mark.parametrize("later", [2.0, 0.0], ids=["later", "same-second"])
def test_a_batch_of_counters_gets_the_rates_a_counter_at_a_time_would(later: float) -> None:
    """A batch whose keys are all counters, one time a batch, takes its rates in one
    pass; they are those of the key-by-key way (a mixed batch's): a counter that went
    back (a reset), one not available on either side, or no time between: no rate."""
    from console.recording.points import TimedPoints
    from console.recording.reader import _apply, _Batch
    from console.recording.readings import LazyReadings

    before = [10.0, 10.0, None, 5.0, 7.0]
    after = [14.0, 9.0, 3.0, None, 7.0]
    rates: dict[str, list[float | None]] = {}
    for name, metrics in (("counters", ["gpu.energy"] * 5),
                          ("mixed", ["gpu.energy"] * 4 + ["gpu.power"])):  # fmt: skip
        keys = ([f"gpu/n1/{i}" for i in range(5)], metrics)
        readings = LazyReadings()
        readings.start({}, array("d"), array("d"), array("d"))
        older = _Batch("sim", 0.0, 100.0, keys, None, pack_floats(before), 1)
        newer = _Batch("sim", 0.0, 100.0 + later, keys, None, pack_floats(after), 1)
        _apply(readings, TimedPoints({}), newer, older)
        got = [readings[(ref, metric)] for ref, metric in zip(*keys, strict=True)]
        assert [reading.value for reading in got] == after
        rates[name] = [reading.rate for reading in got][:4]
    assert rates["counters"] == rates["mixed"]
    assert rates["counters"] == ([2.0, None, None, None] if later else [None] * 4)


def test_a_keyframes_batches_are_laid_among_its_readings_by_one_function() -> None:
    """What a keyframe's readings are XORed against, as the recorder writes it and the
    reader reads it (one function): a batch whose keys follow one another among the
    readings as one slice, any other key by key, a key no batch has as 0."""
    from console.recording.codec import keyframe_against, place_among

    keys = [(f"gpu/n1/{i}", metric) for i in range(3) for metric in ("gpu.power", "gpu.temp")]
    index = {key: place for place, key in enumerate(keys)}
    run = [list(column) for column in zip(*keys[2:5], strict=True)]
    scattered = [list(column) for column in zip(keys[5], ("gpu/gone/0", "gpu.power"), keys[0],
                                                strict=True)]  # fmt: skip
    past_the_end = [list(column) for column in zip(*keys[4:], keys[0], strict=True)]
    assert place_among(keys, index, *run) == 2
    assert place_among(keys, index, *scattered) == [5, None, 0]
    assert place_among(keys, index, *past_the_end) == [4, 5, 0]
    assert place_among(keys, index, [], []) == []
    split = ([ref for ref, _m in keys], [metric for _r, metric in keys])  # as the reader has
    for batch in (run, scattered, past_the_end, [[], []]):
        assert place_among(keys, index, *batch, split=split) == place_among(keys, index, *batch)
    laid = [(array("d", [1.0, 2.0, 3.0]), place_among(keys, index, *run)),
            (array("d", [6.0, 9.0, 7.0]), place_among(keys, index, *scattered))]  # fmt: skip
    assert array("d", keyframe_against(len(keys), laid)).tolist() == [7.0, 0, 1, 2, 3, 6]
    with pytest.raises(ValueError, match="past its keyframe"):
        keyframe_against(len(keys), [(array("d", [1.0, 2.0]), 5)])


def test_a_grid_metric_order_makes_no_gather() -> None:
    # A grid is moved by strided slices: its two itemgetters (the index of every key,
    # twice) were made for nothing, ~20 ms of a session's first seek at 1,000 nodes.
    order = MetricOrder(["gpu.util", "gpu.power", "gpu.temp"] * 40)
    order.ungroup(array("d", [float(i) for i in range(120)]))
    order.group([float(i) for i in range(120)])
    assert order._ways is None
    other = MetricOrder(["b", "a", "b"] * 3)
    other.ungroup(array("d", [float(i) for i in range(9)]))
    assert other._ways is not None


def test_a_schemas_keys_round_trip_as_runs_of_entities() -> None:
    from console.recording.codec import decode, encode, pack_keys, unpack_keys

    cases = [
        ([], []),
        (["gpu/a/0"] * 3 + ["gpu/a/1"] * 3, ["util", "power", "temp"] * 2),  # one run
        (["n/a", "n/a", "n/b", "n/a"], ["x", "y", "x", "z"]),  # patterns differ; a ref again
        (["j/1", "j/2", "j/3"], ["stall", "stall", "stall"]),
    ]
    for refs, metrics in cases:
        packed = decode(encode(pack_keys(refs, metrics)))
        assert unpack_keys(packed) == (refs, metrics)
    assert len(pack_keys(*cases[1])["r"]) == 1
    assert unpack_keys([["a"], ["m"]]) == (["a"], ["m"])  # before version 6: two lists
    bomb = {"p": [["m"] * 20_000], "r": [[["r"] * 20_000, 0]] * 50}  # 2e10 keys claimed
    damaged = ([["a"], []], {"p": [["m"]], "r": [[["a"], 3]]}, {"p": [["m"]], "r": [["ab", 0]]},
               {"p": [["m"]], "r": [[["a"], -1]]}, [1, 2], "keys", bomb)  # fmt: skip
    for body in damaged:
        with pytest.raises(ValueError, match="damaged schema"):
            unpack_keys(decode(encode(body)))


def test_a_seeks_schema_strings_are_one_object_each(tmp_path: Path) -> None:
    # Written as runs (format 6), a schema's keys come back with each ref and metric
    # one string however often it recurs: a session's first seek at 1,000 nodes made
    # 900,000 strings (63 MB, 30,000 fresh pages) for ~2,000 distinct ones.
    _, live = recorded(demo_engine(onset=3.0), tmp_path / "rec", 3, keyframe_every=5)
    with Recording(tmp_path / "rec") as recording:
        recording.at(max(live))
        keys = max(recording._schemas.values(), key=lambda keys: len(keys[0]))
    refs, metrics = keys
    assert len(refs) > 1000
    assert len({id(metric) for metric in metrics}) == len(set(metrics))
    alike = [(ref, after) for ref, after in itertools.pairwise(refs) if ref == after]
    assert len(alike) > 500  # an entity's series one after another: its ref one string
    assert all(ref is after for ref, after in alike)


def test_a_history_packed_from_columns_is_the_one_packed_from_points() -> None:
    from console.recording.codec import pack_history, pack_history_columns

    history = {"job/1": {"job.throughput": [(1.0, 2.0), (2.0, None)], "job.gpu_util": []},
               "job/2": {"job.throughput": [(1.5, 0.25)]}}  # fmt: skip
    series = [(ref, metric, array("d", [t for t, _v in points]),
               array("d", [math.nan if v is None else v for _t, v in points]))
              for ref, per_metric in history.items()
              for metric, points in per_metric.items()]  # fmt: skip
    assert pack_history_columns(series) == pack_history(history)


def test_a_column_xored_against_a_kept_reference_is_the_one_xored_against_bytes() -> None:
    """A keyframe's column is XORed against by the frames up to the next: its pieces'
    integers made once, for the same bytes as a plain XOR, piece case by piece case."""
    from console.recording.codec import Against, _xor

    per_piece = XOR_PIECE // 8
    count = 4 * per_piece + 5  # a short last piece
    keyframe = [float(i) + 0.25 for i in range(count)]
    keyframe[per_piece : 2 * per_piece] = [0.0] * per_piece  # zeros on the keyframe's side
    values = list(keyframe)  # the first piece: the keyframe's values again
    values[per_piece + 3] = 7.5  # a piece the keyframe had as zeros
    values[2 * per_piece : 3 * per_piece] = [0.0] * per_piece  # zeros on this side
    values[3 * per_piece :] = [v * 1.001 for v in keyframe[3 * per_piece :]]  # changed
    against = Against(float_bytes(keyframe))
    raw = float_bytes(values)
    assert against.xor(raw) == _xor(raw, bytes(against))
    pieces = against._pieces
    assert against.xor(float_bytes(keyframe)) == bytes(len(raw))  # the same again: zeros
    assert against._pieces is pieces  # made once
    assert pack_floats(values, against) == pack_floats(values, bytes(against))
    with pytest.raises(ValueError, match="not as long"):
        against.xor(raw[:-8])


def test_a_float_column_of_none_some_none_or_no_number() -> None:
    nan = struct.pack("d", math.nan)
    assert float_bytes([None] * 3) == nan * 3
    assert float_bytes((1.0, None)) == struct.pack("d", 1.0) + nan
    assert float_bytes([]) == b""
    for column in (["x"], [None, "x"], [1.0, "x"]):
        with pytest.raises(TypeError):
            float_bytes(column)  # type: ignore[arg-type]


def test_a_source_that_changes_its_own_keys_list_gets_a_new_schema(tmp_path: Path) -> None:
    """A one-column batch is framed from the source's own lists: the key set kept to
    compare the next batch with is a copy, so a list the source changes in place is
    new keys, not the same."""
    from console.core.model import Batch, Column
    from console.recording.layout import SCHEMA_SQL
    from console.recording.recorder import _batch, _batch_readings

    column = Column("gpu.util", [f"gpu/n/{i}" for i in range(300)], [1.0] * 300)
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA_SQL)
    schemas: dict[Any, Any] = {}

    def schema_of(batch: Batch) -> int | None:
        return _batch("sim", 1.0, *_batch_readings(batch), schemas, db, {}, True)[1]

    first = schema_of(Batch(columns=[column]))
    assert schema_of(Batch(columns=[column])) == first
    column.refs[150] = "gpu/other/0"  # the same list, another entity in it
    assert schema_of(Batch(columns=[column])) not in (None, first)
    # A plugin's column of a tuple of refs: the same keys each cycle, one schema.
    frozen = Column("gpu.temp", tuple(f"gpu/n/{i}" for i in range(300)), [1.0] * 300)  # type: ignore[arg-type]
    assert schema_of(Batch(columns=[frozen])) == schema_of(Batch(columns=[frozen])) is not None


def test_a_keyframe_with_the_last_ones_keys_reuses_its_schema_and_new_keys_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyframe whose readings' keys are the last keyframe's (a fleet's, keyframe after
    keyframe) is not split and looked up again; one with a new series gets a schema
    with it, and its job history that series' points."""
    from console.core.model import Batch, Sample
    from console.recording import recorder as recorder_module
    from console.recording.codec import decompress
    from console.recording.recorder import KEYFRAME_SCHEMA

    engine = demo_engine()
    recorder = Recorder(tmp_path / "rec", keyframe_every=2)
    recorder.attach(engine)
    looked_up: list[str] = []
    real = recorder_module._schema

    def schema(source: str, *rest: Any) -> Any:
        looked_up.append(source)
        return real(source, *rest)

    monkeypatch.setattr(recorder_module, "_schema", schema)
    record(engine, recorder, 5)  # keyframes at 0, 2 and 4, with the same keys
    assert looked_up.count(KEYFRAME_SCHEMA) == 1
    when = (engine.store.time or 0.0) + 0.5
    new = Batch(entities=[Entity("job/9999", "9999")], time=when,
                samples=[Sample("job/9999", "job.throughput", 42.0, when)])  # fmt: skip
    engine.store.apply(new, "test", received=when)
    record(engine, recorder, 2)  # a delta, then a keyframe with the new series
    recorder.close()
    assert looked_up.count(KEYFRAME_SCHEMA) == 2
    db = sqlite3.connect(database_file(tmp_path / "rec"))
    last, blob = db.execute(
        "SELECT time, body FROM frames WHERE keyframe=1 ORDER BY time DESC"
    ).fetchone()
    db.close()
    with Recording(tmp_path / "rec") as recording:
        history = recording._history(last, decompress(blob))
        times, values = history[("job/9999", "job.throughput")]
        assert list(times) == [when] and list(values) == [42.0]
        moment = recording.at(last)
        assert moment.store.value("job/9999", "job.throughput") == 42.0
        assert store_state(moment.store) == store_state(engine.store)


def test_a_prepared_recordings_first_seek_makes_no_schema_nor_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prepare`` makes ahead what a session's first seek makes (schemas' keys, the
    keyframe schema's index: most of its 300-430 ms at 1,000 nodes), so a first seek
    after it under the newest keyframe's keys makes none and shows the same fleet as a
    cold one."""
    from console.recording import reader as reader_module

    Recorder(tmp_path / "empty").close()
    with Recording(tmp_path / "empty") as recording:
        assert recording.prepare() is False  # nothing recorded yet
    _, live = recorded(demo_engine(onset=3.0), tmp_path / "rec", 12, keyframe_every=5)
    with Recording(tmp_path / "rec") as recording:
        when = recording.keyframe_at(max(live))  # not the second prepare seeks
        assert when < max(live)
        cold = store_state(recording.at(when).store)
    unpacked: list[int] = []
    indexed: list[int] = []
    real_unpack, real_index = reader_module.unpack_keys, Recording._index

    def unpack_counted(body: Any) -> Any:
        unpacked.append(1)
        return real_unpack(body)

    def index_counted(self: Recording, schema: Any, keys: Any) -> Any:
        if self._last_index is None or self._last_index[0] != schema:
            indexed.append(1)
        return real_index(self, schema, keys)

    monkeypatch.setattr(reader_module, "unpack_keys", unpack_counted)
    monkeypatch.setattr(Recording, "_index", index_counted)
    with Recording(tmp_path / "rec") as recording:
        assert recording.prepare() is True
        assert unpacked and indexed
        unpacked.clear(), indexed.clear()
        moment = recording.at(when)
        assert (unpacked, indexed) == ([], [])
        assert store_state(moment.store) == cold
        assert gpus_of(moment.store) == live[when]["gpus"]


def test_the_rewinds_reader_prepares_once_the_recording_is_long_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rewind's reader prepares its recording (``Recording.prepare``) once it spans
    ``PREPARE_AFTER`` seconds, once; after a seek there is nothing left to prepare."""
    from console.ui import rewind

    _, live = recorded(demo_engine(onset=3.0), tmp_path / "rec", 8, keyframe_every=5)
    prepared: list[int] = []
    real_prepare = Recording.prepare

    def counted(self: Recording) -> bool:
        prepared.append(1)
        return real_prepare(self)

    monkeypatch.setattr(Recording, "prepare", counted)
    span = max(live) - min(live)
    monkeypatch.setattr(rewind, "PREPARE_AFTER", span + 1)
    nothing = rewind.RewindReader(tmp_path / "none")  # its collector has not made it yet
    assert nothing.prepare(0.0) is False and not (tmp_path / "none").exists()
    reader = rewind.RewindReader(tmp_path / "rec")
    since = min(live)
    assert reader.prepare(since) is False and prepared == []  # too short yet
    monkeypatch.setattr(rewind, "PREPARE_AFTER", span)
    # A recording kept from earlier sessions counts from this one's first data on.
    assert reader.prepare(since + 1) is False and prepared == []
    assert reader.prepare(since) is True and reader.prepare(since) is True and prepared == [1]
    reader.close()
    seeked = rewind.RewindReader(tmp_path / "rec")
    seeked.load(max(live))
    assert seeked.prepare(max(live)) is True and prepared == [1]  # the seek made it all
    seeked.close()


def test_the_cycle_before_the_first_analysis_rewinds_as_findings_pending(tmp_path: Path) -> None:
    """The collector's first cycle goes out before its first analysis (the engine's
    ``before_first_analysis``): rewound to it, no findings is no verdict, as live."""
    engine = demo_engine(onset=0.0)
    recorder = Recorder(tmp_path / "rec")
    recorder.attach(engine)

    async def run() -> None:
        await engine.collect(1)  # a first cycle, analysed
        recorder.flush()
        # What Engine._run_analysis does with the first fleet: out before analysis.
        await asyncio.gather(*(engine._poll(state) for state in engine._states))
        engine.analysed = False
        engine.end_cycle()
        recorder.flush()
        engine.analyse()
        recorder.flush()
        await engine.stop()

    asyncio.run(run())
    recorder.close()
    with Recording(tmp_path / "rec") as recording:
        first, pending, analysed = recording.times()
        assert not recording.at(first).store.findings_pending
        before = recording.at(pending).store
        assert before.findings_pending
        after = recording.at(analysed).store
        assert not after.findings_pending and after.findings
        replayed = [
            m.store.findings_pending for m in recording.replay_from(recording.at(first), analysed)
        ]
        assert replayed == [True, False]
