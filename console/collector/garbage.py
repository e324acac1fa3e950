"""The collector's cyclic garbage collection: full passes on a timer, not on counts.

At 1,000 nodes the store holds about a million objects, and what each poll keeps for a
while (entities whose processes changed, a source's meta) reaches the oldest
generation and triggers a full pass every few seconds: 0.2 to 0.5 s each on a shared
2-core machine, about a twentieth of the collector's CPU (bench/fleet_poll.py). The data
holds almost no reference cycles, so the automatic full pass is off while collecting and
one runs every :data:`FULL_EVERY` seconds; the young generations are collected as usual.
(The UI does the same, timed by the keyboard: ``console.ui.pauses``.)
"""

from __future__ import annotations

import asyncio
import gc

FULL_EVERY = 120.0
"""Seconds between full collections."""
NEVER = 1_000_000_000
"""A gen-2 threshold no run reaches."""


async def full_collections_every(seconds: float = FULL_EVERY) -> None:
    """Until cancelled: the automatic full pass off, one every ``seconds`` instead (the
    thresholds as they were once cancelled)."""
    saved = gc.get_threshold()
    gc.set_threshold(saved[0], saved[1], NEVER)
    try:
        while True:
            await asyncio.sleep(seconds)
            gc.collect()
    finally:
        gc.set_threshold(*saved)
