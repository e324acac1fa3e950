"""Built-in GPU plugin: the NVML source and the GPU pane."""

from __future__ import annotations

from console.api import Pane, Plugin, SourceType, lazy
from watchfloor_gpu.nvml import NVML_OPTIONS, make_nvml_sources

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
    panes=(
        Pane(
            "gpus",
            "GPUs",
            lazy("watchfloor_gpu.pane:create_gpu_pane"),
            opens=("gpu",),
            key="g",
            reads=("gpu",),
        ),
    ),
)
"""What the entry point ``gpu`` resolves to."""
