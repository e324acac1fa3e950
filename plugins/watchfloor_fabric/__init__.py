"""Built-in fabric plugin: links by utilisation, and one link in detail."""

from __future__ import annotations

from typing import Any

from console.api import Pane, PaneContext, Plugin


def create_fabric_pane(context: PaneContext, ref: str | None) -> Any:
    """The pane, imported on first use: the agent and headless commands never load Textual."""
    from watchfloor_fabric.pane import create_fabric_pane as create

    return create(context, ref)


plugin = Plugin(
    name="fabric",
    version="0.1.0",
    panes=(Pane("fabric", "Fabric", create_fabric_pane, opens=("link", "path"), key="f"),),
)
"""What the entry point ``fabric`` resolves to."""
