"""Built-in power plugin: draw, energy and what it costs, and where it is wasted."""

from __future__ import annotations

from typing import Any

from console.api import Pane, PaneContext, Plugin


def create_power_pane(context: PaneContext, ref: str | None) -> Any:
    """The pane, imported on first use: the agent and headless commands never load Textual."""
    from watchfloor_power.pane import create_power_pane as create

    return create(context, ref)


plugin = Plugin(
    name="power",
    version="0.1.0",
    panes=(Pane("power", "Power", create_power_pane, key="p"),),
)
"""What the entry point ``power`` resolves to."""
