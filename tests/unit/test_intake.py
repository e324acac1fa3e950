"""What a lying source may bring into the store: names, counts and times (issue 14.2, 14.3)."""

from __future__ import annotations

import math

import pytest

from console.analysis.clock import clock_skew
from console.analysis.cost import CostModel
from console.api import Batch, Entity, Sample, Source
from console.core.engine import EXPIRE_AFTER, Engine
from console.core.intake import MAX_METRICS_PER_REF
from console.core.store import Store

NOW = 1_800_000_000.0


class Scripted(Source):
    """Returns the batches it is given, one per poll."""

    name, type = "liar", "test"

    def __init__(self, batches: list[Batch], max_series: int | None = None) -> None:
        self.batches = batches
        if max_series is not None:
            self.max_series = max_series

    async def poll(self) -> Batch:
        return self.batches.pop(0)


def _engine(source: Source, clock: list[float]) -> Engine:
    return Engine(Store(), [source], clock=lambda: clock[0])


async def test_unknown_metric_names_are_refused_and_said_and_the_rest_lands() -> None:
    flood = [Sample("gpu/n1/0", f"gpu.invented_{i}", 1.0) for i in range(5000)]
    batch = Batch([Entity("gpu/n1/0", "GPU 0")], [Sample("gpu/n1/0", "gpu.util", 50.0), *flood])
    engine = _engine(Scripted([batch]), [NOW])
    await engine.collect()
    assert engine.store.value("gpu/n1/0", "gpu.util") == 50.0
    assert engine.store.metrics_of("gpu/n1/0") == ["gpu.util"]
    status = engine.statuses()[0]
    assert status.status == "ok"
    assert "refused 5000 samples of 5000 unknown metric names" in status.reason


async def test_a_source_owns_at_most_its_series_and_the_status_says_so() -> None:
    def batch(poll: int) -> Batch:  # new refs every poll, as the flooding agent did
        return Batch([], [Sample(f"gpu/n1/{poll}-{i}", "gpu.util", 1.0) for i in range(300)])

    engine = _engine(Scripted([batch(p) for p in range(10)], max_series=1000), [NOW])
    await engine.collect(cycles=10)
    assert engine.store.series_count("liar") == 1000
    assert len(list(engine.store.readings())) == 1000
    assert "refused 300 new series: over the cap of 1,000" in engine.statuses()[0].reason


def test_a_ref_has_at_most_max_metrics_per_ref_series(monkeypatch: pytest.MonkeyPatch) -> None:
    from console.core import store as store_module
    from console.core.model import METRICS

    assert len(METRICS) < MAX_METRICS_PER_REF  # the vocabulary itself fits
    monkeypatch.setattr(store_module, "MAX_METRICS_PER_REF", 5)
    store = Store()
    names = list(METRICS)[:8]
    refused = store.apply(Batch([], [Sample("gpu/n1/0", m, 1.0) for m in names]), "s", NOW)
    assert refused == 3
    assert store.metrics_of("gpu/n1/0") == sorted(names[:5])


async def test_series_nobody_sends_any_more_expire() -> None:
    clock = [NOW]
    first = Batch([Entity("gpu/n1/0", "GPU 0")],
                  [Sample("gpu/n1/0", "gpu.util", 1.0), Sample("gpu/n1/0", "gpu.temp", 40.0),
                   Sample("gpu/n1/99", "gpu.util", 1.0)])  # fmt: skip
    later = Batch([Entity("gpu/n1/0", "GPU 0")], [Sample("gpu/n1/0", "gpu.util", 2.0)])
    engine = _engine(Scripted([first, later]), clock)
    await engine.collect()
    clock[0] += EXPIRE_AFTER + 1
    await engine.collect()
    engine.store.expire(clock[0] - EXPIRE_AFTER)
    # gpu/n1/99 is no entity; gpu.temp is a name the live ref no longer sends
    assert [(r, m) for r, m, _ in engine.store.readings()] == [("gpu/n1/0", "gpu.util")]
    assert engine.store.series_count("liar") == 1


async def test_the_console_clock_is_now_a_source_ahead_cannot_move_it() -> None:
    ahead = Batch([Entity("node/n1", "n1")], [Sample("gpu/n1/0", "gpu.util", 1.0)], time=NOW + 900)
    engine = _engine(Scripted([ahead]), [NOW])
    await engine.collect()
    assert engine.store.time == NOW
    assert engine.store.reading("gpu/n1/0", "gpu.util").time == NOW  # type: ignore[union-attr]


async def test_absurd_and_non_finite_times_are_refused_with_the_reason() -> None:
    for bad in (1e300, math.inf, -1e300):
        batch = Batch([Entity("node/n1", "n1")], [], time=bad)
        engine = _engine(Scripted([batch]), [NOW])
        await engine.collect()
        status = engine.statuses()[0]
        assert status.status == "failed", bad
        assert "batch time" in status.reason
        assert engine.store.time is None
        CostModel().price_at(engine.store.time or NOW)  # no OverflowError downstream
    sample = Sample("gpu/n1/0", "gpu.util", 1.0, time=1e300)
    engine = _engine(Scripted([Batch([], [sample])]), [NOW])
    await engine.collect()
    assert "years from the console's clock" in engine.statuses()[0].reason


def test_a_skewed_node_is_a_finding_and_a_sane_one_is_not() -> None:
    store = Store()
    store.apply(Batch([Entity("node/a", "a", attrs={"clock_skew": 31_536_000.0}),
                       Entity("node/b", "b", attrs={"clock_skew": -2.0})]), "s", NOW)  # fmt: skip
    findings = clock_skew(store)
    assert [(f.ref, f.kind) for f in findings] == [("node/a", "clock-skew")]
    assert "365 days ahead of" in findings[0].title
