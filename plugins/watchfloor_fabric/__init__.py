"""Built-in fabric plugin: links by utilisation, one link in detail, and the
``infiniband`` source (the fabric from infiniband-diags on a host on it)."""

from __future__ import annotations

from console.api import Pane, Plugin, SourceType, lazy
from watchfloor_fabric.infiniband import INFINIBAND_OPTIONS, make_infiniband_sources

plugin = Plugin(
    name="fabric",
    version="0.1.0",
    source_types=(
        SourceType(
            "infiniband",
            make_infiniband_sources,
            options=INFINIBAND_OPTIONS,
            help="the InfiniBand fabric through ibnetdiscover --ports and perfquery -x",
        ),
    ),
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
