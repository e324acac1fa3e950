"""Job stall detection: throughput collapsed against the job's own baseline."""

from __future__ import annotations

from collections.abc import Iterable

from console.model import Finding
from console.store import Store

STALL_RATIO = 0.6
"""A job below this fraction of its baseline throughput is stalled."""


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
    """A finding for each job whose throughput fell below ``STALL_RATIO`` of its baseline."""
    findings = []
    for job in store.of_kind("job"):
        loss = job_loss(store, job.ref)
        if loss is None or loss < 1.0 - STALL_RATIO:
            continue
        unit = job.attrs.get("throughput_unit", "")
        now = store.value(job.ref, "job.throughput") or 0.0
        findings.append(
            Finding(
                job.ref,
                "job-stalled",
                "critical",
                f"stalled job {job.ref[4:]} {job.name}: -{loss:.0%} throughput",
                evidence=[
                    f"throughput {now:,.0f} {unit} against a baseline of "
                    f"{float(job.attrs['baseline_throughput']):,.0f} {unit}"
                ],
            )
        )
    return findings


def job_state(store: Store, ref: str) -> str:
    """The state to show: ``STALLED`` (from analysis) beats the scheduler's state."""
    if any(f.kind == "job-stalled" and f.ref == ref for f in store.findings):
        return "STALLED"
    job = store.get(ref)
    return str(job.attrs.get("state", "?")) if job else "?"
