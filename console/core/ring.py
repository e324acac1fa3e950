"""A fixed-size ring of floats in one ``array``: 8 bytes a point, however long it runs.

A deque of Python floats costs about 32 bytes a point; a fleet keeps hundreds of
thousands of series, so the difference is gigabytes. ``None`` (not available) is
stored as NaN, which no source may send as a value.

A :class:`RingBlock` holds the rings of series that get their points together (one
source's columns, poll after poll) in one array: an append a poll, not a point.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import cast

NAN = math.nan


class Ring:
    """The last ``capacity`` values (and, for timed series, their times)."""

    __slots__ = ("_capacity", "_start", "_times", "_values", "size")

    def __init__(self, capacity: int, timed: bool = False) -> None:
        # Grown to the capacity by appends, not made at it: a series that lives a few
        # polls (or whose points a RingBlock takes over) costs its points, not 120.
        self._values = array("d")
        self._capacity = capacity
        self._times = array("d") if timed else None
        self._start = 0
        self.size = 0
        """Points held (at most the capacity)."""

    def __len__(self) -> int:
        return self.size

    def append(self, value: float | None, time: float = 0.0) -> None:
        """Add the newest point, dropping the oldest when full."""
        # Without a modulo or a len(): a fleet appends 200,000 points a second.
        capacity = self._capacity
        if self.size < capacity:  # growing: the oldest point is at 0
            self._values.append(NAN if value is None else value)
            if self._times is not None:
                self._times.append(time)
            self.size += 1
            if self.size == capacity:  # full: no room over-allocated by the appends
                self._values = self._values[:]
                if self._times is not None:
                    self._times = self._times[:]
            return
        index = self._start
        self._start = index + 1 if index + 1 < capacity else 0
        self._values[index] = NAN if value is None else value
        if self._times is not None:
            self._times[index] = time

    def fill(self, points: list[tuple[float, float | None]]) -> None:
        """Oldest-first ``(time, value)`` points into an empty ring, the newest
        ``capacity`` kept: one pass, not an append a point (a seek restores thousands)."""
        kept = points[-self._capacity :]
        self._values = _floats([v for _, v in kept])
        if self._times is not None:
            self._times = array("d", [t for t, _ in kept])
        self._start, self.size = 0, len(kept)

    def fill_columns(self, times: Sequence[float], values: Sequence[float]) -> None:
        """:meth:`fill` from two oldest-first columns (NaN: not available; ``times``
        kept by a timed ring only): no object a point."""
        if len(times) != len(values):
            raise ValueError("times and values of different lengths")
        capacity = self._capacity
        self._values = array("d", values[-capacity:])
        if self._times is not None:
            self._times = array("d", times[-capacity:])
        self._start, self.size = 0, len(self._values)

    def _order(self) -> list[int]:
        capacity = self._capacity
        return [(self._start + offset) % capacity for offset in range(self.size)]

    def values(self) -> list[float | None]:
        """Oldest first; not-available points as ``None``."""
        data = self._values
        return [None if math.isnan(v) else v for v in (data[i] for i in self._order())]

    def points(self) -> list[tuple[float, float | None]]:
        """Oldest-first ``(time, value)`` (timed rings only)."""
        if self._times is None:
            return []
        return [(self._times[i], None if math.isnan(v := self._values[i]) else v)
                for i in self._order()]  # fmt: skip

    def columns(self) -> tuple[array[float], array[float]]:
        """:meth:`points` as two oldest-first columns, times and values (NaN: not
        available), copied in C: no object a point (timed rings only; else empty)."""
        times, values, start = self._times, self._values, self._start
        if times is None:
            return array("d"), array("d")
        if start == 0:  # growing (or filled): the oldest point is at 0
            return times[: self.size], values[: self.size]
        return times[start:] + times[:start], values[start:] + values[:start]  # full


class FirstPoint(Ring):
    """A ring that holds its first point alone, with no array yet: what a series is
    made with when many begin at once (:meth:`console.core.store.Store.apply` makes a
    column of new series in one step; at 4,000 nodes the first poll makes 1.2 million,
    and a ring with its own array cost 190 bytes a series, this one 60).

    It becomes a plain :class:`Ring` in place (same object, same slots) once it gets a
    second point or is filled, so whoever holds it goes on holding a ring. Untimed only.
    """

    __slots__ = ()

    def __init__(self, point: float | None, capacity: int) -> None:
        # Only these two slots are set: the rest are a Ring's, set when it becomes one.
        self._values = point  # type: ignore[assignment]
        self._capacity = capacity

    def _become_ring(self) -> float | None:
        """Turn into a plain empty :class:`Ring`; answers the point it held."""
        point = cast("float | None", self._values)
        self.__class__ = Ring  # type: ignore[assignment]
        Ring.__init__(self, self._capacity)
        return point

    def __len__(self) -> int:
        return 1

    def append(self, value: float | None, time: float = 0.0) -> None:
        first = self._become_ring()
        if self._capacity < 2:  # keeps one point: the general way
            self.append(first)
            self.append(value, time)
            return
        # Both points at once (a mirror's first delta turns a million of these).
        self._values = array(
            "d", (NAN if first is None else first, NAN if value is None else value)
        )
        self.size = 2

    def fill(self, points: list[tuple[float, float | None]]) -> None:
        self._become_ring()
        self.fill(points)

    def fill_columns(self, times: Sequence[float], values: Sequence[float]) -> None:
        self._become_ring()
        self.fill_columns(times, values)

    def values(self) -> list[float | None]:
        return [cast("float | None", self._values)]

    def points(self) -> list[tuple[float, float | None]]:
        return []

    def columns(self) -> tuple[array[float], array[float]]:
        return array("d"), array("d")


class RingBlock:
    """The rings of ``width`` series that get their points together, poll after poll
    (one source's columns), in one array: a poll's append is one slice copy, not a call
    a point, and a series costs one small view (:class:`BlockRing`), not a ring.

    Row ``r`` (counted from the first row ever) lives at ``r % capacity``; a series
    that began later than others (or was shorter when the block took it over) holds
    the rows from its own first one. Once a point comes for one series alone (a view's
    :meth:`BlockRing.append`) the block is *detached*: each series moves to a ring of
    its own, the views pass on to it, and the block takes no more rows.

    The first ``narrow`` series (whole-number gauges: temperatures, clocks, MiB, error
    counts: :func:`fits_float32`) are held in 4-byte floats while those hold every point
    of theirs exactly: at 1,000 nodes the console holds 50 MB less (bench/fleet_poll.py).
    The first point they would not hold exactly turns them into 8-byte floats for good: a
    reader always gets back the very number that was appended.
    """

    __slots__ = ("_capacity", "_first", "_patchable", "_small", "_values", "_width",
                 "count", "detached", "narrow", "rings")  # fmt: skip

    def __init__(self, capacity: int, rings: Sequence[Ring | BlockRing], narrow: int = 0) -> None:
        width = len(rings)
        held = [ring.values()[-capacity:] for ring in rings]
        count = max(map(len, held), default=0)
        self._capacity, self._width = capacity, width
        self.narrow = narrow
        """How many of the first series are narrow (4-byte floats while they fit)."""
        small = [_floats(points) for points in held[:narrow]]
        self._small: array[float] = (
            array("f", bytes(4 * capacity * narrow))
            if all(map(_exact_in_float32, small))
            else array("d", bytes(8 * capacity * narrow))
        )
        self._values = array("d", bytes(8 * capacity * (width - narrow)))
        for index, points in enumerate(held):  # count <= capacity: row r is at r
            first = count - len(points)
            into, at, size = self._part(index)
            into[first * size + at : count * size : size] = _like(into, _floats(points))
        self._first = array("q", [count - len(points) for points in held])
        self._patchable = False
        """Whether the last row holds every narrow series' point (once a row was appended:
        a series taken over with no point has none there)."""
        self.count = count
        """Rows appended so far, the taken-over ones included."""
        self.detached: list[Ring] | None = None
        """Each series' own ring once the block is detached."""
        self.rings = [BlockRing(self, index) for index in range(width)]
        """The series' views, in the block's order."""

    def _part(self, index: int) -> tuple[array[float], int, int]:
        """The array holding series ``index``, its place in a row there, the row's size."""
        narrow = self.narrow
        if index < narrow:
            return self._small, index, narrow
        return self._values, index - narrow, self._width - narrow

    def append(self, row: list[float | None], narrow_moved: list[int] | None = None) -> None:
        """One point for every series, in the block's order (``None``: not available).

        ``narrow_moved``: where the narrow series' points differ from the last row's
        (a caller that knows it: the store, which compares each reading with the one
        before); the narrow part is then the last row again with those put in, rather
        than the whole row converted and checked (most whole-number gauges repeat)."""
        slot, narrow, capacity = self.count % self._capacity, self.narrow, self._capacity
        if narrow:
            small, start = self._small, slot * narrow
            if narrow_moved is None or not self._patchable:
                head = _doubles(row[:narrow])
                if small.typecode == "f" and not _exact_in_float32(head):
                    small = self._widen()
                small[start : start + narrow] = _like(small, head)
            else:
                last = (self.count - 1) % capacity * narrow
                small[start : start + narrow] = small[last : last + narrow]
                for at in narrow_moved:  # fits_float32, inline: a few a poll
                    if (value := row[at]) is None:
                        small[start + at] = NAN
                        continue
                    if small.typecode == "f" and not (
                        value.is_integer() and -FLOAT32_WHOLE <= value <= FLOAT32_WHOLE
                    ):
                        small = self._widen()
                    small[start + at] = value
            self._patchable = True
            row = row[narrow:]
        size = self._width - narrow
        self._values[slot * size : slot * size + size] = _doubles(row)
        self.count += 1

    def _widen(self) -> array[float]:
        """The narrow series in 8-byte floats from now on (their points as they were)."""
        self._small = array("d", self._small)
        return self._small

    def held(self, index: int) -> int:
        """How many points series ``index`` holds (what :meth:`series` would give)."""
        if self.detached is not None:
            return len(self.detached[index])
        count = self.count
        return count - max(self._first[index], count - self._capacity)

    def series(self, index: int) -> list[float | None]:
        """One series, oldest first (as :meth:`Ring.values`)."""
        if self.detached is not None:
            return self.detached[index].values()
        capacity, count = self._capacity, self.count
        into, at, size = self._part(index)
        column = into[at::size]
        if count > capacity:  # wrapped: the oldest row is the next one to be written
            split = count % capacity
            column = column[split:] + column[:split]
        else:
            column = column[:count]
        held = self.held(index)
        return [None if math.isnan(v) else v for v in column[len(column) - held :]]

    def detach(self) -> list[Ring]:
        """Each series in a ring of its own (once), the block's memory let go."""
        if self.detached is None:
            detached = []
            for index in range(self._width):
                ring = Ring(self._capacity)
                ring.fill([(0.0, value) for value in self.series(index)])
                detached.append(ring)
            self.detached = detached
            self._values, self._small = array("d"), array("d")
        return self.detached


