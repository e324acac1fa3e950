"""Built-in fabric plugin: links by utilisation, and one link in detail."""

from __future__ import annotations

from console.api import Pane, Plugin, lazy

plugin = Plugin(
    name="fabric",
    version="0.1.0",
    panes=(
        Pane(
            "fabric",
            "Fabric",
            lazy("watchfloor_fabric.pane:create_fabric_pane"),
            opens=("link", "path"),
            key="f",
        ),
    ),
)
"""What the entry point ``fabric`` resolves to."""
