"""Built-in host plugin: this machine's CPU, memory, NICs, InfiniBand ports, RAPL, hwmon."""

from __future__ import annotations

from console.api import Plugin, SourceType
from watchfloor_host.source import HOST_OPTIONS, make_host_sources

plugin = Plugin(
    name="host",
    version="0.1.0",
    source_types=(
        SourceType(
            "host",
            make_host_sources,
            options=HOST_OPTIONS,
            help="this machine through psutil and /sys",
            local_default=True,
        ),
    ),
)
"""What the entry point ``host`` resolves to."""
