"""The UI's mirror of a collector's store keeps only what the screen plots."""

from __future__ import annotations

from collections.abc import Callable

from console.core.store import DEFAULT_HISTORY
from console.serve.wire import relayed_findings
from console.ui.app import MIRROR_HISTORY, WatchfloorApp

AppFactory = Callable[..., WatchfloorApp]


async def test_a_mirror_keeps_a_short_history_and_a_collecting_console_the_full_one(
    make_app: AppFactory,
) -> None:
    mirror = make_app(analyzers=[relayed_findings])
    await mirror.engine.collect(MIRROR_HISTORY + 20)
    assert len(mirror.store.history("gpu/node01/0", "gpu.temp")) == MIRROR_HISTORY
    assert len(mirror.store.history("gpu/node01/0", "gpu.util")) == MIRROR_HISTORY + 20
    collecting = make_app()
    await collecting.engine.collect(MIRROR_HISTORY + 20)
    assert len(collecting.store.history("gpu/node01/0", "gpu.temp")) == MIRROR_HISTORY + 20
    assert MIRROR_HISTORY + 20 < DEFAULT_HISTORY
