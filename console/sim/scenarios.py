"""Scenarios: what the simulator plants in the cluster, and where.

Each scenario decides its faults from the topology, so it works at any size, and
reports what it planted by ref (``injected``) so that tests and acceptance
checks can compare the console's conclusions with the truth.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from console.core.model import make_ref
from console.sim.cluster import EPOCH, Flow, SimJob, Topology

STALL_ONSET = EPOCH - 180.0
"""The congested-link burst began three minutes before the sim clock starts."""


@dataclass
class Faults:
    """What a scenario changes, read by the simulation at every tick."""

    burst: list[Flow] = field(default_factory=list)
    """Extra flows from ``onset`` on (a job's checkpoint written to storage)."""
    background: list[Flow] = field(default_factory=list)
    """Flows that belong to no job (storage replication): they slow no job down."""
    onset: float = STALL_ONSET
    hot_gpus: set[str] = field(default_factory=set)
    """GPU refs that run hot and clock down (thermal slowdown)."""
    xids: dict[str, int] = field(default_factory=dict)
    """GPU ref → XID it reported; XID 79 means the GPU fell off the bus."""
    power_caps: dict[str, float] = field(default_factory=dict)
    """GPU ref → enforced power limit (W) below the 700 W default."""
    rogue: dict[str, dict[str, Any]] = field(default_factory=dict)
    """GPU ref → a process no job owns (pid, user, command)."""
    ramp: list[Flow] = field(default_factory=list)
    """Flows whose demand grows linearly from zero at ``onset`` to full after ``ramp_seconds``."""
    ramp_seconds: float = 600.0
    tampered: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Node name → a model file whose hash changed (an integrity event's attributes)."""
    injected: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A named situation the simulator can play."""

    name: str
    description: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "every job runs at its baseline; no faults"),
        Scenario(
            "congested-link",
            "a checkpoint burst from one job saturates a leaf→spine link that "
            "another job's all-reduce crosses",
        ),
        Scenario(
            "thermal-throttle",
            "one GPU of the training job overheats and clocks down; the whole "
            "synchronous job waits for it",
        ),
        Scenario(
            "link-ramp",
            "a neighbour's storage traffic grows minute by minute over a leaf→spine link "
            "that another job's all-reduce crosses, until it saturates (early warnings)",
        ),
        Scenario("xid-error", "one GPU of the training job reports XID 79 and drops off the bus"),
        Scenario("power-cap", "half of the training job's GPUs are held to a 400 W limit"),
        Scenario("rogue-process", "an unknown process (a crypto miner) runs on an idle GPU"),
        Scenario("tampered-model", "a weight file of the served model changes on disk"),
    )
}
"""Every scenario the simulator knows, by name."""


def named_jobs(topo: Topology, seed: int = 1) -> tuple[SimJob, SimJob, SimJob]:
    """The victim training job, its noisy neighbour, and an inference service.

    The victim spans two leaves; the neighbour runs on the victim's first leaf,
    so its checkpoint writes to storage leave through the same leaf's uplinks.
    Where they sit depends on the seed (seed 1: the first nodes).
    """
    nodes = topo.nodes
    rng = random.Random(seed)
    src = nodes[0] if seed == 1 else rng.choice(nodes)
    others = [n for n in nodes if topo.node_leaf[n] != topo.node_leaf[src]]
    dst = others[0] if seed == 1 else rng.choice(others)
    same_leaf = [n for n in nodes if n != src and topo.node_leaf[n] == topo.node_leaf[src]]
    neighbour_node = same_leaf[0] if seed == 1 else rng.choice(same_leaf)
    rest = [n for n in nodes if n not in (src, dst, neighbour_node)]
    victim = SimJob(
        "4711", "llama-70b-pretrain", "mlteam", "training", [src, dst], 8,
        demand_gbps=180.0, baseline=412.0, unit="samples/s",
        start=EPOCH - 6 * 3600, gpu_util=96.0,
    )  # fmt: skip
    neighbour = SimJob(
        "4712", "sdxl-finetune", "vision", "training", [neighbour_node], 8,
        demand_gbps=0.0, baseline=96.0, unit="samples/s",
        start=EPOCH - 2 * 3600, gpu_util=88.0,
    )  # fmt: skip
    inference = SimJob(
        "4713", "llm-serve-8b", "platform", "inference", rest[:1], 4,
        demand_gbps=5.0, baseline=5200.0, unit="tokens/s",
        start=EPOCH - 30 * 3600, gpu_util=64.0,
    )  # fmt: skip
    return victim, neighbour, inference


def plan_faults(
    name: str, topo: Topology, victim: SimJob, neighbour: SimJob, bystander: SimJob
) -> Faults:
    """The faults of scenario ``name`` on this topology."""
    if name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        raise ValueError(f"unknown scenario {name!r} (known: {known})")
    if name == "healthy":
        return Faults()
    src, dst = victim.nodes
    if name == "thermal-throttle":
        hot = make_ref("gpu", src, 3)
        return Faults(hot_gpus={hot}, injected={"victim": victim.ref, "gpu": hot})
    if name == "power-cap":
        capped = {make_ref("gpu", src, index): 400.0 for index in range(4)}
        injected = {"victim": victim.ref, "gpus": sorted(capped), "limit_w": 400.0}
        return Faults(power_caps=capped, injected=injected)
    if name == "rogue-process":
        # The inference service uses 4 of its node's 8 GPUs: the last one is idle.
        idle = make_ref("gpu", bystander.nodes[0], 7)
        miner = {"pid": 31337, "user": "nobody", "command": "/tmp/.x/xmrig --donate-level 1",
                 "slurm_job": None}  # fmt: skip
        injected = {"gpu": idle, "pid": 31337, "command": miner["command"]}
        return Faults(rogue={idle: miner}, injected=injected)
    if name == "tampered-model":
        node = bystander.nodes[0]
        path = f"/models/{bystander.name}/model-00002-of-00004.safetensors"
        event = {
            "seq": 1, "category": "integrity", "severity": "critical", "change": "modified",
            "file": path, "model": bystander.name, "time": STALL_ONSET,
            "old_sha256": hashlib.sha256(f"{path}:published".encode()).hexdigest(),
            "new_sha256": hashlib.sha256(f"{path}:poisoned".encode()).hexdigest(),
        }  # fmt: skip
        injected = {"node": make_ref("node", node), "event": make_ref("event", node, "integrity-1"),
                    "file": path, "job": bystander.ref}  # fmt: skip
        return Faults(tampered={node: event}, injected=injected)
    if name == "xid-error":
        lost = make_ref("gpu", dst, 5)
        return Faults(xids={lost: 79}, injected={"victim": victim.ref, "gpu": lost, "xid": 79})
    if name == "link-ramp":
        return _link_ramp(topo, victim, neighbour)
    spine = topo.spine_for(src, dst)
    hot_uplink = topo.uplink[(topo.node_leaf[src], spine)]
    writer, target = neighbour.nodes[0], topo.storage[0]
    # The checkpoint's queue pair hashes onto the victim's spine: the one flow
    # label out of a few that ECMP sends that way.
    label = next(n for n in range(64) if topo.spine_for(writer, target, n) == spine)
    # Decoys: storage replication saturating the storage leaf's host links (a
    # congested link on no path of the victim's), and a throttled GPU in another job.
    replica = topo.storage[1]
    replication = Flow("", target, replica, 440.0)
    decoy_links = [topo.host_link[target], topo.host_link[replica]]
    decoy_gpu = make_ref("gpu", bystander.nodes[0], 2)
    return Faults(
        burst=[Flow(neighbour.id, writer, target, 360.0, label)],
        background=[replication],
        hot_gpus={decoy_gpu},
        injected={
            "victim": victim.ref,
            "link": hot_uplink,
            "neighbour": neighbour.ref,
            "decoys": [*decoy_links, decoy_gpu],
        },
    )


RAMP_SECONDS = 600.0
RAMP_GBPS = 330.0
"""The ramp's full demand: with the victim's 180 Gb/s, 127% of a 400 Gb/s uplink."""


def _link_ramp(topo: Topology, victim: SimJob, neighbour: SimJob) -> Faults:
    """The neighbour's writes to storage, growing from nothing when the sim clock starts,
    over the uplink the victim's all-reduce crosses: 90% busy after about 5.5 minutes,
    oversubscribed after about 7."""
    src, dst = victim.nodes
    spine = topo.spine_for(src, dst)
    uplink = topo.uplink[(topo.node_leaf[src], spine)]
    writer, target = neighbour.nodes[0], topo.storage[0]
    label = next(n for n in range(64) if topo.spine_for(writer, target, n) == spine)
    return Faults(
        ramp=[Flow("", writer, target, RAMP_GBPS, label)],
        ramp_seconds=RAMP_SECONDS,
        onset=EPOCH,
        injected={"victim": victim.ref, "link": uplink, "neighbour": neighbour.ref,
                  "ramp_seconds": RAMP_SECONDS},
    )  # fmt: skip
