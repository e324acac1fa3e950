"""Tick-by-tick state of the simulated cluster, emitted as source batches.

Traffic is modelled as flows over ECMP paths; a link direction whose demand
exceeds its speed shares it out and counts congestion (``port_xmit_wait``, ECN
marks, CNPs), which slows the jobs whose flows cross it. Counters accumulate
from tick to tick, exactly as real ones do.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.core.model import Batch, Column, Entity, Sample, make_ref
from console.sim.cluster import (
    EPOCH,
    GPU_MEMORY_MIB,
    GPU_MODEL,
    GPU_POWER_LIMIT_W,
    Flow,
    SimJob,
    Topology,
    background_jobs,
    build_topology,
    ring_flows,
)
from console.sim.scenarios import Faults, named_jobs, plan_faults

LOST_GPU_METRICS = (
    "gpu.util", "gpu.mem_util", "gpu.mem_used", "gpu.mem_total", "gpu.temp", "gpu.power",
    "gpu.power_limit", "gpu.energy", "gpu.sm_clock", "gpu.mem_clock", "gpu.fan",
)  # fmt: skip
LOST_READINGS = (*LOST_GPU_METRICS, "gpu.xid")
"""What a GPU that fell off the bus reports: nothing but its XID."""
PORT_METRICS = (
    "port.tx_bytes", "port.rx_bytes", "port.xmit_wait", "port.ecn_marked", "port.cnp_sent",
    "port.symbol_errors", "port.discards",
)  # fmt: skip
GPU_METRICS = (
    "gpu.util", "gpu.mem_util", "gpu.mem_used", "gpu.mem_total", "gpu.temp", "gpu.power",
    "gpu.power_limit", "gpu.energy", "gpu.sm_clock", "gpu.mem_clock", "gpu.fan", "gpu.pcie_tx",
    "gpu.pcie_rx", "gpu.ecc_corrected_volatile", "gpu.ecc_uncorrected_volatile",
    "gpu.ecc_corrected_aggregate", "gpu.ecc_uncorrected_aggregate", "gpu.retired_pages_sbe",
    "gpu.retired_pages_dbe", "gpu.remapped_correctable", "gpu.remapped_uncorrectable",
    "gpu.nvlink_errors", "gpu.xid",
)  # fmt: skip
NODE_METRICS = ("node.cpu_util", "node.mem_used", "node.mem_total", "node.load1")
Row = tuple[str, tuple[str, ...], tuple[float | None, ...]]
"""One entity's readings in a tick: its ref, the metrics (one of the tuples above) and
their values; made into samples for one node's agent, or columns for the whole cluster."""
THROTTLED_FACTOR = 0.55
POWER_CAPPED_FACTOR = 0.7
"""Pace of a training job some of whose GPUs are held to a lower power limit."""
"""Pace of a synchronous training job with one thermally throttled GPU."""
STALLED_FACTOR = 0.38
"""Throughput of a job whose all-reduce crosses a saturated link (collectives are
tail-bound, so they lose far more than their bandwidth share)."""


@dataclass
class StepParts:
    """One tick's reports, split by who would report them."""

    time: float
    meta: dict[str, Any]
    groups: dict[str, tuple[list[Entity], list[Sample]]] = field(default_factory=dict)
    """Node name (or '' for the fabric) → its entities and samples."""
    job_entities: list[Entity] = field(default_factory=list)
    job_samples: list[Sample] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    """Every group's readings (what ``groups`` holds as samples, when asked for them)."""


LISTENERS = (
    {"addr": "0.0.0.0", "port": 22, "pid": 812, "process": "sshd"},
    {"addr": "0.0.0.0", "port": 9477, "pid": 1204, "process": "watchfloor"},
    {"addr": "127.0.0.1", "port": 6818, "pid": 990, "process": "slurmd"},
)
"""What a compute node listens on (nothing unexpected)."""


class _Paces:
    """Each job's pace this tick, worked out the first time it is asked for."""

    def __init__(self, work_out: Callable[[SimJob], float]) -> None:
        self._work_out = work_out
        self._known: dict[str, float] = {}

    def of(self, job: SimJob) -> float:
        pace = self._known.get(job.id)
        if pace is None:
            pace = self._known[job.id] = self._work_out(job)
        return pace


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


