"""Built-in security plugin: unknown GPU processes, model file integrity, exposed
listeners, the agents' posture, refused requests and guard events."""

from __future__ import annotations

from console.api import Pane, Plugin, lazy
from watchfloor_security.audit import SECURITY_ANALYZERS
from watchfloor_security.exposure import EXPOSURE_SOURCE
from watchfloor_security.integrity import INTEGRITY_SOURCE

plugin = Plugin(
    name="security",
    version="0.1.0",
    source_types=(EXPOSURE_SOURCE, INTEGRITY_SOURCE),
    panes=(
        Pane(
            "security",
            "Security",
            lazy("watchfloor_security.pane:create_security_pane"),
            opens=("event",),
            key="s",
            reads=("gpu", "node"),
        ),
    ),
    analyzers=SECURITY_ANALYZERS,
)
"""What the entry point ``security`` resolves to."""
