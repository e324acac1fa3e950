"""The simulated cluster: deterministic, sized, H100-like, with planted faults."""

from __future__ import annotations

import re

import pytest

from console.sim.cluster import GPU_MEMORY_MIB, GPU_POWER_LIMIT_W
from console.sim.simulation import Simulation
from tests.conftest import FIXTURES

H100_CAPTURE = FIXTURES / "nvidia-smi" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt"


def _values(batch, metric):  # type: ignore[no-untyped-def]
    return {s.ref: s.value for s in batch.as_samples() if s.metric == metric}


def test_same_seed_same_numbers_and_another_seed_differs() -> None:
    a, b, c = (Simulation(seed=seed, nodes=4) for seed in (7, 7, 8))
    for _ in range(3):
        first, second, other = a.step(), b.step(), c.step()
    assert [(s.ref, s.metric, s.value) for s in first.as_samples()] == [
        (s.ref, s.metric, s.value) for s in second.as_samples()
    ]
    assert _values(first, "gpu.util") != _values(other, "gpu.util")


def test_default_cluster_shape() -> None:
    batch = Simulation().step()
    kinds: dict[str, list] = {}
    for entity in batch.entities:
        kinds.setdefault(entity.kind, []).append(entity)
    compute = [n for n in kinds["node"] if n.attrs["role"] == "compute"]
    assert len(compute) >= 4
    assert len(kinds["gpu"]) >= 32
    tiers = {s.attrs["tier"] for s in kinds["switch"]}
    assert tiers == {"leaf", "spine"}
    host_ports = [p for p in kinds["port"] if p.parent and p.parent.startswith("node/")]
    assert all(p.attrs["speed_gbps"] == 400 for p in host_ports)
    training = [j for j in kinds["job"] if j.attrs["kind"] == "training"]
    assert any(len(j.attrs["nodes"]) >= 2 for j in training)


def test_h100_values_match_the_real_capture() -> None:
    capture = H100_CAPTURE.read_text()
    assert f"{GPU_POWER_LIMIT_W:.2f} W" in re.findall(r"Current Power Limit\s+: (.+)", capture)
    assert f"{GPU_MEMORY_MIB} MiB" in re.findall(r"Total\s+: (\d+ MiB)", capture)
    sim = Simulation()
    batch = sim.step()
    power = _values(batch, "gpu.power")
    assert all(60 <= p <= GPU_POWER_LIMIT_W for p in power.values())
    temps = _values(batch, "gpu.temp")
    assert all(30 <= t <= 90 for t in temps.values())
    assert set(_values(batch, "gpu.mem_total").values()) == {float(GPU_MEMORY_MIB)}
    assert set(_values(batch, "gpu.fan").values()) == {None}  # SXM: no fan, not available


def test_congested_link_scenario_plants_a_hot_uplink_on_the_victims_path() -> None:
    sim = Simulation(scenario="congested-link")
    injected = sim.faults.injected
    victim = next(j for j in sim.jobs if j.ref == injected["victim"])
    src, dst = victim.nodes
    path = [link for link, _ in sim.topology.hops(src, dst)]
    assert injected["link"] in path
    assert sim.topology.links[injected["link"]].tier == "uplink"
    for decoy in injected["decoys"]:
        assert decoy not in path
        assert not decoy.startswith("gpu/") or decoy.split("/")[1] not in victim.nodes
    sim.step()
    batch = sim.step()
    link = sim.topology.links[injected["link"]]
    tx = [
        s.value for s in batch.as_samples() if s.ref == link.a_port and s.metric == "port.tx_bytes"
    ]
    assert tx  # the sender of the hot uplink reports counters
    throughput = _values(batch, "job.throughput")
    assert throughput[victim.ref] < 0.5 * victim.baseline


def test_healthy_scenario_has_no_congestion() -> None:
    sim = Simulation(scenario="healthy")
    batch = sim.step()
    assert sim.faults.injected == {}
    waits = _values(batch, "port.xmit_wait")
    sim2 = sim.step()
    later = _values(sim2, "port.xmit_wait")
    assert all(later[ref] == waits[ref] for ref in waits)  # counters did not move
    for job in sim.jobs:
        assert _values(sim2, "job.throughput")[job.ref] > 0.9 * job.baseline


