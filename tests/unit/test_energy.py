"""Energy integration: from counters (exact, across resets), from power otherwise."""

from __future__ import annotations

from console.analysis.energy import MAX_GAP, _Track, energy_step, integrate_energy
from console.core.model import Batch, Entity, Sample
from console.core.store import Store

GPU = "gpu/n1/0"


def _feed(store: Store, time: float, energy: float | None, power: float | None) -> None:
    samples = [Sample(GPU, "gpu.power", power)]
    if energy is not None:
        samples.append(Sample(GPU, "gpu.energy", energy))
    store.apply(Batch([Entity(GPU, "GPU 0")], samples, time=time), "s", time)
    integrate_energy(store)


def test_counter_deltas_are_summed_even_across_missed_polls() -> None:
    store = Store()
    for time, energy in ((100.0, 5_000.0), (101.0, 5_600.0), (105.0, 8_000.0)):
        _feed(store, time, energy, 600.0)
    assert store.value(GPU, "gpu.energy_total") == 3_000.0


def test_a_counter_reset_counts_what_was_used_since_it() -> None:
    store = Store()
    _feed(store, 100.0, 9_000_000.0, 600.0)
    _feed(store, 101.0, 9_000_600.0, 600.0)
    _feed(store, 102.0, 550.0, 600.0)  # agent restarted / driver reloaded
    assert store.value(GPU, "gpu.energy_total") == 600.0 + 550.0


def test_without_a_counter_power_is_integrated_and_gaps_are_not_guessed() -> None:
    store = Store()
    _feed(store, 100.0, None, 400.0)
    _feed(store, 102.0, None, 600.0)  # trapezoid: 1000 J
    _feed(store, 103.0, None, None)  # a missing sample: nothing added
    _feed(store, 104.0 + MAX_GAP, None, 500.0)
    assert store.value(GPU, "gpu.energy_total") == 1_000.0


def test_today_restarts_at_midnight() -> None:
    midnight = 1_795_046_400 // 86_400 * 86_400 + 86_400  # UTC: tests run with TZ=UTC
    store = Store()
    _feed(store, midnight - 20.0, 0.0, 100.0)
    _feed(store, midnight - 10.0, 1_000.0, 100.0)
    assert store.value(GPU, "gpu.energy_today") == 1_000.0
    _feed(store, midnight + 10.0, 3_000.0, 100.0)
    assert store.value(GPU, "gpu.energy_total") == 3_000.0
    assert store.value(GPU, "gpu.energy_today") == 2_000.0  # yesterday's 1,000 J left behind
    assert energy_step(_Track(0.0, None, 100.0), 2.0, None, 100.0) == 200.0
