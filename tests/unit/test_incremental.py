"""Analysis that keeps results between cycles finds exactly what a full recompute finds."""

from __future__ import annotations

import pytest

from console.analysis.cause_cache import forget_moved_causes
from console.analysis.causes import explain
from console.analysis.incremental import set_full
from console.core.config import Config
from console.core.engine import Engine
from console.core.model import Entity
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store

REGISTRY = load_registry()
CYCLES = 12


def _engine(scenario: str, nodes: int, full: bool) -> Engine:
    options = DemoOptions(scenario, 3, nodes)
    engine = build_engine(build_sources(Config(), REGISTRY, options, local=False), REGISTRY)
    set_full(engine.store, full)
    return engine


def _causes(store: Store) -> dict[str, object]:
    jobs = [job.ref for job in store.of_kind("job")]
    return {ref: (found.to_json() if (found := explain(store, ref)) else None) for ref in jobs}


def _break_a_link(store: Store, cycle: int) -> None:
    """Between polls, a cabled port goes down, then errors (the next poll heals it)."""
    links = store.of_kind("link")  # (a slow first poll may land a cycle late)
    port = store.get(str(links[0].attrs["a"])) if links else None
    if port is None:
        return
    faults = {4: {"state": "Down"}, 7: {"speed_gbps": 100.0}, 9: {"saturated": ["port.rx"]}}
    if cycle in faults:
        broken = Entity(port.ref, port.name, port.parent, {**port.attrs, **faults[cycle]})
        store.restore_entity(broken, store.entity_source[port.ref], 0.0)
    if cycle == 10:
        reading = store.reading(port.ref, "port.symbol_errors")
        assert reading is not None and reading.value is not None
        store.record(port.ref, "port.symbol_errors", reading.value + 500.0, reading.time + 1)


@pytest.mark.parametrize(
    "scenario", ["congested-link", "thermal-throttle", "xid-error", "link-ramp", "power-cap"]
)
async def test_each_cycle_incremental_and_full_analysis_agree(scenario: str) -> None:
    kept, full = _engine(scenario, 16, False), _engine(scenario, 16, True)
    ranked, kinds = 0, set()
    for cycle in range(CYCLES):
        await kept.collect(1)
        await full.collect(1)
        for engine in (kept, full):
            _break_a_link(engine.store, cycle)
            engine.analyse()  # a cycle in which only the fault moved
        kinds |= {finding.kind for finding in kept.store.findings}
        assert [f.to_json() for f in kept.store.findings] == [
            f.to_json() for f in full.store.findings
        ], cycle
        assert kept.analyzer_errors == full.analyzer_errors == {}
        causes = _causes(kept.store)
        assert causes == _causes(full.store), cycle
        assert causes == _causes(kept.store)  # asked again in the same cycle: the same
        ranked += sum(bool(c and c["causes"]) for c in causes.values())  # type: ignore[index]
    assert ranked  # the scenario planted something to rank
    assert {"link-down", "link-degraded", "link-errors", "counter-saturated"} <= kinds


async def test_a_gpu_that_turns_hot_in_place_is_found_though_no_reading_moved() -> None:
    engine = _engine("healthy", 4, False)
    await engine.collect(2)
    gpu = engine.store.of_kind("gpu")[0]
    assert not any(f.ref == gpu.ref for f in engine.store.findings)
    # A source re-sends the GPU throttled (its readings as they were): the entity changed.
    changed = Entity(gpu.ref, gpu.name, gpu.parent, {**gpu.attrs, "throttled": True})
    engine.store.restore_entity(changed, engine.store.entity_source[gpu.ref], 0.0)
    engine.analyse()
    assert any(f.ref == gpu.ref and f.kind == "gpu-throttled" for f in engine.store.findings)


async def test_kept_causes_are_dropped_when_a_link_on_the_path_moves() -> None:
    engine = _engine("congested-link", 4, False)
    await engine.collect(2)
    first = explain(engine.store, "job/4711")
    assert first is not None and first.causes[0].kind == "congested-link"
    assert explain(engine.store, "job/4711") is first  # nothing moved: kept
    forget_moved_causes(engine.store)
    engine.end_cycle()
    assert explain(engine.store, "job/4711") is first  # a cycle in which nothing moved
    top = first.causes[0].ref
    time = engine.store.time or 0.0
    for metric in ("link.util_ab", "link.util_ba"):
        engine.store.record(top, metric, 0.0, time)  # the link on its path went quiet
    again = explain(engine.store, "job/4711")  # asked before the cycle's analysis: fresh
    forget_moved_causes(engine.store)
    engine.end_cycle()
    assert explain(engine.store, "job/4711") is not again  # that cycle's moves dropped it
    assert again is not None and again is not first
    scores = [c.score for c in again.causes if c.ref == top and c.kind == "congested-link"]
    assert all(score < first.causes[0].score for score in scores)  # re-ranked: less busy


async def test_a_cycle_without_analysis_forgets_what_was_kept() -> None:
    engine = _engine("congested-link", 4, False)
    await engine.collect(2)
    first = explain(engine.store, "job/4711")
    engine.end_cycle()  # a cycle nobody analysed: its moves were never checked
    engine.end_cycle()
    assert explain(engine.store, "job/4711") is not first
