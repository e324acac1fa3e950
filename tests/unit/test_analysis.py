"""Analysis: link utilisation from port counters, and the findings built on it; what a
job's state says before it can be judged."""

from __future__ import annotations

from console.analysis import CORE_ANALYZERS
from console.analysis.causes import congestion
from console.analysis.jobs import MEASURING, job_state, jobs_shown_stalled
from console.analysis.links import congested_links, derive_link_util
from console.core.batch_check import check_batch
from console.core.engine import Engine
from console.core.model import Batch, Entity, Sample
from console.core.store import Store
from console.sim.simulation import Simulation
from console.sim.source import SimSource

LINK = "link/n1/p0~leaf1/p1"


def _link_store(tx_per_s: float, wait_per_s: float) -> Store:
    store = Store()
    entities = [
        Entity(LINK, "n1:p0 ↔ leaf1:p1", attrs={"a": "port/n1/p0", "b": "port/leaf1/p1",
                                                "speed_gbps": 400}),
        Entity("port/n1/p0", "n1:p0"),
        Entity("port/leaf1/p1", "leaf1:p1"),
    ]  # fmt: skip
    for tick in range(2):
        samples = [
            Sample("port/n1/p0", "port.tx_bytes", tick * tx_per_s),
            Sample("port/n1/p0", "port.xmit_wait", tick * wait_per_s),
            Sample("port/leaf1/p1", "port.tx_bytes", tick * 1e9),
        ]
        store.apply(Batch(entities, samples, time=float(tick)), "t", float(tick))
    derive_link_util(store)
    return store


def test_link_utilisation_comes_from_the_senders_byte_rate() -> None:
    store = _link_store(tx_per_s=25e9, wait_per_s=0)  # 200 Gb/s of 400
    assert store.value(LINK, "link.util_ab") == 50.0
    assert store.value(LINK, "link.util_ba") == 2.0
    assert store.value(LINK, "link.util") == 50.0


def test_a_saturated_back_pressured_link_is_congested_a_merely_busy_one_is_hot() -> None:
    congested = list(congested_links(_link_store(tx_per_s=50e9, wait_per_s=1e6)))
    assert [(f.kind, f.severity) for f in congested] == [("link-congested", "critical")]
    assert any("port_xmit_wait" in line for line in congested[0].evidence)
    busy = list(congested_links(_link_store(tx_per_s=47e9, wait_per_s=0)))
    assert [(f.kind, f.severity) for f in busy] == [("link-hot", "warning")]
    assert list(congested_links(_link_store(tx_per_s=20e9, wait_per_s=0))) == []


async def test_congested_link_scenario_gives_the_expected_findings() -> None:
    sim = Simulation(scenario="congested-link")
    engine = Engine(Store(), [SimSource(sim, 1.0)], CORE_ANALYZERS)
    await engine.collect(2)
    found = {(f.kind, f.ref) for f in engine.store.findings}
    injected = sim.faults.injected
    assert ("link-congested", injected["link"]) in found
    assert ("job-stalled", injected["victim"]) in found
    assert ("job-stalled", injected["neighbour"]) not in found
    *decoy_links, decoy_gpu = injected["decoys"]
    assert ("gpu-throttled", decoy_gpu) in found
    assert all(("link-congested", link) in found for link in decoy_links)


async def test_healthy_scenario_has_no_findings() -> None:
    engine = Engine(Store(), [SimSource(Simulation(scenario="healthy"), 1.0)], CORE_ANALYZERS)
    await engine.collect(2)
    assert engine.store.findings == []


def test_gpu_processes_tie_gpus_to_their_slurm_job() -> None:
    from console.analysis.jobs import attach_process_gpus

    store = Store()
    job = Entity("job/77", "bert", attrs={"nodes": ["node/gpu001"], "gpus": []})
    gpus = [
        Entity(f"gpu/gpu00{n}/{i}", "GPU", attrs={"processes": [{"pid": 1, "slurm_job": job_id}]})
        for n, i, job_id in ((1, 0, "77"), (2, 3, "77"), (1, 1, "78"))
    ]
    store.apply(Batch(entities=[job, *gpus]), "t", 1.0)
    attach_process_gpus(store)
    assert store.get("job/77").attrs["gpus"] == ["gpu/gpu001/0", "gpu/gpu002/3"]  # type: ignore[union-attr]
    assert store.get("job/77").attrs["nodes"] == ["node/gpu001", "node/gpu002"]  # type: ignore[union-attr]


def test_a_link_with_no_rate_yet_shows_its_utilisation_as_unknown_not_zero() -> None:
    # Counters give a rate from their second sample: before it, "0%" would read as a fact.
    store = Store()
    link = Entity(LINK, "n1:p0 ↔ leaf1:p1", attrs={"a": "port/n1/p0", "b": "port/leaf1/p1",
                                                  "speed_gbps": 400})  # fmt: skip
    samples = [Sample("port/n1/p0", "port.tx_bytes", 0.0)]
    store.apply(Batch([link, Entity("port/n1/p0", "n1:p0")], samples, time=0.0), "t", 0.0)
    derive_link_util(store)
    assert congestion(store, link)[1][0] == "utilisation n/a (no rate yet) of 400 Gb/s (a→b)"
    measured = congestion(_link_store(tx_per_s=25e9, wait_per_s=0), link)[1][0]
    assert measured == "utilisation 50% of 400 Gb/s (a→b)"


def test_a_running_job_with_no_pace_yet_is_measuring_not_running() -> None:
    store = Store()
    running = Entity("job/1", "train", attrs={"state": "RUNNING"})
    pending = Entity("job/2", "wait", attrs={"state": "PENDING"})
    store.apply(Batch([running, pending]), "slurm", 0.0)
    assert job_state(store, "job/1") == MEASURING  # not judged: no throughput, no GPU use
    assert job_state(store, "job/2") == "PENDING"  # not running: nothing to judge
    store.apply(Batch(samples=[Sample("job/1", "job.gpu_util", 95.0)], time=1.0), "a", 1.0)
    assert job_state(store, "job/1") == "RUNNING"
    # A poll where none of its GPUs said (a gap): judged by the pace it had, not anew.
    store.apply(Batch(samples=[Sample("job/1", "job.gpu_util", None)], time=2.0), "a", 2.0)
    assert job_state(store, "job/1") == "RUNNING"


async def test_a_stalled_pace_reads_stalled_before_the_findings_land() -> None:
    # A mirror draws the first cycle's jobs, with their history, before any analysis
    # (the collector's findings land last): the pace it has says stalled already.
    sim = Simulation(scenario="congested-link")
    store = Store()
    store.apply(check_batch(await SimSource(sim, 1.0).poll()), "console", 0.0)
    assert store.findings == [] and store.cycle == 0
    victim, neighbour = sim.faults.injected["victim"], sim.faults.injected["neighbour"]
    assert job_state(store, victim) == "STALLED"
    assert job_state(store, neighbour) == "RUNNING"
    assert jobs_shown_stalled(store) == {victim}  # what a list orders by, all at once
    # The mirror's own cycle ended (its first analysis), its collector's findings still
    # pending (the fleet is sent before the first analysis): still the pace's word.
    store.take_changes()
    store.findings_pending = True
    assert store.cycle > 0 and job_state(store, victim) == "STALLED"
    assert jobs_shown_stalled(store) == {victim}
    store.findings_pending = False  # the findings came, and say nothing of it: theirs
    assert job_state(store, victim) == "RUNNING" and jobs_shown_stalled(store) == set()
