"""Why is this job stalled? Suspected causes, ranked, each with evidence and a ref.

Only what touches the job is considered: links on the shortest (ECMP) paths
between its nodes, its own GPUs, its own hosts. A congested link that none of
the job's paths crosses, or a sick GPU of another job, is never blamed for it.
For a congested link, the jobs whose hosts push the traffic through it are
named as noisy neighbours, in proportion to their share.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from console.analysis import cause_cache
from console.analysis.gpus import _gpu_finding
from console.analysis.jobs import Stall, stall_of
from console.analysis.links import congestion_score
from console.analysis.port_health import HEALTH_KINDS, health_on
from console.analysis.topology import Fabric, Hop, owner
from console.core.model import Entity
from console.core.store import Store

GPU_SCORES = {"gpu-lost": 0.95, "gpu-xid": 0.9, "gpu-throttled": 0.7, "gpu-hot": 0.5}
HEALTH_SCORES = {"link-down": 0.97, "link-errors": 0.85, "link-degraded": 0.8}
"""How strongly a broken link on the job's paths explains its stall."""
LOAD_KINDS = ("congested-link", "noisy-neighbour")
HOST_CPU_BUSY = 95.0


@dataclass
class Cause:
    """One suspected cause of a stall."""

    ref: str
    kind: str
    """``congested-link``, ``noisy-neighbour``, ``link-down``/``link-degraded``/
    ``link-errors`` (as the port-health finding), ``gpu-*`` (as the GPU finding) or
    ``host-starvation``."""
    score: float
    """0..1: how strongly the evidence points here."""
    evidence: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "score": round(self.score, 3)}


@dataclass
class Explanation:
    """The drill-down chain for one job."""

    job: str
    stall: Stall | None
    causes: list[Cause]
    paths: dict[tuple[str, str], list[list[Hop]]]
    """(src node, dst node) → the ECMP paths between them."""

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "stalled": self.stall is not None,
            "since": None if self.stall is None else self.stall.since,
            "loss": None if self.stall is None else round(self.stall.loss, 3),
            "causes": [cause.to_json() for cause in self.causes],
        }


def congestion(store: Store, link: Entity) -> tuple[float, list[str], bool]:
    """(score 0..1, evidence, a→b is the busier way) for one link."""
    score, forward = congestion_score(store, link)
    util = store.value(link.ref, "link.util_ab" if forward else "link.util_ba")
    sender = str(link.attrs.get("a" if forward else "b"))
    wait = store.value(sender, "port.xmit_wait") or 0.0
    ecn = store.value(sender, "port.ecn_marked") or 0.0
    # No rate until the counters have two samples: unknown, never a measured 0%.
    shown = "n/a (no rate yet)" if util is None else f"{util:.0f}%"
    evidence = [f"utilisation {shown} of {link.attrs.get('speed_gbps', '?')} Gb/s "
                f"({'a→b' if forward else 'b→a'})"]  # fmt: skip
    if wait:
        evidence.append(f"{sender}: port_xmit_wait {wait:,.0f}/s (back-pressure)")
    if ecn:
        evidence.append(f"{sender}: {ecn:,.0f} ECN-marked packets/s")
    return score, evidence, forward


def _hosts_by_job(store: Store) -> dict[str, list[str]]:
    hosts: dict[str, list[str]] = {}
    for job in store.of_kind("job"):
        for node in job.attrs.get("nodes", []):
            hosts.setdefault(node.removeprefix("node/"), []).append(job.ref)
    return hosts


def _neighbours(
    store: Store,
    fabric: Fabric,
    link: Entity,
    forward: bool,
    victim: str,
    jobs_on: dict[str, list[str]] | None = None,
) -> list[tuple[str, float, str]]:
    """Other jobs pushing traffic through the busy direction of ``link``, with shares
    (``jobs_on``: :func:`_hosts_by_job`, when the caller has it already)."""
    sender_side = owner(str(link.attrs.get("a" if forward else "b")))
    # Hosts hanging off the sending side (a leaf's hosts, or the host itself).
    hosts = [v for v in fabric.neighbours(sender_side) if len(fabric.neighbours(v)) == 1]
    if len(fabric.neighbours(sender_side)) == 1:
        hosts = [sender_side]
    if jobs_on is None:
        jobs_on = _hosts_by_job(store)
    volume: dict[str, float] = {}
    total = 0.0
    for host in hosts:
        for port in store.children(f"node/{host}", "port"):
            rate = store.value(port.ref, "port.tx_bytes") or 0.0
            total += rate
            for job in jobs_on.get(host, []):
                if job != victim:
                    volume[job] = volume.get(job, 0.0) + rate
    if not total:
        return []
    return sorted(
        ((job, rate / total, f"its hosts send {rate * 8 / 1e9:,.0f} Gb/s through this side")
         for job, rate in volume.items() if rate / total >= 0.2),
        key=lambda item: -item[1],
    )  # fmt: skip


