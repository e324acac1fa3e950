"""A seek's readings as columns, each made into the store's object when first read.

A seek at 1,000 nodes restores 227,000 series; a rewind screen reads a few thousand
of them. Making every :class:`~console.core.store.Reading` up front was most of a
seek's CPU (bench/recording.py), so the store is handed this dict: each key's value
is its place in three float columns (time, value, rate; NaN for *not available*)
until it is read, then its reading, made once and kept. A batch of counters' rates
are made then too (34,000 at 1,000 nodes: 3-5 ms of a seek past its keyframe).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from itertools import repeat
from operator import itemgetter
from typing import Any, cast

from console.core.garbage import long_lived_objects
from console.core.store import Reading, SummedKeys

_ABSENT: Any = object()


_update: Any = dict.update  # the places are ints where the dict's type says readings


def counter_rates(values: array[float], before: array[float], elapsed: float) -> array[float]:
    """Counters' rates over ``elapsed`` (> 0) seconds from their values ``before``:
    NaN (none) for a counter that went back (a reset) or not available on either side
    (NaN fails every comparison), as in the store."""
    pairs = zip(values, before, strict=True)
    return array("d", [(value - old) / elapsed if value >= old else math.nan
                       for value, old in pairs])  # fmt: skip


class LazyReadings(dict[tuple[str, str], Reading]):
    """The store's readings by ``(ref, metric)``, made when read. Every way a dict's
    values come out (``get``, ``[]``, ``items``, ``values``, ``pop``, ``setdefault``,
    ``copy``, ``dict(...)``) makes them first, so the store sees readings only."""

    __slots__ = ("_against", "_index", "rates", "times", "values_")

    def __init__(self) -> None:
        super().__init__()
        self.times = array("d")
        self.values_ = array("d")
        self.rates = array("d")
        self._index: dict[tuple[str, str], int] | None = None
        """The keyframe's places while each key is still its place there (no series
        added or dropped, no reading made since): what :meth:`summed` keeps its keys
        and their places for."""
        self._against: list[tuple[int, int, float]] = []
        """Runs of places ``(start, end, elapsed)``, in order, whose ``rates`` hold
        their counters' values before (:meth:`lay_counters`): a rate there is made
        with its reading, from its value, the one before and ``elapsed``."""

    def start(self, index: dict[tuple[str, str], int], times: Any, values: Any, rates: Any) -> None:
        """The keyframe's columns (``array("d")`` each, kept as they are), ``index`` the
        place of each key in them (copied: a caller keeps one per keyframe schema)."""
        _update(self, index)
        self.times, self.values_, self.rates = times, values, rates
        self._index = index
        self._against = []

    def lay(
        self,
        keys: list[tuple[str, str]] | int,
        times: array[float],
        values: array[float],
        rates: array[float],
        run: int | None = None,
    ) -> None:
        """A newer batch's columns over these keys' (before any reading is made);
        ``run``: where its keys sit one after another in the keyframe's columns, when
        they do (a source sends its keys in the order it first did): then a copy in C,
        and ``keys`` may be their count (no pair made a key)."""
        count = keys if isinstance(keys, int) else len(keys)
        if self._against and count:  # a rate laid over one yet to be made: it made first
            if run is not None:
                self._settle(run, run + count)
            elif isinstance(keys, list):
                found: Any = map(dict.get, repeat(self), keys)  # (places: no reading made yet)
                places = [place for place in found if place is not None]
                if places:
                    self._settle(min(places), max(places) + 1)
        if run is not None:
            end = run + count
            if not len(times) == len(values) == len(rates) == count:
                # A slice given fewer values would shorten the columns, not fail.
                raise ValueError("damaged column: not as long as its schema")
            self.times[run:end], self.values_[run:end], self.rates[run:end] = times, values, rates
            return
        if isinstance(keys, int):
            raise TypeError("keys laid apart need their pairs")
        for key, time, value, rate in zip(keys, times, values, rates, strict=True):
            place: Any = dict.get(self, key)
            if place is None:  # a series the keyframe had not
                self._index = None
                _update(self, ((key, len(self.times)),))
                self.times.append(time)
                self.values_.append(value)
                self.rates.append(rate)
            else:
                self.times[place], self.values_[place], self.rates[place] = time, value, rate

    def lay_counters(
        self, run: int, times: array[float], values: array[float], before: array[float],
        elapsed: float,
    ) -> None:  # fmt: skip
        """A newer batch of counters, one time a batch, laid as one slice from ``run``
        (:meth:`lay`): their rates, against ``before`` over ``elapsed`` (> 0) seconds
        (:func:`counter_rates`), made only for the readings made."""
        self.lay(len(values), times, values, before, run)  # ``rates`` holds ``before``
        if values:  # (no empty run: one inside another's would hide it from _rate)
            laid = (run, run + len(values), elapsed)
            self._against.insert(bisect_right(self._against, laid), laid)

    def _settle(self, start: int = 0, end: int | None = None) -> None:
        """The rates yet to be made of the runs among places ``start`` to ``end`` (all
        of them by default: every reading made), made."""
        kept = []
        for run in self._against:
            first, last, elapsed = run
            if last <= start or (end is not None and first >= end):
                kept.append(run)
                continue
            made = counter_rates(self.values_[first:last], self.rates[first:last], elapsed)
            self.rates[first:last] = made
        self._against = kept

    def _rate(self, place: int) -> float:
        """The rate at ``place`` (NaN: none), made if it is yet to be."""
        rate = self.rates[place]
        if self._against:
            found = bisect_right(self._against, (place, math.inf)) - 1
            if found >= 0 and place < self._against[found][1]:
                value, elapsed = self.values_[place], self._against[found][2]
                return (value - rate) / elapsed if value >= rate else math.nan  # as counter_rates
        return rate

    def latest(self, key: tuple[str, str]) -> tuple[float, float | None] | None:
        """A key's time and value (``None``: not there) without making its reading."""
        found: Any = dict.get(self, key)
        if found is None:
            return None
        if found.__class__ is int:
            value = self.values_[found]
            return self.times[found], None if value != value else value
        return found.time, found.value

    def drop_refs(self, refs: set[str]) -> None:
        """Forget every series of these refs (the rest keep their order)."""
        for key in [key for key in dict.__iter__(self) if key[0] in refs]:
            self._index = None
            dict.__delitem__(self, key)

    def summed(self, metrics: frozenset[str], kept: list[Any]) -> tuple[SummedKeys, list[Any]]:
        """The keys of these metrics and their values (NaN or ``None`` for none) without
        making their readings (what ``Store.restore_fleet`` sums: 32,000 at 1,000
        nodes). The same keys for the same keyframe schema while every key is still
        its place there (the store groups them once: :class:`SummedKeys`), kept in
        ``kept`` (the reader's: the last keyframe's places, the metrics, the keys and a
        gather of their places). For a seek's readings before the store takes them: a
        reading the store writes in a place is not seen."""
        index = self._index
        if index is not None and kept[0] is index and kept[1] == metrics:
            keys, take = kept[2], kept[3]
            return keys, list(take(self.values_))
        keys = SummedKeys(key for key in dict.__iter__(self) if key[1] in metrics)
        places: list[Any] = list(map(dict.get, repeat(self), keys))
        if len(places) > 1 and set(map(type, places)) == {int}:
            take = itemgetter(*places)
            if index is not None:
                kept[:] = [index, metrics, keys, take]
            return keys, list(take(self.values_))
        values_ = self.values_
        return keys, [values_[p] if p.__class__ is int else p.value for p in places]

    def _make(self, waiting: list[tuple[tuple[str, str], int]]) -> None:
        """Readings for these keys from their places, made in C where a loop can be."""
        if not waiting:
            return
        self._index = None
        self._settle()
        keys, places = zip(*waiting, strict=True)
        take = itemgetter(*places) if len(places) > 1 else lambda column: (column[places[0]],)
        values, rates = take(self.values_), take(self.rates)
        made = map(Reading, take(self.times), [None if v != v else v for v in values],
                   [None if r != r else r for r in rates])  # fmt: skip
        _update(self, zip(keys, made, strict=True))

    def _reading(self, place: int) -> Reading:
        value, rate = self.values_[place], self._rate(place)
        return Reading(self.times[place], None if value != value else value,
                       None if rate != rate else rate)  # fmt: skip

    def _made(self, key: tuple[str, str], found: Any) -> Reading:
        if found.__class__ is int:
            self._index = None
            found = self._reading(found)
            dict.__setitem__(self, key, found)
        return cast("Reading", found)

    def _make_all(self) -> None:
        with long_lived_objects():  # (as `Recording.at` does)
            items: Any = dict.items(self)
            self._make([(key, place) for key, place in items if place.__class__ is int])

    def __getitem__(self, key: tuple[str, str]) -> Reading:
        return self._made(key, dict.__getitem__(self, key))

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        found = dict.get(self, key, _ABSENT)
        return default if found is _ABSENT else self._made(key, found)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        # Defined here so that dict(...) and ``**`` go through ``keys`` and ``[]`` (a
        # plain dict's iterator would let them copy the places as they are).
        return dict.__iter__(self)

    def values(self) -> Any:
        self._make_all()
        return dict.values(self)

    def items(self) -> Any:
        self._make_all()
        return dict.items(self)

    def pop(self, key: tuple[str, str], *default: Any) -> Any:
        found = dict.get(self, key, _ABSENT)
        if found is not _ABSENT:
            self._made(key, found)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[tuple[str, str], Reading]:
        self._make_all()
        return dict.popitem(self)

    def setdefault(self, key: tuple[str, str], default: Any = None) -> Any:
        if key in self:
            return self[key]
        return dict.setdefault(self, key, default)

    def copy(self) -> dict[tuple[str, str], Reading]:
        self._make_all()
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self._make_all()
        if isinstance(other, LazyReadings):
            other._make_all()
        return dict.__eq__(self, other)

    def __or__(self, other: Any) -> Any:
        return self.copy() | other

    def __ror__(self, other: Any) -> Any:
        return other | self.copy()

    __hash__ = None

    def __repr__(self) -> str:
        self._make_all()
        return dict.__repr__(self)
