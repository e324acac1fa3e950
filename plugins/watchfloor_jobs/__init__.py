"""Built-in jobs plugin: Slurm and jobs-file sources, the jobs pane and the job view."""

from __future__ import annotations

from typing import Any

from console.api import Pane, PaneContext, Plugin, SourceType
from watchfloor_jobs.slurm import (
    JOBS_FILE_OPTIONS,
    SLURM_OPTIONS,
    make_jobs_file_sources,
    make_slurm_sources,
)


def create_jobs_pane(context: PaneContext, ref: str | None) -> Any:
    """The pane, imported on first use: the agent and headless commands never load Textual."""
    from watchfloor_jobs.pane import create_jobs_pane as create

    return create(context, ref)


plugin = Plugin(
    name="jobs",
    version="0.1.0",
    source_types=(
        SourceType("slurm", make_slurm_sources, SLURM_OPTIONS, help="squeue --json"),
        SourceType("jobs-file", make_jobs_file_sources, JOBS_FILE_OPTIONS, help="YAML job list"),
    ),
    panes=(Pane("jobs", "Jobs", create_jobs_pane, opens=("job",), key="j"),),
)
"""What the entry point ``jobs`` resolves to."""
