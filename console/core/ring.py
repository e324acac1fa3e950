"""A fixed-size ring of floats in one ``array``: 8 bytes a point, however long it runs.

A deque of Python floats costs about 32 bytes a point; a fleet keeps hundreds of
thousands of series, so the difference is gigabytes. ``None`` (not available) is
stored as NaN, which no source may send as a value.
"""

from __future__ import annotations

import math
from array import array

NAN = math.nan


class Ring:
    """The last ``capacity`` values (and, for timed series, their times)."""

    __slots__ = ("_capacity", "_start", "_times", "_values", "size")

    def __init__(self, capacity: int, timed: bool = False) -> None:
        self._values = array("d", bytes(8 * capacity))
        self._capacity = capacity
        self._times = array("d", bytes(8 * capacity)) if timed else None
        self._start = 0
        self.size = 0
        """Points held (at most the capacity)."""

    def __len__(self) -> int:
        return self.size

    def append(self, value: float | None, time: float = 0.0) -> None:
        """Add the newest point, dropping the oldest when full."""
        # Without a modulo or a len(): a fleet appends 200,000 points a second.
        capacity = self._capacity
        if self.size < capacity:
            index = self._start + self.size
            if index >= capacity:
                index -= capacity
            self.size += 1
        else:
            index = self._start
            self._start = index + 1 if index + 1 < capacity else 0
        self._values[index] = NAN if value is None else value
        if self._times is not None:
            self._times[index] = time

    def fill(self, points: list[tuple[float, float | None]]) -> None:
        """Oldest-first ``(time, value)`` points into an empty ring, the newest
        ``capacity`` kept: one pass, not an append a point (a seek restores thousands)."""
        kept = points[-len(self._values) :]
        count = len(kept)
        self._values[:count] = array("d", [NAN if v is None else v for _, v in kept])
        if self._times is not None:
            self._times[:count] = array("d", [t for t, _ in kept])
        self._start, self.size = 0, count

    def _order(self) -> list[int]:
        capacity = len(self._values)
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
