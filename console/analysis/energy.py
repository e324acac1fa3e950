"""Energy since the console started, and today, per GPU: from energy counters where the
device has one, from power samples where it does not.

Counters are exact across missed polls (the device kept counting); a counter
that goes backwards was reset (driver reload, agent restart) and what it shows
now is counted as energy since that reset. Without a counter, power samples are
integrated (trapezoids); a gap longer than ``MAX_GAP`` seconds is not guessed at.
"""

from __future__ import annotations

import functools
import time as _time
from collections.abc import Iterable
from dataclasses import dataclass

from console.core.model import Finding
from console.core.store import Store

MAX_GAP = 10.0
"""Seconds between power samples beyond which the interval is left out."""
MAX_PLAUSIBLE_W = 5_000.0
"""No single device draws more: a counter jump implying more is a reset, not energy."""


@dataclass
class _Track:
    time: float
    counter: float | None
    power: float | None
    total: float = 0.0
    today: float = 0.0
    day: str = ""


@functools.lru_cache(maxsize=64)
def _day(time: float) -> str:
    # Kept per time: a fleet's GPUs share a poll's time, and this ran twice per GPU.
    return _time.strftime("%Y-%m-%d", _time.localtime(time))


def energy_step(track: _Track, time: float, counter: float | None, power: float | None) -> float:
    """Joules used between the track's last reading and this one."""
    elapsed = time - track.time
    if elapsed <= 0:
        return 0.0
    if counter is not None and track.counter is not None:
        delta = counter - track.counter
        if delta < 0:  # reset: the counter restarted from zero
            delta = counter
        return delta if delta <= MAX_PLAUSIBLE_W * elapsed else 0.0
    if power is not None and track.power is not None and elapsed <= MAX_GAP:
        return (power + track.power) / 2 * elapsed
    return 0.0


def integrate_energy(store: Store) -> Iterable[Finding]:
    """Record ``gpu.energy_total`` and ``gpu.energy_today`` (joules) for every GPU."""
    tracks: dict[str, _Track] = store.analysis_state.setdefault("energy", {})
    for gpu in store.of_kind("gpu"):
        power = store.reading(gpu.ref, "gpu.power")
        counter = store.reading(gpu.ref, "gpu.energy")
        reading = counter if counter is not None and counter.value is not None else power
        if reading is None:
            continue
        now = reading.time
        counter_value = counter.value if counter is not None else None
        power_value = power.value if power is not None else None
        track = tracks.get(gpu.ref)
        if track is None:
            track = tracks[gpu.ref] = _Track(now, counter_value, power_value, day=_day(now))
        else:
            used = energy_step(track, now, counter_value, power_value)
            if _day(now) != track.day:
                track.day, track.today = _day(now), 0.0
            track.total += used
            track.today += used
            track.time, track.counter, track.power = now, counter_value, power_value
        store.record(gpu.ref, "gpu.energy_total", track.total, now)
        store.record(gpu.ref, "gpu.energy_today", track.today, now)
    for gone in set(tracks) - set(store.entities):
        del tracks[gone]
    return []