class Simulation:
    """A deterministic cluster: same seed, same scenario, same numbers."""

    def __init__(
        self,
        scenario: str = "congested-link",
        seed: int = 1,
        nodes: int = 4,
        gpus_per_node: int = 8,
        interval: float = 1.0,
        onset: float | None = None,
    ) -> None:
        """``onset``: seconds after the sim clock starts that the fault begins (negative:
        before the console starts; ``None``: the scenario's own, three minutes before)."""
        if nodes < 4:
            raise ValueError("the simulated cluster needs at least 4 nodes")
        self.scenario = scenario
        self.seed = seed
        self.interval = interval
        self.gpus_per_node = gpus_per_node
        self.topology: Topology = build_topology(nodes, salt=seed - 1)
        victim, neighbour, inference = named_jobs(self.topology, seed)
        taken = {n for job in (victim, neighbour, inference) for n in job.nodes}
        rng = random.Random(seed)
        self.jobs: list[SimJob] = [victim, neighbour, inference]
        self.jobs += background_jobs(self.topology, taken, rng)
        self.faults: Faults = plan_faults(scenario, self.topology, victim, neighbour, inference)
        if onset is not None:
            self.faults.onset = EPOCH + onset
        if self.faults.burst:
            # When it began, so a rewind can be checked against the second it says.
            self.faults.injected["onset"] = self.faults.onset
        self.tick = 0
        self._job_of_gpu: dict[str, SimJob] = {}
        for job in self.jobs:
            for node in job.nodes:
                for index in range(min(job.gpus_per_node, gpus_per_node)):
                    self._job_of_gpu[make_ref("gpu", node, index)] = job
        self._counters: dict[tuple[str, str], float] = defaultdict(float)
        self._pace: dict[str, float] = {}
        self._entities = self._make_entities()
        self._gpu_entity = {
            e.ref: e for es in self._entities.values() for e in es if e.kind == "gpu"
        }
        # Refs computed once: a tick of a 1,000-node cluster touches 100k samples.
        self._ports = {
            g: [e.ref for e in es if e.kind == "port"] for g, es in self._entities.items()
        }
        self._gpus = {
            n: [make_ref("gpu", n, i) for i in range(gpus_per_node)] for n in self.topology.nodes
        }

    # -- static description --------------------------------------------------

    def _make_entities(self) -> dict[str, list[Entity]]:
        """Entities grouped by the node they belong to ('' for the fabric)."""
        topo = self.topology
        groups: dict[str, list[Entity]] = defaultdict(list)
        for server in topo.storage:
            groups[server].append(
                Entity(make_ref("node", server), server, attrs={
                    "role": "storage", "leaf": make_ref("switch", topo.node_leaf[server]),
                    "gpus": 0,
                })
            )  # fmt: skip
        for n_index, node in enumerate(topo.nodes):
            node_ref = make_ref("node", node)
            groups[node].append(
                Entity(
                    node_ref,
                    node,
                    attrs={
                        "leaf": make_ref("switch", topo.node_leaf[node]),
                        "role": "compute",
                        "rack": f"rack{n_index // 4 + 1:02d}",
                        "gpu_model": GPU_MODEL,
                        "gpus": self.gpus_per_node,
                        "listening": [dict(item) for item in LISTENERS],
                        "integrity": self._integrity(node),
                    },
                )
            )
            for index in range(self.gpus_per_node):
                uid = f"{_stable(f'{self.seed}:{node}:{index}'):08x}"
                groups[node].append(
                    Entity(
                        make_ref("gpu", node, index),
                        f"GPU {index}",
                        parent=node_ref,
                        attrs={
                            "index": index,
                            "model": GPU_MODEL,
                            "uuid": f"GPU-{uid}-0000-0000-0000-{n_index:012x}",
                            "pci_bus_id": f"00000000:{0x18 + 0x10 * index:02X}:00.0",
                        },
                    )
                )
        for node, event in self.faults.tampered.items():
            ref = make_ref("event", node, f"integrity-{event['seq']}")
            name = f"{event['change']} {event['file']}"
            groups[node].append(Entity(ref, name, make_ref("node", node), dict(event)))
        for link in topo.links.values():
            for port, peer in ((link.a_port, link.b_port), (link.b_port, link.a_port)):
                owner, name = port.split("/")[1:]
                group = owner if owner in topo.node_leaf else ""
                parent = make_ref("node" if group else "switch", owner)
                groups[group].append(
                    Entity(
                        port,
                        name,
                        parent=parent,
                        attrs={
                            "speed_gbps": link.speed_gbps,
                            "link_layer": "InfiniBand",
                            "state": "ACTIVE",
                            "link": link.ref,
                            "peer": peer,
                        },
                    )
                )
            groups[""].append(
                Entity(
                    link.ref,
                    f"{link.a_port[5:]} ↔ {link.b_port[5:]}",
                    attrs={
                        "a": link.a_port,
                        "b": link.b_port,
                        "speed_gbps": link.speed_gbps,
                        "tier": link.tier,
                    },
                )
            )
        for tier, names in (("leaf", topo.leaves), ("spine", topo.spines)):
            for name in names:
                groups[""].append(Entity(make_ref("switch", name), name, attrs={"tier": tier}))
        return groups

    def _integrity(self, node: str) -> dict[str, Any]:
        """What the integrity source reports of /models on a compute node."""
        changed = int(node in self.faults.tampered)
        return {"paths": ["/models"], "files": 12, "bytes": 151_000_000_000, "verified": 12,
                "pending_bytes": 0, "changes": changed, "skipped": 0}  # fmt: skip

    # -- dynamics ------------------------------------------------------------

    def _flows(self, now: float) -> list[Flow]:
        flows = [flow for job in self.jobs for flow in ring_flows(job)]
        if now >= self.faults.onset:
            flows += self.faults.burst + self.faults.background
        if self.faults.ramp:
            share = min(1.0, max(0.0, (now - self.faults.onset) / self.faults.ramp_seconds))
            flows += [dataclasses.replace(f, demand_gbps=f.demand_gbps * share)
                      for f in self.faults.ramp]  # fmt: skip
        return flows

    def step(self, scope: str = "all") -> Batch:
        """Advance one tick and return what the sources would report.

        Args:
            scope: ``all``; ``fabric`` (switches, links, storage and jobs: what a
                console learns from switch telemetry and the scheduler); or one
                node's name (what that node's agent reports).
        """
        topo = self.topology
        if scope == "all":
            groups = [*topo.nodes, *topo.storage, ""]
        elif scope == "fabric":
            groups = [*topo.storage, ""]
        elif scope in self._entities:
            groups = [scope]
        else:
            raise ValueError(f"no node {scope!r} in the simulated cluster")
        parts = self._step(groups, with_jobs=scope in ("all", "fabric"))
        batch = Batch(time=parts.time, meta=parts.meta, columns=_columns(parts.rows))
        for group in groups:
            batch.entities += parts.groups[group][0]
        batch.entities += parts.job_entities
        batch.samples += parts.job_samples
        return batch

    def step_groups(self, groups: list[str], with_jobs: bool = True) -> StepParts:
        """Advance one tick; what each group (node name, or '' for the fabric) reports."""
        parts = self._step(groups, with_jobs, samples=True)
        parts.rows = []
        return parts

    def _step(self, groups: list[str], with_jobs: bool, samples: bool = False) -> StepParts:
        """Advance one tick: every group's entities and readings (``parts.rows``), and
        with ``samples`` each group's readings as samples too."""
        now = EPOCH + self.tick * self.interval
        tick = self.tick
        self.tick += 1
        topo = self.topology

        # Share each saturated link direction out among the flows that cross it.
        flows = self._flows(now)
        demand: dict[tuple[str, bool], float] = defaultdict(float)
        flow_hops = [topo.hops(f.src, f.dst, f.label) for f in flows]
        for flow, hops in zip(flows, flow_hops, strict=True):
            for hop in hops:
                demand[hop] += flow.demand_gbps
        scale = {hop: min(1.0, topo.links[hop[0]].speed_gbps / d) for hop, d in demand.items() if d}
        tx: dict[str, float] = defaultdict(float)  # port ref -> Gb/s
        rx: dict[str, float] = defaultdict(float)
        congested_jobs: set[str] = set()
        cnp: dict[str, float] = defaultdict(float)
        for flow, hops in zip(flows, flow_hops, strict=True):
            share = min(scale[hop] for hop in hops)
            achieved = flow.demand_gbps * share
            if share < 0.99 and flow.job and flow not in self.faults.burst:
                # A slowed collective stalls its job; a slowed bulk write does not.
                congested_jobs.add(flow.job)
                cnp[topo.node_port[flow.dst]] += flow.demand_gbps - achieved
            for link_ref, forward in hops:
                link = topo.links[link_ref]
                sender, receiver = (
                    (link.a_port, link.b_port) if forward else (link.b_port, link.a_port)
                )
                tx[sender] += achieved
                rx[receiver] += achieved
        oversubscribed: dict[str, float] = {}
        for (link_ref, forward), total in demand.items():
            link = topo.links[link_ref]
            if total > link.speed_gbps:
                sender = link.a_port if forward else link.b_port
                oversubscribed[sender] = total / link.speed_gbps - 1.0

        meta = {
            "scenario": self.scenario,
            "seed": self.seed,
            "nodes": len(topo.nodes),
            "injected": self.faults.injected,
        }
        parts = StepParts(time=now, meta=meta)
        # Each job's pace once a tick, not once per GPU of it: a job's factor looks at all
        # its GPUs, so asking per GPU cost GPUs² per job (most of a 4,000-node tick).
        # Filled as asked: one node's agent asks only for its own jobs.
        factors = _Paces(lambda job: self._job_factor(job, congested_jobs))
        for group in groups:
            # One random stream per group and tick: a node's numbers are the same
            # whether the whole cluster or only that node's agent is simulated.
            rng = random.Random(f"{self.seed}:{tick}:{group}")
            rows = [self._port_row(port, tx, rx, oversubscribed, cnp, rng)
                    for port in self._ports[group]]  # fmt: skip
            if group in self._gpus:
                rows += self._node_rows(group, factors, now, rng)
            parts.rows += rows
            # Copies: the simulator changes its own entities in place between ticks, and
            # the store tells a changed entity from an unchanged one by comparing them.
            entities = [
                Entity(e.ref, e.name, e.parent, dict(e.attrs)) for e in self._entities[group]
            ]
            parts.groups[group] = (entities, _samples(rows) if samples else [])
        if with_jobs:
            rng = random.Random(f"{self.seed}:{tick}:jobs")
            for job in self.jobs:
                entity, job_samples = self._job_state(job, factors.of(job), now, rng)
                parts.job_entities.append(entity)
                parts.job_samples += job_samples
        return parts

    def job_history(self, seconds: float) -> list[Sample]:
        """What the jobs reported over the ``seconds`` before the last tick.

        A training job's own metrics (or the scheduler) keep this history; a
        console that starts now learns each job's baseline, and when it stalled,
        from it.
        """
        now = EPOCH + (self.tick - 1) * self.interval
        steps = int(seconds / self.interval)
        samples = []
        for job in self.jobs:
            pace = self._pace.get(job.id, 1.0)
            rng = random.Random(f"{self.seed}:history:{job.id}")
            for back in range(steps, 0, -1):
                time = now - back * self.interval
                factor = pace if time >= self.faults.onset else 1.0
                value = job.baseline * factor * (1.0 + rng.uniform(-0.015, 0.015))
                samples.append(Sample(job.ref, "job.throughput", round(value, 1), time=time))
        return samples

    def _count(self, ref: str, metric: str, per_second: float) -> float:
        key = (ref, metric)
        if key not in self._counters:
            # Real counters are not zero when we first read them.
            self._counters[key] = float(_stable(f"{self.seed}:{ref}:{metric}") % 10**9)
        self._counters[key] += per_second * self.interval
        return self._counters[key]

    def _port_row(
        self,
        port: str,
        tx: dict[str, float],
        rx: dict[str, float],
        oversubscribed: dict[str, float],
        cnp: dict[str, float],
        rng: random.Random,
    ) -> Row:
        jitter = 1.0 + rng.uniform(-0.01, 0.01)
        tx_bps = tx.get(port, 0.0) * 1e9 / 8 * jitter
        rx_bps = rx.get(port, 0.0) * 1e9 / 8 * jitter
        over = oversubscribed.get(port, 0.0)
        return port, PORT_METRICS, (
            self._count(port, "port.tx_bytes", tx_bps),
            self._count(port, "port.rx_bytes", rx_bps),
            self._count(port, "port.xmit_wait", over * 4e6),
            self._count(port, "port.ecn_marked", over * 2e4),
            self._count(port, "port.cnp_sent", cnp.get(port, 0) * 50),
            self._count(port, "port.symbol_errors", 0.0),
            self._count(port, "port.discards", over * 10),
        )  # fmt: skip

    def _node_rows(self, node: str, factors: _Paces, now: float, rng: random.Random) -> list[Row]:
        node_ref = make_ref("node", node)
        rows: list[Row] = []
        busy = 0
        for index, gpu in enumerate(self._gpus[node]):
            job = self._job_of_gpu.get(gpu)
            if gpu in self.faults.xids:
                busy += job is not None
                rows.append(self._lost_gpu(gpu, self.faults.xids[gpu], now))
                continue
            rogue = self.faults.rogue.get(gpu)
            if rogue is not None:
                util = 92.0 + rng.uniform(-2.0, 2.0)  # a miner keeps the GPU busy
            elif job is None:
                util = 0.0
            else:
                busy += 1
                util = job.gpu_util * factors.of(job)
                util = min(100.0, max(0.0, util + rng.uniform(-2.5, 2.5)))
            hot = gpu in self.faults.hot_gpus
            limit = self.faults.power_caps.get(gpu, GPU_POWER_LIMIT_W)
            power = 69.0 + (GPU_POWER_LIMIT_W - 100.0) * util / 100.0 + rng.uniform(-8, 8)
            capped = gpu in self.faults.power_caps and power > limit - 5
            if capped:
                power = limit - rng.uniform(0.0, 4.0)  # held just under its cap
            temp = 38.0 + 0.26 * util + rng.uniform(-1.0, 1.0)
            if hot:
                temp = 87.0 + rng.uniform(0.0, 2.0)  # at the H100's slowdown point
            sm_clock = 345.0 if util < 1 else (1410.0 if hot else 1500.0 if capped else 1980.0)
            mem_used = 0.0 if job is None else 61_000.0 + 3_000.0 * (index % 4)
            self._gpu_state(gpu, job, util, mem_used, hot, capped, rogue)
            pcie = util * 2.4e8  # host↔GPU traffic while busy (B/s)
            rows.append((gpu, GPU_METRICS, (
                round(util, 1),
                round(util * 0.35, 1),
                mem_used,
                float(GPU_MEMORY_MIB),
                round(temp, 0),
                round(power, 2),
                limit,
                self._count(gpu, "gpu.energy", power),
                sm_clock,
                2619.0,
                None,  # fan: SXM parts have none, not available
                round(pcie * 0.5, 0),
                round(pcie, 0),
                0.0, 0.0, 0.0, 0.0,  # ECC errors
                None, None,  # retired pages: H100 remaps rows instead
                0.0, 0.0,  # remapped rows
                self._count(gpu, "gpu.nvlink_errors", 0.0),
                None,  # XID
            )))  # fmt: skip
        cpu = 4.0 + 9.0 * busy + rng.uniform(-2, 2)
        rows.append((node_ref, NODE_METRICS, (
            round(max(0.0, cpu), 1),
            2.1e11 + 1.5e10 * busy,
            2.0 * 1024**4,
            round(busy * 6.1 + rng.uniform(0, 1), 2),
        )))  # fmt: skip
        return rows

    def _gpu_state(
        self,
        gpu: str,
        job: SimJob | None,
        util: float,
        mem_used: float,
        hot: bool,
        capped: bool = False,
        rogue: dict[str, Any] | None = None,
    ) -> None:
        """The GPU's slow-changing facts, as the NVML source reports them."""
        attrs = self._gpu_entity[gpu].attrs
        attrs["pstate"] = "P0"
        if hot:
            attrs["throttle"] = ["software thermal slowdown", "hardware thermal slowdown"]
        elif capped:
            attrs["throttle"] = ["software power cap"]
        else:
            attrs["throttle"] = ["idle"] if util < 1 else []
        attrs["throttled"] = hot or capped
        attrs["pcie"] = "Gen5 x16"
        attrs["nvlink"] = "18/18 up"
        attrs["remap_pending"] = attrs["remap_failure"] = False
        attrs["health"] = "ok"
        if rogue is not None:
            attrs["processes"] = [{**rogue, "gpu_mem_mib": 9_800.0, "sm_share": round(util)}]
            return
        attrs["processes"] = (
            []
            if job is None
            else [
                {
                    "pid": 20_000 + _stable(gpu) % 40_000,
                    "user": job.user,
                    "command": f"python -m {job.kind} --run {job.name}",
                    "slurm_job": job.id,
                    "gpu_mem_mib": mem_used,
                    "sm_share": round(util),
                }
            ]
        )

    def _lost_gpu(self, gpu: str, xid: int, now: float) -> Row:
        """A GPU that fell off the bus: NVML answers nothing for it any more."""
        attrs = self._gpu_entity[gpu].attrs
        meaning = "GPU has fallen off the bus" if xid == 79 else "XID error"
        attrs.update(
            health=f"lost: XID {xid}: {meaning}",
            last_xid={"code": xid, "time": self.faults.onset, "meaning": meaning},
            throttle=None, throttled=False, processes=None,
        )  # fmt: skip
        return gpu, LOST_READINGS, (*(None for _ in LOST_GPU_METRICS), float(xid))

    def _job_factor(self, job: SimJob, congested_jobs: set[str]) -> float:
        """How much of its healthy pace a job keeps now."""
        gpus = [make_ref("gpu", n, i) for n in job.nodes for i in range(job.gpus_per_node)]
        if any(g in self.faults.xids for g in gpus):
            return 0.0  # the collective hangs waiting for a GPU that is gone
        if job.kind == "training" and any(g in self.faults.power_caps for g in gpus):
            return POWER_CAPPED_FACTOR
        hot = sum(g in self.faults.hot_gpus for g in gpus)
        if hot and job.kind == "training":
            return THROTTLED_FACTOR  # synchronous: every rank waits for the slow one
        factor = 1.0 - 0.45 * hot / max(1, len(gpus))
        return factor * (STALLED_FACTOR if job.id in congested_jobs else 1.0)

    def _job_state(
        self, job: SimJob, factor: float, now: float, rng: random.Random
    ) -> tuple[Entity, list[Sample]]:
        self._pace[job.id] = factor
        gpus = [
            make_ref("gpu", node, index)
            for node in job.nodes
            for index in range(min(job.gpus_per_node, self.gpus_per_node))
        ]
        entity = Entity(
            job.ref,
            job.name,
            attrs={
                "name": job.name,
                "user": job.user,
                "state": "RUNNING",
                "kind": job.kind,
                "nodes": [make_ref("node", n) for n in job.nodes],
                "gpus": gpus,
                "start": job.start,
                "throughput_unit": job.unit,
                "baseline_throughput": job.baseline,
            },
        )
        throughput = job.baseline * factor * (1.0 + rng.uniform(-0.015, 0.015))
        return entity, [Sample(job.ref, "job.throughput", round(throughput, 1))]


def _samples(rows: list[Row]) -> list[Sample]:
    """Rows as samples, in their order (what one node's agent reports)."""
    return [Sample(ref, metric, value) for ref, metrics, values in rows
            for metric, value in zip(metrics, values, strict=True)]  # fmt: skip


def _columns(rows: list[Row]) -> list[Column]:
    """Rows as columns: one per metric of each kind of row (rows of one kind share
    their refs list), the values turned from rows to columns in C."""
    kinds: dict[tuple[str, ...], tuple[list[str], list[tuple[float | None, ...]]]] = {}
    for ref, metrics, values in rows:
        kind = kinds.get(metrics)
        if kind is None:
            kind = kinds[metrics] = ([], [])
        kind[0].append(ref)
        kind[1].append(values)
    return [
        Column(metric, refs, list(values))
        for metrics, (refs, rows_values) in kinds.items()
        for metric, values in zip(metrics, zip(*rows_values, strict=True), strict=True)
    ]


__all__ = ["EPOCH", "Simulation"]
