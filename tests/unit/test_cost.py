"""The cost model and the fleet's power and waste figures."""

from __future__ import annotations

import pytest

from console.analysis.cost import CostModel, PriceWindow, power_summary
from console.core.config import ConfigError, parse_config
from console.core.engine import Engine
from console.core.model import Batch, Entity, Sample
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store

REGISTRY = load_registry()


def test_cost_config_and_time_of_day_prices() -> None:
    config = parse_config(
        "cost:\n  currency: EUR\n  price_per_kwh: 0.2\n  pue: 1.5\n  gpu_hour: 3\n"
        "  time_of_day:\n    - {from: '22:00', to: '06:00', price_per_kwh: 0.1}\n",
        "c.yaml", REGISTRY.source_types,
    )  # fmt: skip
    model = config.cost
    assert (model.currency, model.pue, model.gpu_hour) == ("EUR", 1.5, 3.0)
    assert model.time_of_day == (PriceWindow(22 * 60, 6 * 60, 0.1),)
    night, day = 1_795_046_400 + 3 * 3600, 1_795_046_400 + 12 * 3600  # 03:00, 12:00 UTC
    assert model.price_at(night) == 0.1 and model.price_at(day) == 0.2
    assert model.energy_cost_per_hour(1000.0, day) == pytest.approx(0.3)
    for text, message in (
        ("cost:\n  pue: -1\n", "c.yaml:2: cost: 'pue' must be a non-negative number"),
        ("cost:\n  price: 1\n", "c.yaml:2: cost: unknown key 'price'"),
        ("cost:\n  time_of_day:\n    - {from: '25:00', to: '06:00', price_per_kwh: 1}\n",
         "c.yaml:3: cost: '25:00' is not a time of day"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            parse_config(text, "c.yaml", REGISTRY.source_types)
        assert str(info.value).startswith(message)


async def _demo(scenario: str = "congested-link") -> Engine:
    sources = build_sources(parse_config("", "c.yaml", REGISTRY.source_types), REGISTRY,
                            DemoOptions(scenario), local=False)  # fmt: skip
    engine = build_engine(sources, REGISTRY)
    await engine.collect(2)
    return engine


async def test_a_stalled_job_burns_money_that_grows_while_it_stays_stalled() -> None:
    engine = await _demo()
    model = CostModel(gpu_hour=2.0, price_per_kwh=0.1, pue=1.0)
    first = power_summary(engine.store, model)["waste"]["stalled_jobs"]
    assert [job["ref"] for job in first] == ["job/4711"]
    assert first[0]["gpus"] == 16 and first[0]["cost_per_hour"] > 32.0  # 16 GPU-hours + energy
    await engine.collect(30)  # 30 more seconds of sim time, still stalled
    later = power_summary(engine.store, model)["waste"]["stalled_jobs"][0]
    assert later["burned"] > first[0]["burned"]
    summary = power_summary(engine.store, model)
    assert summary["draw_w"] > 5_000 and summary["energy_kwh_since_start"] > 0
    assert summary["waste"]["idle_gpus"] == 4  # the inference node's spare GPUs
    serving = summary["inference"]
    assert [job["ref"] for job in serving] == ["job/4713"]
    expected = serving[0]["cost_per_hour"] / (serving[0]["tokens_per_s"] * 3600) * 1e6
    assert serving[0]["cost_per_million_tokens"] == pytest.approx(expected, rel=1e-3)


async def test_a_healthy_fleet_wastes_only_its_idle_gpus() -> None:
    summary = power_summary((await _demo("healthy")).store, CostModel())
    assert summary["waste"]["stalled_jobs"] == []


async def test_gpus_of_a_drained_or_down_node_are_not_idle_waste() -> None:
    engine = await _demo()
    store = engine.store
    assert power_summary(store, CostModel())["waste"]["idle_gpus"] == 4
    held = {gpu for job in store.of_kind("job") for gpu in job.attrs.get("gpus", [])}
    idle_nodes = sorted({g.parent for g in store.of_kind("gpu") if g.ref not in held and g.parent})
    # Slurm says the node with the spare GPUs is drained (sinfo): nobody waits for them.
    drained = [Entity(ref, ref[5:], attrs={"slurm_state": "drained", "slurm_reason": "XID 79"})
               for ref in idle_nodes]  # fmt: skip
    store.apply(Batch(entities=drained), "slurm:nodes", 0.0)
    waste = power_summary(store, CostModel())["waste"]
    assert (waste["idle_gpus"], waste["out_of_service_gpus"]) == (0, 4)
    assert waste["idle_cost_per_hour"] == 0.0


async def test_the_waste_reads_the_history_of_stalled_jobs_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = await _demo()
    store = engine.store
    read: list[str] = []
    timed_history = type(store).timed_history

    def counting(self: object, ref: str, metric: str) -> list[tuple[float, float | None]]:
        read.append(ref)
        return timed_history(store, ref, metric)

    monkeypatch.setattr(type(store), "timed_history", counting)
    stalled = power_summary(store, CostModel())["waste"]["stalled_jobs"]
    # A job above its reported baseline's threshold now is not stalled: its ten
    # minutes of history are not read (at 1,000 nodes, 250 jobs cost 80 ms a refresh).
    assert [job["ref"] for job in stalled] == ["job/4711"]
    assert set(read) == {"job/4711"}
    assert store.count("job") > 1


def test_a_stall_costs_only_the_span_its_own_readings_show_whatever_the_store_clock() -> None:
    # The job's pace fell at 1,030 and its readings show it stalled until 1,090; a
    # source on another clock (the wall, days ahead of a simulator's) moved the store's
    # time on. Only the 60 s the console holds readings of are counted.
    store = Store()
    job = Entity("job/7", "train", attrs={"gpus": ["gpu/n1/0", "gpu/n1/1"], "state": "RUNNING"})
    samples = [Sample("job/7", "job.throughput", 100.0 if t < 1030 else 10.0, time=float(t))
               for t in range(1000, 1091, 10)]  # fmt: skip
    store.apply(Batch(entities=[job], samples=samples, time=1090.0), "sched", 1090.0)
    store.apply(Batch(entities=[Entity("node/n1", "n1")], time=1_000_000.0), "wall", 1_000_000.0)
    model = CostModel(gpu_hour=3.6, price_per_kwh=0.0)
    [stalled] = power_summary(store, model)["waste"]["stalled_jobs"]
    assert stalled["burned"] == pytest.approx(2 * 3.6 * 60 / 3600)
    assert (stalled["since"], stalled["stalled_s"]) == (1030.0, 60.0)
