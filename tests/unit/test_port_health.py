"""Port-health findings, and root-cause ranking with a broken link on a job's path."""

from __future__ import annotations

from console.analysis.causes import explain
from console.analysis.port_health import port_health
from console.core.config import Config
from console.core.model import Batch, Entity, Sample
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.core.store import Store

REGISTRY = load_registry()


def _link(state: str = "ACTIVE", **attrs: object) -> Entity:
    return Entity("link/gpu01/mlx5_0:1~leaf01/1", "gpu01 ↔ leaf01", attrs={
        "a": "port/gpu01/mlx5_0:1", "b": "port/leaf01/1", "speed_gbps": 400.0,
        "state": state, **attrs})  # fmt: skip


def _kinds(store: Store) -> dict[str, str]:
    return {f.kind: f.ref for f in port_health(store)}


def test_a_link_or_a_port_at_either_end_down_is_link_down() -> None:
    store = Store()
    store.apply(Batch(entities=[_link("DOWN", down_since=1.0)]), "ib", 1.0)
    assert _kinds(store) == {"link-down": "link/gpu01/mlx5_0:1~leaf01/1"}
    store = Store()
    port = Entity("port/gpu01/mlx5_0:1", "mlx5_0:1", "node/gpu01",
                  {"device": "mlx5_0", "state": "DOWN", "phys_state": "Polling"})  # fmt: skip
    store.apply(Batch(entities=[_link(), port]), "host", 1.0)
    findings = port_health(store)
    assert [(f.kind, f.ref) for f in findings] == [("link-down", _link().ref)]
    assert "port/gpu01/mlx5_0:1: DOWN/Polling" in findings[0].evidence


def test_an_rdma_port_that_was_up_and_goes_down_is_reported_without_a_topology() -> None:
    store = Store()
    up = {"device": "mlx5_0", "state": "ACTIVE", "speed_gbps": 400.0}
    store.apply(Batch(entities=[Entity("port/n1/mlx5_0:1", "mlx5_0:1", "node/n1", up)]), "h", 1.0)
    assert _kinds(store) == {}
    down = {**up, "state": "DOWN"}
    store.apply(Batch(entities=[Entity("port/n1/mlx5_0:1", "mlx5_0:1", "node/n1", down)]), "h", 2)
    assert _kinds(store) == {"link-down": "port/n1/mlx5_0:1"}
    # a never-up port (an empty cage) and an Ethernet veth are not findings
    store = Store()
    store.apply(Batch(entities=[Entity("port/n1/mlx5_1:1", "x", "node/n1", down),
                                Entity("port/n1/veth0", "veth0", "node/n1", {"state": "down"})]),
                "h", 1.0)  # fmt: skip
    assert _kinds(store) == {}


def test_below_the_speed_or_width_it_ran_at_is_link_degraded() -> None:
    store = Store()
    store.apply(Batch(entities=[_link(speed_gbps=200.0, expected_speed_gbps=400.0,
                                      width="2x", expected_width="4x")]), "ib", 1.0)  # fmt: skip
    findings = [f for f in port_health(store) if f.kind == "link-degraded"]
    assert len(findings) == 1
    assert findings[0].evidence == [
        "active at 200 Gb/s, expected 400 Gb/s",
        "width 2x, expected 4x",
    ]
    # a host port that ran at 400 and now runs at 200
    store = Store()
    for time, speed in ((1.0, 400.0), (2.0, 200.0)):
        port = Entity("port/n1/mlx5_0:1", "mlx5_0:1", "node/n1",
                      {"device": "mlx5_0", "state": "ACTIVE", "speed_gbps": speed})  # fmt: skip
        store.apply(Batch(entities=[port]), "host", time)
        kinds = _kinds(store)
    assert kinds == {"link-degraded": "port/n1/mlx5_0:1"}


def test_rising_error_and_retransmission_counters_are_link_errors_with_totals() -> None:
    store = Store()
    port = Entity("port/leaf01/1", "1", "switch/leaf01", {"link": _link().ref, "state": "ACTIVE"})
    for time, errors, downed in ((1.0, 100.0, 3.0), (2.0, 112.0, 3.0)):
        store.apply(Batch(entities=[_link(), port], samples=[
            Sample("port/leaf01/1", "port.symbol_errors", errors),
            Sample("port/leaf01/1", "port.link_downed", downed),
            Sample("port/leaf01/1", "port.out_of_sequence", 7.0 * time)]), "ib", time)  # fmt: skip
    findings = [f for f in port_health(store) if f.kind == "link-errors"]
    assert [(f.ref, f.severity, f.related) for f in findings] == [
        (_link().ref, "warning", ["port/leaf01/1"])]  # fmt: skip
    assert "port/leaf01/1: symbol errors +12/s, 112 since the last clear" in findings[0].evidence
    assert any("out-of-sequence" in line for line in findings[0].evidence)
    assert not any("link downed" in line for line in findings[0].evidence)  # flat: not rising


def test_a_counter_pinned_at_its_maximum_is_saturated_not_quiet() -> None:
    store = Store()
    port = Entity("port/leaf01/1", "1", "switch/leaf01", {"saturated": ["port.xmit_wait"]})
    store.apply(Batch(entities=[port], samples=[Sample(port.ref, "port.xmit_wait", None)]), "ib", 1)
    findings = port_health(store)
    assert [(f.kind, f.ref) for f in findings] == [("counter-saturated", "port/leaf01/1")]
    assert "not zero" in findings[0].evidence[0]


async def test_an_erroring_link_on_the_stalled_jobs_path_ranks_above_the_congested_one() -> None:
    sources = build_sources(Config(), REGISTRY, DemoOptions("congested-link", 1, 4), local=False)
    engine = build_engine(sources, REGISTRY)
    await engine.collect(2)
    injected = engine.store.source_meta["sim"]["injected"]
    before = explain(engine.store, str(injected["victim"]))
    assert before is not None and before.causes[0].ref == injected["link"]
    on_path = {hop[0] for paths in before.paths.values() for path in paths for hop in path}
    other = sorted(on_path - {injected["link"]})[0]
    end = str(engine.store.get(other).attrs["a"])  # type: ignore[union-attr]
    now = engine.store.time or 0.0
    for step, value in ((1.0, 10.0), (2.0, 500.0)):
        engine.store.apply(Batch(samples=[Sample(end, "port.symbol_errors", value)],
                                 time=now + step), "probe", now + step)  # fmt: skip
    engine.analyse()
    after = explain(engine.store, str(injected["victim"]))
    assert after is not None
    assert (after.causes[0].ref, after.causes[0].kind) == (other, "link-errors")
    assert injected["link"] in [cause.ref for cause in after.causes[1:]]
