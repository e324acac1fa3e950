"""Built-in jobs plugin: Slurm and jobs-file sources, the jobs pane and the job view."""

from __future__ import annotations

from console.api import Pane, Plugin, SourceType, lazy
from watchfloor_jobs.slurm import (
    JOBS_FILE_OPTIONS,
    SLURM_OPTIONS,
    make_jobs_file_sources,
    make_slurm_sources,
)

plugin = Plugin(
    name="jobs",
    version="0.1.0",
    source_types=(
        SourceType("slurm", make_slurm_sources, SLURM_OPTIONS, help="squeue --json"),
        SourceType("jobs-file", make_jobs_file_sources, JOBS_FILE_OPTIONS, help="YAML job list"),
    ),
    panes=(
        Pane(
            "jobs", "Jobs", lazy("watchfloor_jobs.pane:create_jobs_pane"), opens=("job",), key="j"
        ),
    ),
)
"""What the entry point ``jobs`` resolves to."""