def explain(store: Store, job_ref: str) -> Explanation | None:
    """The ranked causes of ``job_ref``'s stall (or of its slowness, if not stalled):
    kept from an earlier call while nothing it read has moved since
    (:func:`console.analysis.cause_cache.forget_moved_causes`)."""
    return cause_cache.explained(store, job_ref, _explain)


def _explain(store: Store, job_ref: str) -> Explanation | None:
    job = store.get(job_ref)
    if job is None:
        return None
    nodes = [ref.removeprefix("node/") for ref in job.attrs.get("nodes", [])]
    fabric = Fabric.from_store(store)
    paths: dict[tuple[str, str], list[list[Hop]]] = {}
    on_paths: dict[str, int] = {}
    for src, dst in itertools.permutations(nodes, 2):
        pair = paths[(src, dst)] = fabric.paths(src, dst)
        for link_ref in {hop[0] for path in pair for hop in path}:
            on_paths[link_ref] = on_paths.get(link_ref, 0) + 1
    causes: list[Cause] = []
    jobs_on: dict[str, list[str]] | None = None
    for link_ref in on_paths:
        link = store.get(link_ref)
        if link is None:
            continue
        score, evidence, forward = congestion(store, link)
        if score <= 0.05:
            continue
        evidence.append(f"on the paths of {on_paths[link_ref]} of the job's node pairs")
        if jobs_on is None:
            jobs_on = _hosts_by_job(store)
        neighbours = _neighbours(store, fabric, link, forward, job_ref, jobs_on)
        causes.append(Cause(link_ref, "congested-link", score, evidence,
                            related=[n for n, _, _ in neighbours]))  # fmt: skip
        for neighbour, share, why in neighbours:
            causes.append(Cause(neighbour, "noisy-neighbour", score * 0.9 * share,
                                [f"{share:.0%} of the traffic on {link_ref}: {why}"],
                                related=[link_ref]))  # fmt: skip
    for link_ref, found in health_on(store, on_paths).items():
        for health in found:
            evidence = [*health.evidence, f"on the paths of {on_paths[link_ref]} of the job's "
                        "node pairs"]  # fmt: skip
            causes.append(Cause(link_ref, health.kind, HEALTH_SCORES[health.kind], evidence,
                                related=list(health.related)))  # fmt: skip
    for gpu_ref in job.attrs.get("gpus", []):
        gpu = store.get(gpu_ref)
        finding = _gpu_finding(store, gpu) if gpu is not None else None
        if finding is not None:
            causes.append(Cause(gpu_ref, finding.kind, GPU_SCORES.get(finding.kind, 0.4),
                                finding.evidence or [finding.title]))  # fmt: skip
    for node in nodes:
        cpu = store.value(f"node/{node}", "node.cpu_util")
        if cpu is not None and cpu >= HOST_CPU_BUSY:
            causes.append(Cause(f"node/{node}", "host-starvation", 0.3,
                                [f"host CPU {cpu:.0f}% busy"]))  # fmt: skip
    # Strongest evidence first; a neighbour never outranks the link it congests, and
    # load never outranks a broken link on the same paths (a down or erroring link is
    # why traffic piles up elsewhere).
    broken = [c.score for c in causes if c.kind in HEALTH_KINDS]
    cap = min(broken) - 0.001 if broken else 1.0

    def rank(cause: Cause) -> tuple[float, bool, str]:
        score = min(cause.score, cap) if cause.kind in LOAD_KINDS else cause.score
        return (-score, cause.kind == "noisy-neighbour", cause.ref)

    causes.sort(key=rank)
    return Explanation(job_ref, stall_of(store, job), causes, paths)


def link_jobs(store: Store, link_ref: str) -> list[tuple[str, float, str]]:
    """Jobs pushing traffic through the busier direction of a link: (job, share, why)."""
    link = store.get(link_ref)
    if link is None:
        return []
    _, _, forward = congestion(store, link)
    return _neighbours(store, Fabric.from_store(store), link, forward, victim="")
