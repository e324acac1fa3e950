"""The thresholds analysis uses, with defaults; ``thresholds:`` in the config overrides them."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Thresholds:
    """Where a reading becomes a finding."""

    link_hot_util: float = 90.0
    """Utilisation (%) of a link's busier direction from which it is reported."""
    link_suspect_util: float = 70.0
    """Utilisation (%) from which a link starts to score as congested."""
    xmit_wait_per_s: float = 1e5
    """``port_xmit_wait`` ticks/s above which a port counts as back-pressured."""
    xmit_wait_saturation: float = 1e6
    """``port_xmit_wait`` ticks/s at which back-pressure evidence is at its strongest."""
    stall_ratio: float = 0.6
    """A job below this fraction of its baseline is stalled."""
    stall_seconds: float = 20.0
    """How long it must stay below before it counts."""
    gpu_hot_c: float = 85.0
    """GPU core temperature (°C) from which it is reported hot."""
    power_capped_seconds: float = 60.0
    """How long a GPU may sit at a power cap before it is reported."""


THRESHOLDS = Thresholds()
"""The thresholds in force (one console per process)."""
NAMES = tuple(field.name for field in fields(Thresholds))


def configure(values: dict[str, float]) -> None:
    """Apply validated overrides from the config (defaults for the rest)."""
    defaults = Thresholds()
    for name in NAMES:
        setattr(THRESHOLDS, name, float(values.get(name, getattr(defaults, name))))
