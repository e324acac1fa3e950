"""``watchfloor watch``: the engine and analysis running headless, each analysis cycle
handed to a list of consumers (alerting, the findings metrics, later the flight
recorder) — for a systemd unit or a container.

The loop is one small function over an engine and its consumers; ``serve`` runs
the same loop beside its collector. A consumer is anything with ``on_cycle`` and
``close``; one that raises is logged and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from console.api import SourceStatus
from console.core.engine import Engine
from console.core.store import Store

log = logging.getLogger(__name__)


SLOW_SOURCE = 5.0
"""A source polled this many times less often than the fastest counts as landed after
its first poll (a scan every 30 s must not hold alerting back for a minute)."""


@dataclass
class Cycle:
    """One analysis cycle, as consumers see it."""

    store: Store
    statuses: list[SourceStatus]
    number: int
    """1 for the first cycle of this engine."""
    warm: bool = True
    """Every source has landed twice, so counters have rates and the findings on them
    exist (slow sources once; disabled and failed ones not at all): before that, a
    finding that is missing proves nothing."""


def is_warm(engine: Engine, statuses: Sequence[SourceStatus]) -> bool:
    """Whether a cycle of ``engine`` with these statuses is warm (see ``Cycle.warm``)."""
    intervals = [source.interval for source in engine.sources]
    fastest = min(intervals, default=1.0)
    for interval, status in zip(intervals, statuses, strict=False):
        if status.status in ("disabled", "failed"):
            continue
        needed = 1 if interval >= SLOW_SOURCE * fastest else 2
        if status.polls < needed:
            return False
    return True


class Consumer(Protocol):
    """Something that acts on each analysis cycle."""

    async def on_cycle(self, cycle: Cycle) -> None: ...

    async def close(self) -> None: ...


async def consume(engine: Engine, consumers: Sequence[Consumer], stop: asyncio.Event) -> None:
    """Hand every analysis cycle of a running ``engine`` to ``consumers`` until ``stop``.

    Cycles that land while consumers are busy coalesce into one (the latest).
    The consumers are closed on the way out; the engine is left to its owner.
    """
    landed = asyncio.Event()
    previous = engine.after_analysis

    as_of: list[SourceStatus] = []

    def on_analysis() -> None:
        # The statuses these findings were made from: a poll that lands between this
        # analysis and the consumers must not make the cycle look warmer than it is.
        as_of[:] = engine.statuses()
        landed.set()
        if previous is not None:
            previous()

    engine.after_analysis = on_analysis
    number = 0
    try:
        while not stop.is_set():
            await _first(landed.wait(), stop.wait())
            if stop.is_set():
                break
            landed.clear()
            number += 1
            statuses = list(as_of)
            cycle = Cycle(engine.store, statuses, number, is_warm(engine, statuses))
            for consumer in consumers:
                try:
                    await consumer.on_cycle(cycle)
                except Exception:
                    log.exception("consumer %s failed on cycle %d", type(consumer).__name__, number)
    finally:
        engine.after_analysis = previous
        for consumer in consumers:
            try:
                await consumer.close()
            except Exception:
                log.exception("consumer %s failed to close", type(consumer).__name__)


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def stop_on_signals(stop: asyncio.Event, reload: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGINT set ``stop``; SIGHUP calls ``reload`` (when given)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, reload)


async def watch(engine: Engine, consumers: Sequence[Consumer], stop: asyncio.Event) -> None:
    """Run ``engine`` and feed its cycles to ``consumers`` until ``stop``; then stop it."""
    engine.start()
    try:
        await consume(engine, consumers, stop)
    finally:
        await engine.stop()
