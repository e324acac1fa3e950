"""Built-in jobs plugin: the jobs pane and the job view (start of the drill-down)."""

from __future__ import annotations

from console.api import Pane, Plugin
from watchfloor_jobs.pane import create_jobs_pane

plugin = Plugin(
    name="jobs",
    version="0.1.0",
    panes=(Pane("jobs", "Jobs", create_jobs_pane, opens=("job",), key="j"),),
)
"""What the entry point ``jobs`` resolves to."""
