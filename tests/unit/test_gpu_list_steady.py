"""The GPU list's steady values and stepped sparklines (few bytes per second over SSH)."""

from __future__ import annotations

from console.model import Batch, Sample
from console.store import Store
from console.ui.kit import spark
from watchfloor_gpu.pane import SteadyValues, stepped_spark


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


def test_the_stepped_spark_moves_once_per_step() -> None:
    readings: list[float | None] = [float(i % 7) * 10 for i in range(40)]
    # Every second of one step draws the same line; the next step draws another.
    assert len({stepped_spark(readings[:n], 10, 10, 100.0) for n in range(30, 40)}) == 1
    assert stepped_spark(readings[:30], 10, 10, 100.0) != stepped_spark(
        readings[:40], 10, 10, 100.0
    )
    assert len(stepped_spark(readings, 10, 10, 100.0)) == 4  # four complete steps
    # Before the first complete step: the readings as they come.
    assert stepped_spark([50.0, None], 10, 10, 100.0) == spark([50.0, None], 10, top=100.0)
