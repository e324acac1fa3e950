"""The simulated cluster: topology, jobs and traffic, deterministic for a seed.

Values are H100-like, taken from real captures (``nvidia-smi -q`` of an H100 80GB
HBM3: 81559 MiB framebuffer, 700 W limit, ~70 W and ~41 °C idle, ~59 °C and
1980 MHz SM under load). The sim keeps its own clock (one ``interval`` per tick,
from a fixed epoch) so that the same seed gives the same output on any machine.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from console.core.model import link_ref, make_ref, port_ref

EPOCH = 1_795_000_000.0
"""Sim time of tick 0 (2026-11-18 UTC): fixed, so output is reproducible."""
GPU_MODEL = "NVIDIA H100 80GB HBM3"
GPU_MEMORY_MIB = 81559
GPU_POWER_LIMIT_W = 700.0
PORT_SPEED_GBPS = 400


@dataclass
class SimJob:
    """A job running on the simulated cluster."""

    id: str
    name: str
    user: str
    kind: str
    """``training``, ``checkpoint`` or ``inference``."""
    nodes: list[str]
    """Node names."""
    gpus_per_node: int
    demand_gbps: float
    """Network demand of each of its flows when healthy."""
    baseline: float
    """Throughput when healthy (samples/s, or tokens/s for inference)."""
    unit: str
    start: float
    gpu_util: float
    """SM utilisation when healthy."""

    @property
    def ref(self) -> str:
        """``job/<id>``."""
        return make_ref("job", self.id)


@dataclass
class Flow:
    """Traffic from one node to another on behalf of a job."""

    job: str
    src: str
    dst: str
    demand_gbps: float
    label: int = 0
    """ECMP flow label (think UDP source port of a RoCE queue pair)."""


@dataclass
class Link:
    """A cable between two ports; direction a→b is 'up' for uplinks."""

    ref: str
    a_port: str
    b_port: str
    speed_gbps: float
    tier: str
    """``host`` (node↔leaf) or ``uplink`` (leaf↔spine)."""


@dataclass
class Topology:
    """Nodes, switches, ports and links of a two-tier leaf/spine fabric."""

    nodes: list[str]
    """Compute nodes (with GPUs)."""
    storage: list[str]
    """Storage servers: where checkpoints go; on a leaf of their own."""
    leaves: list[str]
    spines: list[str]
    node_leaf: dict[str, str]
    node_port: dict[str, str]
    """Each node's HCA port ref."""
    links: dict[str, Link] = field(default_factory=dict)
    host_link: dict[str, str] = field(default_factory=dict)
    """Node name → its host link ref."""
    uplink: dict[tuple[str, str], str] = field(default_factory=dict)
    """(leaf, spine) → uplink ref."""
    salt: int = 0
    """Mixed into the ECMP hash, so the seed decides which spine a flow takes."""

    def spine_for(self, src: str, dst: str, label: int = 0) -> str:
        """ECMP: the spine a flow from ``src`` to ``dst`` hashes onto."""
        key = f"{src}>{dst}#{label}" + (f"@{self.salt}" if self.salt else "")
        return self.spines[zlib.crc32(key.encode()) % len(self.spines)]

    def hops(self, src: str, dst: str, label: int = 0) -> list[tuple[str, bool]]:
        """Links a flow crosses, each with True when it runs a→b."""
        hops = [(self.host_link[src], True)]
        src_leaf, dst_leaf = self.node_leaf[src], self.node_leaf[dst]
        if src_leaf != dst_leaf:
            spine = self.spine_for(src, dst, label)
            hops.append((self.uplink[(src_leaf, spine)], True))
            hops.append((self.uplink[(dst_leaf, spine)], False))
        hops.append((self.host_link[dst], False))
        return hops


def build_topology(node_count: int, storage_count: int = 2, salt: int = 0) -> Topology:
    """A leaf/spine fabric sized for ``node_count`` nodes, one 400 Gb/s HCA port each.

    Storage servers hang off one more leaf after the compute leaves.
    """
    width = max(2, len(str(node_count)))
    nodes = [f"node{i + 1:0{width}d}" for i in range(node_count)]
    storage = [f"stor{i + 1:02d}" for i in range(storage_count)]
    # At least two compute leaves whatever the size: the scenarios need a job whose
    # nodes sit on two leaves (9 to 63 nodes on one 32-port leaf had none: IndexError).
    per_leaf = 2 if node_count <= 8 else min(32, (node_count + 1) // 2)
    leaf_count = (node_count + per_leaf - 1) // per_leaf + 1
    spine_count = max(2, min(8, leaf_count // 2))
    leaves = [f"leaf{i + 1:02d}" for i in range(leaf_count)]
    spines = [f"spine{i + 1:02d}" for i in range(spine_count)]
    topo = Topology(nodes, storage, leaves, spines, {}, {}, salt=salt)
    hosts = [(i // per_leaf, i % per_leaf, node) for i, node in enumerate(nodes)]
    hosts += [(leaf_count - 1, i, server) for i, server in enumerate(storage)]
    for leaf_index, slot, node in hosts:
        leaf = leaves[leaf_index]
        topo.node_leaf[node] = leaf
        a_port = port_ref(node, "mlx5_0:1")
        b_port = port_ref(leaf, f"p{slot + 1}")
        topo.node_port[node] = a_port
        link = Link(link_ref(a_port, b_port), a_port, b_port, PORT_SPEED_GBPS, "host")
        topo.links[link.ref] = link
        topo.host_link[node] = link.ref
    for leaf in leaves:
        for s_index, spine in enumerate(spines):
            a_port = port_ref(leaf, f"p{max(per_leaf, storage_count) + s_index + 1}")
            b_port = port_ref(spine, f"p{leaves.index(leaf) + 1}")
            link = Link(link_ref(a_port, b_port), a_port, b_port, PORT_SPEED_GBPS, "uplink")
            topo.links[link.ref] = link
            topo.uplink[(leaf, spine)] = link.ref
    return topo


def ring_flows(job: SimJob) -> list[Flow]:
    """All-reduce ring: each node sends to the next."""
    if len(job.nodes) < 2:
        return []
    pairs = zip(job.nodes, job.nodes[1:] + job.nodes[:1], strict=True)
    return [Flow(job.id, src, dst, job.demand_gbps) for src, dst in pairs]


def background_jobs(topo: Topology, taken: set[str], rng: random.Random) -> list[SimJob]:
    """Jobs over the nodes the named jobs leave free, so big clusters look busy."""
    jobs: list[SimJob] = []
    free = [node for node in topo.nodes if node not in taken]
    index = 0
    job_id = 5000
    names = ["mixtral-sft", "vit-huge", "bert-eval", "diffusion-xl", "rl-policy", "embed-batch"]
    users = ["amara", "bo", "chen", "dana", "emil", "farah"]
    while index < len(free):
        size = rng.choice([1, 2, 2, 4, 8])
        members = free[index : index + size]
        index += size
        if rng.random() < 0.15:
            continue  # leave some nodes idle
        job_id += 1
        kind = "inference" if size == 1 and rng.random() < 0.5 else "training"
        jobs.append(
            SimJob(
                id=str(job_id),
                name=rng.choice(names),
                user=rng.choice(users),
                kind=kind,
                nodes=members,
                gpus_per_node=8,
                demand_gbps=60.0,
                baseline=2400.0 if kind == "inference" else 150.0 * len(members),
                unit="tokens/s" if kind == "inference" else "samples/s",
                start=EPOCH - rng.randint(600, 86_400),
                gpu_util=70.0 if kind == "inference" else 93.0,
            )
        )
    return jobs
