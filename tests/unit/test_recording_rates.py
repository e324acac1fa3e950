"""A seek's batches of counters: their rates made only with the readings made, the
same as made at once (a counter that went back, or not available: no rate)."""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import pytest

from console.core import engine as engine_module
from console.core.store import Reading
from console.recording import Recording
from console.recording import readings as readings_module
from console.recording.readings import LazyReadings, counter_rates
from console.sim.source import SimSource
from tests.unit.test_recording import demo_engine, recorded_states, store_state

nan = math.nan
KEYS = [(f"port/s/{i}", "port.tx_bytes") for i in range(6)]
BEFORE = [10.0, 10.0, nan, 5.0, 7.0, 1.0]
AFTER = [14.0, 9.0, 3.0, nan, 7.0, 2.0]
RATES = [2.0, None, None, None, 0.0, 0.5]  # over 2 s: a reset, NaN either side: none


def laid() -> LazyReadings:
    """A keyframe of six counters and a gauge, the counters' newer batch laid over them
    as one slice against the batch before it, 2 s earlier."""
    readings = LazyReadings()
    keys = [*KEYS, ("gpu/n/0", "gpu.temp")]
    readings.start({key: place for place, key in enumerate(keys)}, array("d", [1.0] * 7),
                   array("d", [0.0] * 7), array("d", [nan] * 7))  # fmt: skip
    readings.lay_counters(0, array("d", [3.0] * 6), array("d", AFTER), array("d", BEFORE), 2.0)
    return readings


def test_counter_rates_give_none_for_a_reset_or_not_available() -> None:
    made = counter_rates(array("d", AFTER), array("d", BEFORE), 2.0)
    assert [None if rate != rate else rate for rate in made] == RATES


def test_a_batch_of_counters_rates_are_made_with_each_reading_as_all_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[int] = []
    real = readings_module.counter_rates
    monkeypatch.setattr(readings_module, "counter_rates",
                        lambda *args: made.append(1) or real(*args))  # fmt: skip
    one_by_one = laid()
    assert [one_by_one[key] for key in KEYS] == [
        Reading(3.0, None if value != value else value, rate)
        for value, rate in zip(AFTER, RATES, strict=True)
    ]
    assert made == []  # a rate each, with its reading
    assert one_by_one[("gpu/n/0", "gpu.temp")] == Reading(1.0, 0.0, None)  # not in the run
    all_at_once = laid()
    assert [all_at_once.items()] and made == [1]  # every reading: the run's rates made first
    assert dict(all_at_once) == dict(one_by_one)
    made_at_once = counter_rates(array("d", AFTER), array("d", BEFORE), 2.0)
    assert all_at_once.rates[:6].tobytes() == made_at_once.tobytes()  # rates, not BEFORE


def test_a_batch_laid_over_counters_yet_to_have_rates_has_its_own_and_the_rest_theirs() -> None:
    """A newer batch over two of the counters (a slice, or keys apart): the rates laid
    are theirs; the others keep the counters' batch's."""
    for run in (True, False):
        readings = laid()
        over = array("d", [4.0, 4.0]), array("d", [20.0, 30.0]), array("d", [1.5, nan])
        if run:
            readings.lay(2, *over, run=2)
        else:
            readings.lay(KEYS[2:4], *over)
        got = [readings[key].rate for key in KEYS]
        assert got == [2.0, None, 1.5, None, 0.0, 0.5], run
        assert readings[KEYS[0]].value == 14.0 and readings[KEYS[2]].value == 20.0


def test_a_batch_of_no_counters_lays_no_run() -> None:
    """An empty batch of counters inside another's run hides none of its rates."""
    readings = laid()
    readings.lay_counters(2, array("d"), array("d"), array("d"), 1.0)
    assert [readings[key].rate for key in KEYS] == RATES


def test_a_seek_after_a_counter_reset_gives_it_no_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counters sent apart (batches of 16 readings: each a slice of counters only) and
    reset two cycles after a keyframe: the seek there gives them no rate, as the live
    store; a cycle later, their rates again."""
    monkeypatch.setattr(engine_module, "APPLY_SLICE", 16)
    used: list[int] = []
    real = LazyReadings.lay_counters
    monkeypatch.setattr(LazyReadings, "lay_counters",
                        lambda self, *args: used.append(1) or real(self, *args))  # fmt: skip
    engine = demo_engine()
    simulation = next(s.simulation for s in engine.sources if isinstance(s, SimSource))

    def reset_at_seven(cycle: int) -> None:
        if cycle == 7:  # (0 and 5 are keyframes)
            counters = simulation._counters
            for key in counters:
                counters[key] = 0.0  # every counter back to nothing: a reset

    live = recorded_states(engine, tmp_path / "rec", 9, 5, before_cycle=reset_at_seven)
    reset, after = sorted(live)[7:9]
    counters = [key for key, (_t, _v, rate) in live[reset - 1]["readings"].items()
                if rate is not None and key[1] == "port.tx_bytes"]  # fmt: skip
    assert len(counters) > 16
    assert all(live[reset]["readings"][key][2] is None for key in counters)
    with Recording(tmp_path / "rec") as recording:
        for when in (reset, after):
            used.clear()
            moment = recording.at(when)
            assert used, "the counters' batches are laid as slices"
            one_by_one = [moment.store.reading(*key) for key in counters]
            assert [reading.rate for reading in one_by_one if reading] == [
                live[when]["readings"][key][2] for key in counters
            ]
            assert store_state(recording.at(when).store) == live[when], when
    assert all(live[after]["readings"][key][2] is not None for key in counters)
