"""Analysis that runs after each engine cycle: derived metrics and findings."""

from __future__ import annotations

from console.analysis.cause_cache import forget_moved_causes
from console.analysis.clock import clock_skew
from console.analysis.energy import integrate_energy
from console.analysis.fabric_join import join_by_guid
from console.analysis.gpus import gpu_health
from console.analysis.jobs import attach_process_gpus, job_gpu_util, stalled_jobs
from console.analysis.links import congested_links, derive_link_util
from console.analysis.port_health import port_health
from console.analysis.power import over_budget, power_capped
from console.analysis.trends import early_warnings

CORE_ANALYZERS = (
    join_by_guid,
    derive_link_util,
    attach_process_gpus,
    job_gpu_util,
    congested_links,
    port_health,
    stalled_jobs,
    gpu_health,
    integrate_energy,
    over_budget,
    power_capped,
    clock_skew,
    early_warnings,
    forget_moved_causes,
)
"""Run in this order: derived metrics first, then the findings that read them."""
