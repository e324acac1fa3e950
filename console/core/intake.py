"""What one source's batch may bring into the store: known names, bounded counts, sane times.

A source may lie (a hostile agent) or be careless (a plugin with a typo). Three
rules keep one of them from costing the console its memory or its sense of time:

- **Names**: a sample's metric must be in the vocabulary (``METRICS``, which a
  plugin extends with its declared ``Plugin.metrics``). Others are refused and
  counted, and the source's status says so; the rest of the batch lands.
- **Counts**: a source owns at most ``Source.max_series`` (ref, metric) series
  and a ref at most :data:`MAX_METRICS_PER_REF`; new series past a cap are
  refused (the store enforces it, see ``Store.apply``), and the status says so.
  Series that stop arriving expire (``Store.expire``).
- **Time**: the console's own clock is "now". A batch or sample time that is
  not finite, or further than :data:`ABSURD_SKEW` from the console's clock, is
  refused with the source's batch; a time ahead of the console's clock is read
  as the console's clock (:func:`admit`), so no source can move "now"
  forward. An agent's clock only measures its skew (``clock-skew`` finding).

This module is the one place these limits live (issue 14), so the collector's
rework can carry them as they are.
"""

from __future__ import annotations

import math
from itertools import compress, repeat
from operator import attrgetter, is_not

from console.core.model import METRICS, Batch, Column

MAX_METRICS_PER_REF = 256
"""Series one ref may have (the vocabulary has ~60 names; plugins add a few)."""
MAX_SERIES_PER_SOURCE = 5_000_000
"""Default ``Source.max_series``: room for 10,000 nodes behind one Prometheus."""
ABSURD_SKEW = 10 * 365 * 86400.0
"""A time further than this from the console's clock is no clock at all (``1e300``)."""
SKEW_FINDING = 60.0
"""An agent whose clock is off by more than this (seconds) gets a ``clock-skew`` finding."""


_METRIC, _TIMES = attrgetter("metric"), attrgetter("times")


class IntakeError(ValueError):
    """The batch is refused whole; the message says why (shown as the source's reason)."""


def check_time(value: float, now: float, what: str) -> None:
    """Refuse a time that is not finite or absurdly far from the console's clock."""
    if not math.isfinite(value):
        raise IntakeError(f"{what} {value!r} is not a finite time")
    if abs(value - now) > ABSURD_SKEW:
        years = (value - now) / (365 * 86400)
        raise IntakeError(
            f"{what} {value:.6g} is {years:+.3g} years from the console's clock: refused"
        )


def admit(batch: Batch, now: float, simulated_clock: bool = False) -> list[str]:
    """Check ``batch`` against the rules above, in place.

    Samples with unknown metric names are removed from it; times ahead of ``now``
    (the console's clock) become ``now``, unless the source plays a simulation
    (``simulated_clock``: its clock is the demo's "now"). Returns the notes for
    the source's status (empty when all is well); raises :class:`IntakeError`
    when the batch must be refused whole (an impossible time).
    """
    unknown: dict[str, int] = {}
    admit_time(batch, now, simulated_clock)
    admit_part(batch, now, simulated_clock, unknown)
    return unknown_notes(unknown)


def admit_time(batch: Batch, now: float, simulated_clock: bool = False) -> None:
    """:func:`admit`'s rule on the batch's own time (before it is cut into parts that
    carry it)."""
    if batch.time is not None:
        check_time(batch.time, now, "batch time")
        if not simulated_clock:
            batch.time = min(batch.time, now)  # ahead of the console's clock: read as now


def admit_part(batch: Batch, now: float, simulated_clock: bool, unknown: dict[str, int]) -> None:
    """:func:`admit` on one part of a batch (a large one is checked a part at a step, every
    part before any lands): the samples of each unknown name refused are counted into
    ``unknown`` (:func:`unknown_notes` says them). The batch's own time is
    :func:`admit_time`'s, once for the whole batch."""
    columns = batch.columns
    if (
        not batch.samples
        and not any(map(_TIMES, columns))
        and all(map(METRICS.__contains__, map(_METRIC, columns)))
    ):
        return  # known names, no times of their own (an agent's stream): decided at C speed
    kept, refused = [], False
    for sample in batch.samples:
        if sample.metric not in METRICS:
            unknown[sample.metric] = unknown.get(sample.metric, 0) + 1
            refused = True
            continue
        if sample.time is not None:
            check_time(sample.time, now, f"time of {sample.ref[:60]} {sample.metric}")
            if sample.time > now and not simulated_clock:
                sample.time = now
        kept.append(sample)
    kept_columns = []
    for column in batch.columns:  # decided once per column: its metric, its times' range
        if column.metric not in METRICS:
            unknown[column.metric] = unknown.get(column.metric, 0) + len(column)
            refused = True
            continue
        if column.times is not None:
            _admit_times(column, now, simulated_clock)
        kept_columns.append(column)
    if refused:
        batch.samples = kept
        batch.columns = kept_columns


def unknown_notes(unknown: dict[str, int]) -> list[str]:
    """The status note for the samples :func:`admit_part` refused (none: no note)."""
    if not unknown:
        return []
    refused = sum(unknown.values())
    example = sorted(unknown)[0][:60]
    return [
        f"refused {refused} samples of {len(unknown)} unknown metric names "
        f"(e.g. {example!r}: not in the vocabulary nor a plugin's metrics)"
    ]


def _admit_times(column: Column, now: float, simulated_clock: bool) -> None:
    """:func:`admit`'s rule on sample times, for a column's: its earliest and latest
    time say whether any needs a look (the one to refuse is named as a sample's)."""
    times = column.times
    assert times is not None
    present: list[float] = list(compress(times, map(is_not, times, repeat(None))))  # type: ignore[arg-type]
    if not present:
        return
    earliest, latest = min(present), max(present)
    # A NaN or an infinity makes the sum not finite (min and max may step over a NaN).
    in_range = now - ABSURD_SKEW <= earliest <= latest <= now + ABSURD_SKEW
    if not (in_range and math.isfinite(sum(present))):
        for ref, time in zip(column.refs, times, strict=True):
            if time is not None:
                check_time(time, now, f"time of {ref[:60]} {column.metric}")
    if latest > now and not simulated_clock:
        column.times = [None if time is None else min(time, now) for time in times]


def capped_note(refused: int, max_series: int) -> str:
    """The status note for new series refused by the store's caps."""
    return (
        f"refused {refused} new series: over the cap of {max_series:,} per source "
        f"or {MAX_METRICS_PER_REF} metrics per ref"
    )
