"""The history ring: fixed memory, oldest dropped first, None kept as not-available."""

from __future__ import annotations

import math

import pytest

from console.core.ring import FirstPoint, Ring, RingBlock


def test_keeps_the_newest_points_in_order() -> None:
    ring = Ring(3)
    for value in (1.0, None, 3.0, 4.0):
        ring.append(value)
    assert ring.values() == [None, 3.0, 4.0]
    assert len(ring) == 3
    assert ring.points() == []  # not a timed ring


def test_timed_ring_keeps_times() -> None:
    ring = Ring(2, timed=True)
    ring.append(5.0, time=10.0)
    ring.append(None, time=11.0)
    ring.append(7.0, time=12.0)
    assert ring.points() == [(11.0, None), (12.0, 7.0)]
    assert ring.values() == [None, 7.0]


def test_memory_is_eight_bytes_a_point() -> None:
    import sys

    ring = Ring(10_000)
    for value in range(10_001):  # grown by appends to the capacity, then a ring
        ring.append(float(value))
    assert ring._values.itemsize == 8 and len(ring._values) == 10_000
    assert sys.getsizeof(ring._values) < 8 * 10_000 * 1.01  # one flat buffer, no objects
    assert ring.values()[0] == 1.0 and ring.values()[-1] == 10_000.0


def test_fill_keeps_the_newest_points_as_appends_would() -> None:
    points = [(10.0, 1.0), (11.0, None), (12.0, 3.0), (13.0, 4.0)]
    filled, appended = Ring(3, timed=True), Ring(3, timed=True)
    filled.fill(points)
    for time, value in points:
        appended.append(value, time)
    assert filled.points() == appended.points() == [(11.0, None), (12.0, 3.0), (13.0, 4.0)]
    filled.append(5.0, 14.0)  # and goes on as a ring
    assert filled.points() == [(12.0, 3.0), (13.0, 4.0), (14.0, 5.0)]


def test_a_block_keeps_each_series_as_a_ring_of_its_own_would() -> None:
    # Series taken over at different lengths (one new), then rows past the capacity.
    takes = [[1.0, None], [], [5.0, 6.0, 7.0]]
    rings = []
    for values in takes:
        ring = Ring(3)
        for value in values:
            ring.append(value)
        rings.append(ring)
    block = RingBlock(3, rings)
    for row in ([10.0, 20.0, None], [11.0, None, 31.0], [12.0, 22.0, 32.0], [13.0, 23.0, 33.0]):
        block.append(row)
        for ring, value in zip(rings, row, strict=True):
            ring.append(value)
        assert [view.values() for view in block.rings] == [ring.values() for ring in rings]
        assert list(map(len, block.rings)) == list(map(len, rings))
    assert block.rings[1].values() == [None, 22.0, 23.0]


def test_a_block_series_taken_over_short_shows_no_padding() -> None:
    long, short = Ring(4), Ring(4)
    for value in (1.0, 2.0, 3.0):
        long.append(value)
    short.append(9.0)
    block = RingBlock(4, [long, short])
    assert block.rings[1].values() == [9.0]
    block.append([4.0, 10.0])
    block.append([5.0, 11.0])  # wraps: the long series' oldest goes
    assert [view.values() for view in block.rings] == [[2.0, 3.0, 4.0, 5.0], [9.0, 10.0, 11.0]]


def test_a_point_for_one_series_gives_each_its_own_ring() -> None:
    block = RingBlock(2, [Ring(2), Ring(2)])
    block.append([1.0, 2.0])
    block.rings[0].append(3.0)  # one series alone: the block detaches
    assert block.detached is not None
    assert [view.values() for view in block.rings] == [[1.0, 3.0], [2.0]]
    block.rings[1].append(4.0)
    block.rings[1].append(5.0)
    assert block.rings[1].values() == [4.0, 5.0]


def test_a_block_holds_whole_numbers_in_four_bytes_until_a_point_is_not_one() -> None:
    # Series 0-1 narrow (temperatures, MiB), series 2 not (a rate); one taken over whole.
    taken = Ring(3)
    taken.append(40.0)
    block = RingBlock(3, [taken, Ring(3), Ring(3)], narrow=2)
    assert block._small.itemsize == 4 and block._values.itemsize == 8
    rows = [[41.0, None, 0.1], [2.0**24, -7.0, 0.2]]
    for row in rows:
        block.append(row)
    assert block._small.itemsize == 4
    assert [ring.values() for ring in block.rings] == [
        [40.0, 41.0, 2.0**24], [None, -7.0], [0.1, 0.2]]  # fmt: skip
    block.append([2.0**24 + 1, 0.5, 0.3])  # not exact in 4 bytes: 8 from now on, for all
    assert block._small.itemsize == 8
    assert [ring.values() for ring in block.rings] == [
        [41.0, 2.0**24, 2.0**24 + 1], [None, -7.0, 0.5], [0.1, 0.2, 0.3]]  # fmt: skip


