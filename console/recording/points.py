"""A seek's timed (job) series' points, taken from every frame after its keyframe.

A seek nine frames past its keyframe adds ~4,600 points at 1,000 nodes (510 series of
two schemas, nine batches each): a point at a time, 3-4.5 ms of it (12 ms profiled).
Gathered as each schema's columns and appended in C, a schema at once (a series' row a
strided slice of its columns, ``array.extend``), ~1 ms; a series at a time, or a point,
where what that takes does not hold (a series new, times not each newer, too many).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterator
from itertools import chain, islice, repeat
from operator import itemgetter, lt
from typing import Any

from console.recording.codec import Points

MOST_POINTS = 2000
"""A timed series' points at most: past it, the oldest :data:`TRIMMED` go."""
TRIMMED = 1000

_Key = tuple[str, str]


def add_point(history: dict[_Key, Points], key: _Key, when: float, value: float) -> None:
    """One point after a series' (NaN: not available); one at the same time replaces
    the last, an older one is left out."""
    points = history.get(key)
    if points is None:
        points = history[key] = (array("d"), array("d"))
    times, values = points
    if times and times[-1] >= when:
        if times[-1] == when:
            values[-1] = value
        return
    times.append(when)
    values.append(value)
    if len(times) > MOST_POINTS:
        del times[:TRIMMED], values[:TRIMMED]


class TimedPoints:
    """The timed series' points of a seek's batches, gathered in their order and added
    to ``history`` by :meth:`add_all` as :func:`add_point` one after another would."""

    def __init__(self, history: dict[_Key, Points]) -> None:
        self.history = history
        self._batches: list[tuple[tuple[list[str], list[str]], list[int], Any, Any]] = []
        """Each batch's keys, where its timed series sit, their times and values."""

    def add(
        self,
        keys: tuple[list[str], list[str]],
        timed: list[int],
        times: array[float],
        values: array[float],
    ) -> None:
        """A batch's timed series (``timed``: where they sit among its ``keys``) and
        their points, one a series (``ValueError`` for another count: a damaged file)."""
        if not timed:
            return
        if not len(times) == len(values) == len(timed):
            raise ValueError("damaged timed points: not one a timed series")
        self._batches.append((keys, timed, times, values))

    def add_all(self) -> None:
        """Every point gathered, a series at a time where each series is in one schema
        only (then its points come in the batches' order whichever way)."""
        batches, self._batches = self._batches, []
        # By schema (its keys, one object a schema): its series, their columns.
        groups: dict[int, tuple[list[_Key], list[Any], list[Any]]] = {}
        for batch_keys, timed, times, values in batches:
            group = groups.get(id(batch_keys))
            if group is None:
                refs, metrics = batch_keys
                group = groups[id(batch_keys)] = ([(refs[i], metrics[i]) for i in timed], [], [])
            group[1].append(times)
            group[2].append(values)
        series = [group[0] for group in groups.values()]
        if len(set(chain.from_iterable(series))) != sum(map(len, series)):
            # A series in two schemas (or twice in one): its points in the batches' order.
            for (refs, metrics), timed, times, values in batches:
                for slot, i in enumerate(timed):
                    add_point(self.history, (refs[i], metrics[i]), times[slot], values[slot])
            return
        for keys, times, values in groups.values():
            if _extend_all(self.history, keys, times, values):
                continue
            rows = zip(keys, zip(*times, strict=True), zip(*values, strict=True), strict=True)
            for key, when, value in rows:
                _extend(self.history, key, when, value)


def _extend_all(
    history: dict[_Key, Points], keys: list[_Key], times: list[Any], values: list[Any]
) -> bool:
    """Each series' points (``times`` and ``values``: a column a batch, a series a
    place) appended in C, when every series is there already, each column's times are
    newer than the one before's and none grows past :data:`MOST_POINTS` (a seek's, most
    often); ``False``, nothing added, otherwise."""
    series: list[Any] = list(map(history.get, keys))
    if None in series:
        return False
    held = list(map(itemgetter(0), series))
    if not all(held) or max(map(len, held)) > MOST_POINTS - len(times):
        return False
    steps = zip([array("d", map(itemgetter(-1), held)), *times], times, strict=False)
    if not all(all(map(lt, older, newer)) for older, newer in steps):
        return False
    deque(map(array.extend, held, _rows(times, len(keys))), maxlen=0)
    deque(map(array.extend, map(itemgetter(1), series), _rows(values, len(keys))), maxlen=0)
    return True


def _rows(columns: list[array[float]], count: int) -> Iterator[array[float]]:
    """Columns of ``count`` each as their rows (one a series), copied in C: one after
    another, a row is a strided slice (no float object a point, as ``zip`` makes)."""
    flat = array("d")
    for column in columns:
        flat += column
    return map(flat.__getitem__, map(slice, range(count), repeat(None), repeat(count)))


def _extend(
    history: dict[_Key, Points], key: _Key, when: tuple[float, ...], value: tuple[float, ...]
) -> None:
    """A series' points, oldest first: appended at once when each is newer than the one
    before it (and the series holds no more than it may), else one at a time."""
    points = history.get(key)
    if points is None:
        points = history[key] = (array("d"), array("d"))
    times, values = points
    if (
        (times and not times[-1] < when[0])
        or len(times) > MOST_POINTS
        or not all(map(lt, when, islice(when, 1, None)))
    ):
        for one, other in zip(when, value, strict=True):
            add_point(history, key, one, other)
        return
    times.extend(when)
    values.extend(value)
    while len(times) > MOST_POINTS:
        del times[:TRIMMED], values[:TRIMMED]
