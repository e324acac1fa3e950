"""The collector's cyclic garbage collection: full passes on a timer, not on counts.

At 1,000 nodes the store holds about a million objects, and what each poll keeps for a
while (entities whose processes changed, a source's meta) reaches the oldest
generation and triggers a full pass every few seconds: 0.2 to 0.5 s each on a shared
2-core machine, about a twentieth of the collector's CPU (bench/fleet_poll.py). The data
holds almost no reference cycles, so the automatic full pass is off while collecting and
one runs every :data:`FULL_EVERY` seconds (the UI does the same, timed by the keyboard:
``console.ui.pauses``). The youngest generation is collected after
:data:`YOUNG_THRESHOLD` allocations, not 700: a poll's objects mostly go by reference
counting, few are left over, and the young passes at 700 came five times a second at a
few milliseconds each (0.8 s of CPU in 30 s at 1,000 nodes; at 10,000: one pass, 0.04 s).
"""

from __future__ import annotations

import asyncio
import gc

FULL_EVERY = 120.0
"""Seconds between full collections."""
NEVER = 1_000_000_000
"""A gen-2 threshold no run reaches."""
YOUNG_THRESHOLD = 10_000
"""Allocations (less deallocations) between collections of the youngest generation."""


async def full_collections_every(seconds: float = FULL_EVERY) -> None:
    """Until cancelled: the automatic full pass off, one every ``seconds`` instead, and
    young passes after :data:`YOUNG_THRESHOLD` (the thresholds as they were once
    cancelled)."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], YOUNG_THRESHOLD), saved[1], NEVER)
    try:
        while True:
            await asyncio.sleep(seconds)
            gc.collect()
    finally:
        gc.set_threshold(*saved)
