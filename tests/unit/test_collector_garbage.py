"""The collector's full garbage collections come on its timer, not on object counts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

from console.collector.garbage import NEVER, YOUNG_THRESHOLD, full_collections_every


async def test_full_collections_come_on_the_timer_and_the_thresholds_come_back() -> None:
    saved = gc.get_threshold()
    assert saved[0] < YOUNG_THRESHOLD  # (Python's default: 700)
    full = asyncio.Event()

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.set()

    gc.callbacks.append(seen)
    task = asyncio.create_task(full_collections_every(0.01))
    try:
        await asyncio.sleep(0)  # the task has begun
        assert gc.get_threshold() == (YOUNG_THRESHOLD, saved[1], NEVER)  # no automatic full pass
        await asyncio.wait_for(full.wait(), 5.0)  # the timer's
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.callbacks.remove(seen)
    assert gc.get_threshold() == saved
