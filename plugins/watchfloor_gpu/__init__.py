"""Built-in GPU plugin: the NVML source and the GPU pane."""

from __future__ import annotations

from typing import Any

from console.api import Pane, PaneContext, Plugin, SourceType
from watchfloor_gpu.nvml import NVML_OPTIONS, make_nvml_sources


def create_gpu_pane(context: PaneContext, ref: str | None) -> Any:
    """The pane, imported on first use: the agent and headless commands never load Textual."""
    from watchfloor_gpu.pane import create_gpu_pane as create

    return create(context, ref)


plugin = Plugin(
    name="gpu",
    version="0.1.0",
    source_types=(
        SourceType(
            "nvml",
            make_nvml_sources,
            options=NVML_OPTIONS,
            help="local NVIDIA GPUs through NVML",
            local_default=True,
        ),
    ),
    panes=(Pane("gpus", "GPUs", create_gpu_pane, opens=("gpu",), key="g"),),
)
"""What the entry point ``gpu`` resolves to."""