def test_a_block_takes_over_history_that_four_bytes_cannot_hold_in_eight() -> None:
    ring = Ring(3)
    ring.append(36.6)
    block = RingBlock(3, [ring], narrow=1)
    block.append([37.0])
    assert block._small.itemsize == 8
    assert block.rings[0].values() == [36.6, 37.0]


def test_a_block_told_which_narrow_points_moved_keeps_what_a_whole_row_would() -> None:
    told, plain = RingBlock(4, [Ring(4), Ring(4), Ring(4)], 2), RingBlock(4, [Ring(4)] * 3, 2)
    rows = [[1.0, None, 0.5], [1.0, 3.0, 0.6], [2.0, 3.0, None], [2.0, None, 0.7],
            [2.0, None, 0.8], [7.25, None, 0.9]]  # fmt: skip
    for row, moved in zip(rows, [[], [1], [0], [1], [], [0]], strict=True):
        told.append(row, moved)  # the first row is taken whole: no last row to repeat
        plain.append(row)
        assert [r.values() for r in told.rings] == [r.values() for r in plain.rings]
    assert told._small.itemsize == 8  # 7.25 is no whole number: 8 bytes for good
    assert told.rings[0].values() == [2.0, 2.0, 2.0, 7.25]


def test_a_block_series_counts_its_points_without_making_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long, short = Ring(4), Ring(4)
    for value in (1.0, 2.0, 3.0):
        long.append(value)
    short.append(9.0)
    block = RingBlock(4, [long, short])
    made: list[int] = []
    series = RingBlock.series
    monkeypatch.setattr(RingBlock, "series", lambda b, i: made.append(i) or series(b, i))
    lengths = []
    for row in ([4.0, 8.0], [5.0, None], [6.0, 7.0]):  # past the capacity: wrapped
        block.append(row)
        lengths.append([len(ring) for ring in block.rings])
    assert lengths == [[4, 2], [4, 3], [4, 4]] and made == []
    assert [len(ring.values()) for ring in block.rings] == [4, 4]
    block.detach()
    assert [len(ring) for ring in block.rings] == [4, 4]


@pytest.mark.parametrize("capacity", [1, 2, 3])
@pytest.mark.parametrize("first", [5.0, None])
def test_a_first_point_becomes_a_plain_ring_in_place_at_its_second(
    first: float | None, capacity: int
) -> None:
    held, ring = FirstPoint(first, capacity), Ring(capacity)
    ring.append(first)
    assert len(held) == len(ring) == 1 and held.values() == ring.values() == [first]
    assert held.points() == []
    for value in (6.0, None, 7.0, 8.0):
        held.append(value)
        ring.append(value)
        assert type(held) is Ring  # the same object, whoever holds it: no view in between
        assert held.values() == ring.values() and len(held) == len(ring)
    filled, columns = FirstPoint(first, 3), FirstPoint(first, 3)
    filled.fill([(1.0, 8.0), (2.0, None)])
    columns.fill_columns([1.0, 2.0], [8.0, math.nan])
    assert type(filled) is type(columns) is Ring
    assert filled.values() == columns.values() == [8.0, None]


def test_columns_are_the_points_oldest_first_growing_full_and_filled() -> None:
    """The recorder's keyframe takes a job series' points as two columns (NaN: not
    available), copies: the same points as :meth:`Ring.points`, however the ring holds
    them (growing, wrapped, filled), and no longer the ring's after it moves on."""
    ring = Ring(3, timed=True)

    def as_points() -> list[tuple[float, float | None]]:
        times, values = ring.columns()
        return [(t, None if math.isnan(v) else v) for t, v in zip(times, values, strict=True)]

    assert as_points() == []
    for step, value in enumerate((1.0, None, 3.0, 4.0, 5.0)):
        ring.append(value, time=10.0 + step)
        assert as_points() == ring.points()  # growing, then wrapped at each place
    times, values = ring.columns()
    ring.append(6.0, time=20.0)
    assert list(times) == [12.0, 13.0, 14.0] and list(values) == [3.0, 4.0, 5.0]  # copies
    ring.fill([(1.0, 2.0), (3.0, None)])
    assert as_points() == ring.points() == [(1.0, 2.0), (3.0, None)]


def test_untimed_rings_have_no_columns() -> None:
    plain, first = Ring(3), FirstPoint(1.0, 3)
    plain.append(1.0)
    block = RingBlock(3, [Ring(3)])
    for ring in (plain, first, block.rings[0]):
        assert [list(column) for column in ring.columns()] == [[], []]
