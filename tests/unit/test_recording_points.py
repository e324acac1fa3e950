"""A seek's timed (job) series' points, added a series at a time: the same points as a
point at a time in the batches' order (``points.add_point``), whatever they are."""

from __future__ import annotations

import math
from array import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.recording.codec import Points
from console.recording.points import MOST_POINTS, TimedPoints, add_point

Batch = tuple[tuple[list[str], list[str]], list[int], list[float], list[float]]


def one_at_a_time(history: dict[tuple[str, str], Points], batches: list[Batch]) -> None:
    """What a seek did before: each batch's points in order, a point at a time."""
    for (refs, metrics), timed, times, values in batches:
        for slot, i in enumerate(timed):
            add_point(history, (refs[i], metrics[i]), times[slot], values[slot])


def as_columns(history: dict[tuple[str, str], Points], batches: list[Batch]) -> None:
    points = TimedPoints(history)
    for keys, timed, times, values in batches:
        points.add(keys, timed, array("d", times), array("d", values))
    points.add_all()


def both(
    start: dict[tuple[str, str], list[tuple[float, float]]], batches: list[Batch]
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The history each way from the same start, as bytes (NaN compared bit for bit)."""
    made = []
    for way in (one_at_a_time, as_columns):
        history = {key: (array("d", [t for t, _v in points]), array("d", [v for _t, v in points]))
                   for key, points in start.items()}  # fmt: skip
        way(history, batches)
        made.append({key: (times.tobytes(), values.tobytes())
                     for key, (times, values) in history.items()})  # fmt: skip
    return made[0], made[1]


JOBS = (["job/1", "job/2", "gpu/n/0", "job/3"], ["job.throughput", "job.gpu_util",
                                                 "gpu.util", "job.throughput"])  # fmt: skip
TIMED = [0, 1, 3]  # (the gauge is no timed series)


def frames(times: list[list[float]], values: Any = None) -> list[Batch]:
    """One batch of the schema ``JOBS`` a frame, its timed series' times given."""
    return [(JOBS, TIMED, when, values[n] if values is not None else [float(n)] * len(TIMED))
            for n, when in enumerate(times)]  # fmt: skip


def test_points_newer_each_frame_are_appended_a_schema_or_a_series_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every series there already: a schema's at once; one new: a series at a time;
    never a point at a time."""
    from console.recording import points as module

    start = {("job/1", "job.throughput"): [(1.0, 5.0)]}
    batches = frames([[t, t, t + 0.5] for t in (2.0, 3.0, 4.0)])
    expected = [both(start, batches)[0], both(everywhere(start), batches)[0]]
    called: list[Any] = []
    monkeypatch.setattr(module, "add_point", lambda *args: called.append(args))
    assert both(start, batches)[1] == expected[0] and called == []
    extend = module._extend
    monkeypatch.setattr(module, "_extend", lambda *args: called.append(args) or extend(*args))
    assert both(everywhere(start), batches)[1] == expected[1] and called == []
    assert expected[0][("job/1", "job.throughput")][0] == array("d", [1, 2, 3, 4]).tobytes()


@pytest.mark.parametrize(
    ("start", "times"),
    [
        ({}, [[1.0] * 3, [1.0] * 3, [2.0] * 3]),  # the same time again: it replaces
        ({}, [[3.0] * 3, [2.0] * 3, [4.0] * 3]),  # an older one: left out
        ({("job/1", "job.throughput"): [(5.0, 1.0)]}, [[5.0] * 3, [6.0] * 3]),  # the last's
        ({("job/2", "job.gpu_util"): [(9.0, 1.0)]}, [[3.0] * 3, [4.0] * 3]),  # older than it
        ({}, [[math.nan] * 3, [1.0] * 3, [2.0] * 3]),  # no time
        ({}, [[1.0, 2.0, math.nan], [2.0, math.nan, 3.0]]),
    ],
    ids=["same-time", "older", "at-the-last", "before-the-last", "nan-time", "nan-times"],
)
def test_points_not_each_newer_are_added_as_one_at_a_time_would(
    start: dict[tuple[str, str], list[tuple[float, float]]], times: list[list[float]]
) -> None:
    old, new = both(start, frames(times))
    assert new == old
    # Every series there already (the way of a schema's series at once is tried).
    old, new = both(everywhere(start), frames(times))
    assert new == old


def everywhere(
    start: dict[tuple[str, str], list[tuple[float, float]]],
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """``start`` with a point at time -1 for each of ``JOBS``' timed series it has not."""
    keys = [(JOBS[0][i], JOBS[1][i]) for i in TIMED]
    return {key: [(-1.0, 0.0)] for key in keys} | start


def test_not_available_values_are_kept_as_they_are() -> None:
    nan = math.nan
    values = [[nan, 1.0, nan], [2.0, nan, -nan]]
    old, new = both({}, frames([[1.0] * 3, [2.0] * 3], values))
    assert new == old
    assert new[("job/1", "job.throughput")][1] == array("d", [nan, 2.0]).tobytes()


@pytest.mark.parametrize(
    ("already", "count"),
    [(0, 1199), (1500, 1199), (MOST_POINTS - 1, 1199), (MOST_POINTS, 1199),
     (MOST_POINTS + 700, 1199), (MOST_POINTS + 1500, 1)],  # (more than kept: an old file's)
)  # fmt: skip
def test_a_series_past_its_most_points_loses_its_oldest_as_one_at_a_time(
    already: int, count: int
) -> None:
    start = everywhere({("job/1", "job.throughput"): [(float(t), 1.0) for t in range(already)]})
    batches = frames([[float(already + n)] * 3 for n in range(1, count + 1)])
    old, new = both(start, batches)
    assert new == old
    times = new[("job/1", "job.throughput")][0]
    assert len(times) // 8 <= max(MOST_POINTS, already)


def test_a_series_first_seen_in_a_later_frame_and_one_in_two_schemas() -> None:
    later = (["job/9", "job/1"], ["job.throughput", "job.throughput"])  # job/1's in JOBS too
    late = [*frames([[1.0] * 3, [3.0] * 3]), (later, [0, 1], [2.0, 2.0], [7.0, 7.0])]
    old, new = both({}, late)
    assert new == old and ("job/9", "job.throughput") in new
    # Interleaved with JOBS, job/1's 2.0 comes between its 1.0 and 3.0: a series'
    # points in the batches' order, whichever schema brought them.
    apart = [*frames([[1.0] * 3]), (later, [0, 1], [2.0, 2.0], [7.0, 7.0]), *frames([[3.0] * 3])]
    old, new = both({}, apart)
    assert new == old
    assert new[("job/1", "job.throughput")][0] == array("d", [1.0, 2.0, 3.0]).tobytes()


def test_timed_points_not_one_a_series_are_a_damaged_file() -> None:
    points = TimedPoints({})
    with pytest.raises(ValueError, match="damaged timed points"):
        points.add(JOBS, TIMED, array("d", [1.0, 2.0]), array("d", [1.0, 2.0]))


SERIES = [("job/1", "job.throughput"), ("job/2", "job.gpu_util"),
          *((f"job/{n}", "job.throughput") for n in range(3, 7))]  # fmt: skip
times_ = st.one_of(st.integers(0, 6).map(float), st.just(math.nan))
values_ = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(-math.nan))


@settings(max_examples=150, deadline=None)
@given(
    start=st.fixed_dictionaries({key: st.lists(st.tuples(times_, values_), max_size=4)
                                 for key in SERIES}),
    batches=st.lists(st.tuples(st.sampled_from([0, 1]), st.lists(times_, min_size=3, max_size=3),
                               st.lists(values_, min_size=3, max_size=3)), max_size=8),
)  # fmt: skip
def test_any_points_are_added_as_one_at_a_time_would(
    start: dict[tuple[str, str], list[tuple[float, float]]],
    batches: list[tuple[int, list[float], list[float]]],
) -> None:
    """Of two schemas sharing a series or not, any times (the same, older, none), each
    series with points before or not."""
    other = (["job/3", "job/4", "job/5"], ["job.throughput"] * 3)
    shared = (["job/3", "job/1", "job/6"], ["job.throughput"] * 3)
    schemas = [(JOBS, TIMED), (other if len(batches) % 2 else shared, [0, 1, 2])]
    made = [(*schemas[which], when, value) for which, when, value in batches]
    old, new = both(start, made)
    assert new == old
