"""Built-in power plugin: draw, energy and what it costs, and where it is wasted."""

from __future__ import annotations

from console.api import Pane, Plugin, lazy

plugin = Plugin(
    name="power",
    version="0.1.0",
    panes=(
        Pane(
            "power",
            "Power",
            lazy("watchfloor_power.pane:create_power_pane"),
            key="p",
            reads=("gpu", "node"),
        ),
    ),
)
"""What the entry point ``power`` resolves to."""
