"""What wall mode looks like, from a small terminal to a 4K wall. Seeded simulator
(congested-link), frozen clock, the wall theme.

Update after an intended change with ``pytest tests/snapshots --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console.core.config import WallConfig
from console.ui.app import WatchfloorApp

AppFactory = Callable[..., WatchfloorApp]


SIZES = [(80, 24), (200, 60), (320, 90)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "200x60", "320x90"])
def test_wall(snap_compare, make_app: AppFactory, size: tuple[int, int]) -> None:
    """Seven tiles (GPUs up 32 of 32 ▲ WARN, 1 stalled job ✖ CRIT, 3 congested links
    ✖ CRIT, power in kW, energy cost per hour, 0 security findings, sources 1 of 1),
    the new congested link as an alert that holds the rotation on the Fabric pane
    (2:00 left), and the newest findings. At 80×24 the tiles are text on three lines
    and the alert and ribbon one line each; from 120×36 the numbers are big digits;
    at 320×90 the tiles and the ribbon grow. Nothing is cut off or overlaps."""
    app = make_app(theme="wall", wall=WallConfig())
    assert snap_compare(app, terminal_size=size)
