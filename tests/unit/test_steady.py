"""Steady values and stepped sparklines: what lists show over a slow SSH link."""

from __future__ import annotations

from console.api import SteadyValues, SteppedSparks, stepped_spark
from console.core.model import Batch, Sample
from console.core.store import Store
from console.ui.kit import spark


def test_jitter_under_the_step_is_not_redrawn_and_a_real_move_is() -> None:
    steady = SteadyValues({"gpu.power": 30.0})
    store = Store()
    shown = []
    for tick, watts in enumerate([600.0, 610.0, 590.0, 625.0, 450.0, 470.0, None]):
        store.apply(Batch(samples=[Sample("gpu/n/0", "gpu.power", watts)]), "s", float(tick))
        shown.append(steady.value(store, "gpu/n/0", "gpu.power"))
    assert shown == [600.0, 600.0, 600.0, 600.0, 450.0, 450.0, None]
    steady.forget(set())
    store.apply(Batch(samples=[Sample("gpu/n/0", "gpu.power", 470.0)]), "s", 9.0)
    assert steady.value(store, "gpu/n/0", "gpu.power") == 470.0  # forgotten: shown as read


def test_a_computed_figure_is_held_like_a_reading_and_forgotten_by_ref() -> None:
    steady = SteadyValues({"draw": 100.0})
    held = [steady.hold("node/a", "draw", w) for w in (2300.0, 2390.0, 2210.0, 2401.0)]
    assert held == [2300.0, 2300.0, 2300.0, 2401.0]
    assert steady.hold("node/a", "other", 1.0) == 1.0  # no step: every value shown
    assert steady.hold("node/b", "draw", 5.0) == 5.0
    assert len(steady) == 3
    steady.forget({"node/b"})
    assert len(steady) == 1
    assert steady.hold("node/a", "draw", 2350.0) == 2350.0


def test_the_stepped_spark_moves_once_per_step() -> None:
    readings: list[float | None] = [float(i % 7) * 10 for i in range(40)]
    # Every second of one step draws the same line; the next step draws another.
    assert len({stepped_spark(readings[:n], 10, 10, 100.0) for n in range(30, 40)}) == 1
    assert stepped_spark(readings[:30], 10, 10, 100.0) != stepped_spark(
        readings[:40], 10, 10, 100.0
    )
    assert len(stepped_spark(readings, 10, 10, 100.0)) == 4  # four complete steps
    assert len(stepped_spark(readings * 5, 10, 10, 100.0)) == 10  # never wider than asked
    # Before the first complete step: the readings as they come.
    assert stepped_spark([50.0, None], 10, 10, 100.0) == spark([50.0, None], 10, top=100.0)


def test_stepped_sparks_read_the_history_once_per_step() -> None:
    sparks = SteppedSparks(width=4, step=10, top=100.0)
    history: list[float | None] = [float(i) for i in range(20)]
    reads: list[int] = []

    def read() -> list[float | None]:
        reads.append(len(history))
        return history

    first = sparks.line("gpu/n/0", 100.0, read)
    assert first == " " * 2 + stepped_spark(history, 4, 10, 100.0)  # as wide as asked
    history += [100.0] * 10  # a big move within the same step: not drawn yet
    assert [sparks.line("gpu/n/0", t, read) for t in (101.0, 109.9)] == [first, first]
    assert reads == [20]
    assert sparks.line("gpu/n/0", 110.0, read) != first  # the next step draws it
    assert reads == [20, 30]
    sparks.line("gpu/n/1", 110.0, read)
    sparks.forget({"gpu/n/1"})
    assert len(sparks) == 1
