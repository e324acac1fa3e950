"""A plugin whose source raises on every poll (a device that answers with garbage)."""

from __future__ import annotations

from typing import Any

from console.api import Batch, Pane, PaneContext, Plugin, Source, SourceContext, SourceType


class RaisingSource(Source):
    name = "raising"
    type = "raising"

    async def poll(self) -> Batch:
        raise RuntimeError("sensor bus 3 not responding")


def make(context: SourceContext) -> list[Source]:
    return [RaisingSource()]


def create(context: PaneContext, ref: str | None) -> Any:
    from console.api import PaneBase  # Textual only when the pane is shown

    return PaneBase(context, ref)


plugin = Plugin(
    name="raising",
    version="1.0",
    source_types=(SourceType("raising", make, local_default=True),),
    panes=(Pane("raising", "Raising", create),),
)
