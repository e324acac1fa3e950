"""The history ring: fixed memory, oldest dropped first, None kept as not-available."""

from __future__ import annotations

from console.core.ring import Ring


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
    assert ring._values.itemsize == 8 and len(ring._values) == 10_000
    assert sys.getsizeof(ring._values) < 8 * 10_000 * 1.1  # one flat buffer, no objects


def test_fill_keeps_the_newest_points_as_appends_would() -> None:
    points = [(10.0, 1.0), (11.0, None), (12.0, 3.0), (13.0, 4.0)]
    filled, appended = Ring(3, timed=True), Ring(3, timed=True)
    filled.fill(points)
    for time, value in points:
        appended.append(value, time)
    assert filled.points() == appended.points() == [(11.0, None), (12.0, 3.0), (13.0, 4.0)]
    filled.append(5.0, 14.0)  # and goes on as a ring
    assert filled.points() == [(12.0, 3.0), (13.0, 4.0), (14.0, 5.0)]
