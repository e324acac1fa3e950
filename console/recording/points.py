"""A seek's timed (job) series' points, taken from every frame after its keyframe.

A seek nine frames past its keyframe adds ~4,600 points at 1,000 nodes (510 series,
nine batches each). A point at a time was ~12 ms of a seek; gathered as each schema's
columns, one after another, and added a series at a time (``zip`` transposes them in
C, ``array.extend`` appends), it is one step a series.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import chain, islice
from operator import lt
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
        times: Sequence[float],
        values: Sequence[float],
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
            rows = zip(keys, zip(*times, strict=True), zip(*values, strict=True), strict=True)
            for key, when, value in rows:
                _extend(self.history, key, when, value)


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
