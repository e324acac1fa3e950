"""Root-cause ranking against what the simulator planted (the truth is known)."""

from __future__ import annotations

import pytest

from console.analysis.causes import explain
from console.analysis.topology import Fabric
from console.core.config import Config
from console.core.engine import Engine
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry

REGISTRY = load_registry()


async def _engine(scenario: str = "congested-link", seed: int = 1, nodes: int = 4) -> Engine:
    sources = build_sources(Config(), REGISTRY, DemoOptions(scenario, seed, nodes), local=False)
    engine = build_engine(sources, REGISTRY)
    await engine.collect(2)
    return engine


async def test_for_100_seeds_the_injected_link_ranks_first_and_no_decoy_is_blamed() -> None:
    links = set()
    for seed in range(1, 101):
        engine = await _engine(seed=seed)
        injected = engine.store.source_meta["sim"]["injected"]
        result = explain(engine.store, str(injected["victim"]))
        assert result is not None and result.stall is not None, seed
        refs = [cause.ref for cause in result.causes]
        assert refs[0] == injected["link"], (seed, refs)
        assert not set(injected["decoys"]) & set(refs), (seed, refs)  # type: ignore[arg-type]
        assert injected["neighbour"] in refs, (seed, refs)
        links.add(injected["link"])
    assert len(links) > 1  # the seed moves the hot link


async def test_the_stall_is_dated_and_sized() -> None:
    engine = await _engine()
    result = explain(engine.store, "job/4711")
    assert result is not None and result.stall is not None
    assert engine.store.time - result.stall.since == pytest.approx(181, abs=2)  # 3 min
    assert result.stall.loss == pytest.approx(0.62, abs=0.03)
    document = result.to_json()
    assert document["stalled"] is True and document["causes"][0]["kind"] == "congested-link"


@pytest.mark.parametrize(
    ("scenario", "kind"), [("thermal-throttle", "gpu-throttled"), ("xid-error", "gpu-lost")]
)
async def test_a_sick_gpu_of_the_job_is_its_top_cause(scenario: str, kind: str) -> None:
    engine = await _engine(scenario)
    injected = engine.store.source_meta["sim"]["injected"]
    result = explain(engine.store, "job/4711")
    assert result is not None and result.stall is not None
    assert (result.causes[0].ref, result.causes[0].kind) == (injected["gpu"], kind)


async def test_healthy_jobs_are_not_stalled_and_nothing_is_suspected() -> None:
    engine = await _engine("healthy")
    result = explain(engine.store, "job/4711")
    assert result is not None and result.stall is None and result.causes == []


async def test_paths_are_all_equal_cost_routes() -> None:
    engine = await _engine()
    fabric = Fabric.from_store(engine.store)
    paths = fabric.paths("node01", "node03")
    assert len(paths) == 2  # one per spine
    assert all(len(path) == 4 for path in paths)
    assert fabric.paths("node01", "node02")[0][1] == (
        "link/node02/mlx5_0:1~leaf01/p2",
        False,
    )  # same leaf: no spine
    assert fabric.paths("node01", "nowhere") == []
