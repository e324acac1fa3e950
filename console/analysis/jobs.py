"""Job stall detection: throughput (or GPU utilisation) collapsed against the job's
own recent baseline, for long enough to matter."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from console.analysis.thresholds import THRESHOLDS
from console.core.model import Entity, Finding
from console.core.store import Store, natural_sorted


@dataclass(frozen=True)
class Stall:
    """A stalled job: since when, and how much it lost."""

    since: float
    baseline: float
    now: float
    metric: str
    seen: float
    """Time of the newest reading that shows it stalled: from ``since`` to here is the
    stall the console holds readings of (its clock may be another source's)."""

    @property
    def loss(self) -> float:
        """Fraction of the baseline lost (0.62 for -62%)."""
        return 1.0 - self.now / self.baseline if self.baseline else 0.0


def attach_process_gpus(store: Store) -> Iterable[Finding]:
    """Add to each job the GPUs whose processes carry its ``SLURM_JOB_ID``.

    The scheduler does not always say which GPU indices a job got (``IDX:N/A``);
    the node agent sees the job id in each GPU process's environment.
    """
    found: dict[str, set[str]] = {}
    for gpu in store.of_kind("gpu"):
        for process in gpu.attrs.get("processes") or ():
            job_id = process.get("slurm_job") if isinstance(process, dict) else None
            if job_id:
                found.setdefault(f"job/{job_id}", set()).add(gpu.ref)
    for ref, gpus in found.items():
        job = store.get(ref)
        if job is None:
            continue
        known = set(job.attrs.get("gpus", []))
        if not gpus <= known:
            job.attrs["gpus"] = natural_sorted(known | gpus)
            nodes = {g.split("/")[1] for g in job.attrs["gpus"]}
            job.attrs["nodes"] = natural_sorted({*job.attrs.get("nodes", []),
                                                 *(f"node/{n}" for n in nodes)})  # fmt: skip
            store.touch(ref)  # changed in place: what was kept about it is recomputed
    return []


def job_gpu_util(store: Store) -> Iterable[Finding]:
    """Record ``job.gpu_util``: the mean utilisation of each job's GPUs (timed history)."""
    time = store.time
    if time is None:
        return []
    for job in store.of_kind("job"):
        utils = [
            u for g in job.attrs.get("gpus", []) if (u := store.value(g, "gpu.util")) is not None
        ]
        store.record(job.ref, "job.gpu_util", sum(utils) / len(utils) if utils else None, time)
    return []


PACE_METRICS = ("job.throughput", "job.gpu_util")
"""What a job is judged by, the first one it has (:func:`stall_of`)."""


def _series(store: Store, job: Entity) -> tuple[str, list[tuple[float, float]]]:
    for metric in PACE_METRICS:
        points = [(t, v) for t, v in store.timed_history(job.ref, metric) if v is not None]
        if points:
            return metric, points
    return "", []


def stall_of(store: Store, job: Entity) -> Stall | None:
    """The job's stall, if it is stalled now (``thresholds.stall_ratio`` of its
    baseline or less, for ``thresholds.stall_seconds`` or more)."""
    ratio, min_seconds = THRESHOLDS.stall_ratio, THRESHOLDS.stall_seconds
    reported = job.attrs.get("baseline_throughput")
    latest = store.value(job.ref, "job.throughput")
    if reported and latest is not None and latest >= ratio * float(reported):
        return None  # above its threshold now: not stalled, whatever its history says
    metric, points = _series(store, job)
    if not points:
        return None
    if reported and metric == "job.throughput":
        baseline = float(reported)
    else:
        # The job's own recent best: the top decile of what it did in the window.
        values = [v for _, v in points]
        baseline = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]
    if baseline <= 0:
        return None
    threshold = ratio * baseline
    since = None
    for time, value in reversed(points):
        if value >= threshold:
            break
        since = time
    if since is None or points[-1][0] - since < min_seconds:
        return None
    last_time, last_value = points[-1]
    return Stall(since=since, baseline=baseline, now=last_value, metric=metric, seen=last_time)


def job_loss(store: Store, ref: str) -> float | None:
    """Fraction of baseline throughput lost now (0.62 for -62%), if the job reports one."""
    job = store.get(ref)
    if job is None:
        return None
    baseline = job.attrs.get("baseline_throughput")
    now = store.value(ref, "job.throughput")
    if not baseline or now is None:
        return None
    return 1.0 - now / float(baseline)


def stalled_jobs(store: Store) -> Iterable[Finding]:
    """A finding for each stalled job, with when it started and how much was lost."""
    findings = []
    for job in store.of_kind("job"):
        stall = stall_of(store, job)
        if stall is None:
            continue
        unit = job.attrs.get("throughput_unit", "") if stall.metric == "job.throughput" else "%"
        what = "throughput" if stall.metric == "job.throughput" else "GPU utilisation"
        findings.append(
            Finding(
                job.ref,
                "job-stalled",
                "critical",
                f"stalled job {job.ref[4:]} {job.name}: -{stall.loss:.0%} {what}",
                since=stall.since,
                evidence=[
                    f"{what} {stall.now:,.0f} {unit} against a baseline of "
                    f"{stall.baseline:,.0f} {unit}",
                ],
            )
        )
    return findings


MEASURING = "MEASURING"
"""The state shown for a running job with no pace to judge it by (no throughput, no GPU
utilisation, now or in its history: :data:`PACE_METRICS`): not judged, so not a
healthy ``RUNNING``; a job whose nodes never report its pace stays so."""


def job_state(store: Store, ref: str) -> str:
    """The state to show: ``STALLED`` beats the scheduler's state, and a running job
    not judged yet is :data:`MEASURING`.

    ``STALLED`` comes from analysis, or, before any cycle ended on this store, from
    the job's own pace: a console mirroring its collector draws the first cycle's jobs,
    and their history, before the collector's findings land (``RUNNING`` was shown for
    a job the findings then called stalled)."""
    if any(f.kind == "job-stalled" and f.ref == ref for f in store.findings):
        return "STALLED"
    job = store.get(ref)
    if job is None:
        return "?"
    state = str(job.attrs.get("state", "?"))
    if state != "RUNNING":
        return state
    if all(store.value(ref, m) is None for m in PACE_METRICS) and not _series(store, job)[1]:
        return MEASURING  # (a gap in a pace it had: judged by that, as analysis does)
    if _before_findings(store) and _stalled_by_pace(store, job):
        return "STALLED"
    return state


def jobs_shown_stalled(store: Store) -> set[str]:
    """The jobs :func:`job_state` shows ``STALLED``, all at once (a list of every job
    orders by it): the analysis's stalls, and before any cycle ended on this store,
    each running job's own pace."""
    stalled = {f.ref for f in store.findings if f.kind == "job-stalled"}
    if _before_findings(store):
        stalled.update(job.ref for job in store.of_kind("job") if _stalled_by_pace(store, job))
    return stalled


def _before_findings(store: Store) -> bool:
    """Whether no analysis has spoken on this store yet: no cycle ended here, or the
    collector it mirrors sent the fleet before its first analysis (findings pending)."""
    return store.cycle == 0 or store.findings_pending


def _stalled_by_pace(store: Store, job: Entity) -> bool:
    """Whether a running job's own pace shows a stall (before the analysis says)."""
    return job.attrs.get("state") == "RUNNING" and stall_of(store, job) is not None