FLOAT32_WHOLE = float(2**24)
"""A 4-byte float holds every whole number up to this one (in size) exactly."""


def fits_float32(values: Sequence[float | None]) -> bool:
    """Whether every value is a whole number a 4-byte float holds exactly, or ``None``
    (what a :class:`RingBlock`'s narrow series are chosen by)."""
    return all(
        v is None or (v.is_integer() and -FLOAT32_WHOLE <= v <= FLOAT32_WHOLE) for v in values
    )


def _like(part: array[float], values: array[float]) -> array[float]:
    """``values`` in an array of ``part``'s type (4- or 8-byte floats)."""
    return array("f", values.tolist()) if part.typecode == "f" else values


def _exact_in_float32(values: array[float]) -> bool:
    """Whether 4-byte floats hold these doubles exactly (NaN kept), found in C."""
    return array("d", array("f", values)).tobytes() == values.tobytes()


class BlockRing:
    """One series of a :class:`RingBlock`, read (and, rarely, written) as a :class:`Ring`."""

    __slots__ = ("_block", "_index")

    def __init__(self, block: RingBlock, index: int) -> None:
        self._block, self._index = block, index

    def __len__(self) -> int:
        return self._block.held(self._index)  # counted, not made

    def values(self) -> list[float | None]:
        return self._block.series(self._index)

    def points(self) -> list[tuple[float, float | None]]:
        return []  # a block holds no times: timed series get rings of their own

    def columns(self) -> tuple[array[float], array[float]]:
        return array("d"), array("d")

    def append(self, value: float | None, time: float = 0.0) -> None:
        """A point for this series alone: the block gives each series its own ring."""
        self._block.detach()[self._index].append(value, time)

    def fill(self, points: list[tuple[float, float | None]]) -> None:
        self._block.detach()[self._index].fill(points)


def _doubles(values: list[float | None]) -> array[float]:
    """:func:`_floats`, at C speed when no value is ``None``."""
    if None in values:
        return _floats(values)
    return array("d", cast("list[float]", values))


def _floats(values: Sequence[float | None]) -> array[float]:
    return array("d", [NAN if value is None else value for value in values])
