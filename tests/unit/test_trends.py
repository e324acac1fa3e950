"""Early warnings: a steady rise toward a limit is reported before the limit, with the
time left and what it was extrapolated from; noise and falls are not."""

from __future__ import annotations

import asyncio
import random

from console.analysis.power import configure_budgets
from console.analysis.trends import early_warnings, fit
from console.core.config import Config
from console.core.engine import Engine
from console.core.model import Batch, Entity, Sample
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store
from console.sim.simulation import Simulation


def _ramp_engine(interval: float) -> Engine:
    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    options = DemoOptions("link-ramp", 1, 4)
    sources = build_sources(Config(interval=interval), registry, options, local=False)
    return build_engine(sources, registry)


def test_link_ramp_warns_before_the_link_is_hot_with_an_estimate_that_holds() -> None:
    injected = Simulation("link-ramp", 1, 4).faults.injected
    engine = _ramp_engine(interval=5.0)
    first_warning: tuple[float, float] | None = None  # (when, estimated seconds left)
    first_hot = None
    evidence: list[str] = []

    async def run() -> None:
        nonlocal first_warning, first_hot, evidence
        for _ in range(110):  # 9 minutes of sim time, 5 s a tick
            await engine.collect(1)
            now = engine.store.time or 0.0
            for finding in engine.store.findings:
                if finding.ref != injected["link"]:
                    continue
                if finding.kind == "link-saturating" and first_warning is None:
                    minutes, _, seconds = finding.title.split("≈")[1].partition("m")
                    left = int(minutes) * 60 + int(seconds.rstrip("s"))
                    first_warning, evidence = (now, left), finding.evidence
                if finding.kind in ("link-hot", "link-congested") and first_hot is None:
                    first_hot = now

    asyncio.run(run())
    assert first_warning is not None and first_hot is not None
    warned_at, left = first_warning
    assert first_hot - warned_at >= 180  # minutes of notice, not one cycle
    assert abs((warned_at + left) - first_hot) <= 60  # the estimate was close
    assert evidence[0].startswith("utilisation ") and "samples of link.util" in evidence[0]
    assert evidence[1].startswith("extrapolated: reaches 90% in ≈")
    # It is still congestion that names the victim's cause once the link saturates.
    kinds = {f.kind for f in engine.store.findings if f.ref == injected["link"]}
    assert "link-saturating" not in kinds and "link-congested" in kinds


def test_a_healthy_cluster_has_no_early_warnings() -> None:
    """Jitter on thousands of steady series must not read as rises (1,024 GPUs, 5 min)."""
    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    sources = build_sources(Config(interval=5.0), registry, DemoOptions("healthy", 1, 128),
                            local=False)  # fmt: skip
    engine = build_engine(sources, registry)

    async def run() -> list[str]:
        kinds = []
        for _ in range(60):
            await engine.collect(1)
            kinds += [f.kind for f in engine.store.findings]
        return kinds

    kinds = asyncio.run(run())
    assert not {"link-saturating", "gpu-heating", "gpu-memory-degrading"} & set(kinds)


def test_fit_needs_a_steady_rise_over_enough_time() -> None:
    rng = random.Random(3)
    steady = [(t, 40 + 0.1 * t + rng.uniform(-0.5, 0.5)) for t in range(0, 180, 5)]
    trend = fit(steady)
    assert trend is not None and trend.fit > 0.95
    assert abs(trend.slope - 0.1) < 0.01
    eta = trend.eta(90.0)
    assert eta is not None and abs(eta - (90 - (40 + 0.1 * 175)) / 0.1) < 15
    noise = [(t, 50 + rng.uniform(-10, 10)) for t in range(0, 180, 5)]
    noisy = fit(noise)
    assert noisy is not None and noisy.fit < 0.8
    assert fit(steady[:4]) is None  # too few points
    assert fit(steady[:10]) is None  # too short a time (45 s)
    falling = fit([(t, 80 - 0.1 * t) for t in range(0, 180, 5)])
    assert falling is not None and falling.eta(90.0) is None


def _gpu_store() -> Store:
    store = Store()
    store.apply(Batch(entities=[Entity("node/n1", "n1", attrs={"rack": "r1"}),
                                Entity("gpu/n1/0", "GPU 0", parent="node/n1")]),
                "t", received=0.0)  # fmt: skip
    return store


def test_gpu_temperature_climbing_toward_its_throttle_point_warns() -> None:
    store = _gpu_store()
    findings = []
    for step in range(20):  # +0.5 °C every 10 s from 60 °C: 85 °C in about 7 minutes
        time = 1000.0 + step * 10
        store.apply(Batch(time=time, samples=[Sample("gpu/n1/0", "gpu.temp", 60 + step * 0.5)]),
                    "t", received=time)  # fmt: skip
        findings = list(early_warnings(store))
    heating = [f for f in findings if f.kind == "gpu-heating"]
    assert len(heating) == 1
    assert "throttle point in ≈" in heating[0].title
    assert heating[0].evidence[0].startswith("temperature 60 °C → 70 °C over 3m10s")
    assert "reaches 85 °C" in heating[0].evidence[1]


def test_growing_corrected_ecc_errors_and_xid_bursts_warn() -> None:
    store = _gpu_store()
    gpu = store.get("gpu/n1/0")
    assert gpu is not None
    findings = []
    for step in range(5):
        time = 1000.0 + step * 10
        gpu.attrs["last_xid"] = {"code": 13 + step, "time": time, "meaning": "x"}
        store.apply(
            Batch(
                time=time, samples=[Sample("gpu/n1/0", "gpu.ecc_corrected_volatile", 10.0 * step)]
            ),
            "t",
            received=time,
        )
        findings = list(early_warnings(store))
    kinds = {f.kind: f for f in findings}
    assert "corrected ECC errors 0 → 40 over 40s" in kinds["gpu-memory-degrading"].evidence[0]
    assert kinds["node-xid-burst"].ref == "node/n1"
    assert kinds["node-xid-burst"].title.startswith("5 XIDs on n1")


def test_rack_draw_rising_toward_its_budget_warns() -> None:
    configure_budgets({"r1": 700.0}, {})
    try:
        store = _gpu_store()
        findings = []
        for step in range(20):  # +4 W every 10 s from 400 W: the 700 W budget in ~9 min
            time = 1000.0 + step * 10
            store.apply(Batch(time=time, samples=[Sample("gpu/n1/0", "gpu.power",
                                                         400 + 4.0 * step)]),
                        "t", received=time)  # fmt: skip
            findings = list(early_warnings(store))
        rising = [f for f in findings if f.kind == "rack-power-rising"]
        assert len(rising) == 1 and rising[0].ref == "node/n1"
        assert "reaches 700 W" in rising[0].evidence[1]
        assert rising[0].title.startswith("rack r1 reaching its power budget in ≈9m")
    finally:
        configure_budgets({}, {})