def test_size_is_configurable_up_to_a_thousand_nodes() -> None:
    sim = Simulation(nodes=1000, seed=3)
    batch = sim.step()
    nodes = [e for e in batch.entities if e.kind == "node" and e.attrs["role"] == "compute"]
    assert len(nodes) == 1000
    assert nodes[0].name == "node0001"
    assert len(sim.topology.leaves) > 30
    assert sim.faults.injected["victim"] == "job/4711"


def test_unknown_scenario_and_too_few_nodes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        Simulation(scenario="nope")
    with pytest.raises(ValueError, match="at least 4 nodes"):
        Simulation(nodes=2)


def test_one_node_view_for_an_agent_matches_the_whole_cluster() -> None:
    whole, agent, fabric = Simulation(seed=4), Simulation(seed=4), Simulation(seed=4)
    for _ in range(3):
        everything = whole.step()
        node = agent.step("node02")
        rest = fabric.step("fabric")
    assert {e.ref.split("/")[1] for e in node.entities} == {"node02"}
    mine = [(s.ref, s.metric, s.value) for s in node.as_samples()]
    assert mine == [(s.ref, s.metric, s.value) for s in everything.as_samples()
                    if s.ref.split("/")[1] == "node02"]  # fmt: skip
    assert {e.kind for e in rest.entities} == {"node", "port", "link", "switch", "job"}
    assert not any(s.ref.startswith("gpu/") for s in rest.as_samples())
    with pytest.raises(ValueError, match="no node 'node99'"):
        agent.step("node99")


def test_power_cap_and_rogue_process_scenarios() -> None:
    capped = Simulation(scenario="power-cap")
    batch = capped.step()
    limits = _values(batch, "gpu.power_limit")
    power = _values(batch, "gpu.power")
    for gpu in capped.faults.injected["gpus"]:  # type: ignore[attr-defined]
        assert limits[gpu] == 400.0 and power[gpu] <= 400.0
    attrs = {e.ref: e.attrs for e in batch.entities if e.kind == "gpu"}
    assert attrs["gpu/node01/0"]["throttle"] == ["software power cap"]
    rogue = Simulation(scenario="rogue-process")
    batch = rogue.step()
    gpu = str(rogue.faults.injected["gpu"])
    assert not any(gpu in job.attrs.get("gpus", []) for job in batch.entities if job.kind == "job")
    process = next(e for e in batch.entities if e.ref == gpu).attrs["processes"][0]
    assert (process["user"], process["pid"]) == ("nobody", 31337)
    assert _values(batch, "gpu.util")[gpu] > 85


@pytest.mark.parametrize("nodes", [9, 12, 16, 32, 33, 63])
def test_every_fleet_size_plays_its_scenario(nodes: int) -> None:
    # 9 to 63 nodes fit one 32-port leaf: no job could span two leaves (IndexError).
    from console.sim.simulation import Simulation

    simulation = Simulation(nodes=nodes)
    batch = simulation.step()
    assert sum(1 for e in batch.entities if e.ref.startswith("node/")) >= nodes
    victim = simulation.faults.injected["victim"]
    job = next(j for j in simulation.jobs if f"job/{j.id}" == victim)
    leaves = {simulation.topology.node_leaf[n] for n in job.nodes}
    assert len(leaves) == 2


def test_a_tick_works_out_each_jobs_pace_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Asked once per GPU, a job's pace (which looks at all its GPUs) cost GPUs² per job:
    # most of a 4,000-node tick, and so of the console's first frame.
    sim = Simulation(nodes=64)
    asked: list[str] = []
    work_out = Simulation._job_factor

    def counted(self: Simulation, job, *rest):  # type: ignore[no-untyped-def]
        asked.append(job.id)
        return work_out(self, job, *rest)

    monkeypatch.setattr(Simulation, "_job_factor", counted)
    sim.step()
    assert asked and sorted(asked) == sorted(job.id for job in sim.jobs)
    asked.clear()
    sim.step(sim.topology.nodes[0])  # one node's agent: only the jobs on that node
    on_node = {
        sim._job_of_gpu[g].id for g in sim._gpus[sim.topology.nodes[0]] if g in sim._job_of_gpu
    }
    assert sorted(asked) == sorted(on_node)
