"""A simulated fleet: one process serving N simulated node agents on N ports.

For benchmarks and scale tests: the cluster is simulated once per tick (not N
times), and each node's agent serves its slice of that tick, encoded once.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from console.agent.server import Collected, make_app
from console.api import SourceStatus
from console.sim.simulation import Simulation, StepParts


class FleetTicker:
    """Steps the shared simulation at most once per ``max_age``, off the event loop."""

    def __init__(self, simulation: Simulation, max_age: float) -> None:
        self.simulation = simulation
        self.max_age = max_age
        self.parts: StepParts | None = None
        self.at = float("-inf")
        self.tick = 0
        """Bumped on every step; node collectors re-encode when it moves."""
        self._lock = asyncio.Lock()
        self._groups = list(simulation.topology.nodes)

    async def current(self) -> StepParts:
        started = time.monotonic()  # on arrival: one that waited for a step is served by it
        async with self._lock:
            if self.parts is None or started - self.at >= self.max_age:
                self.parts = await asyncio.to_thread(
                    self.simulation.step_groups, self._groups, False
                )
                # When the step began: a stream due one interval later gets the next step,
                # however long this one took.
                self.at = started
                self.tick += 1
            return self.parts


class FleetNodeCollector:
    """One simulated node's agent: the same ``latest()`` as a real agent's Collector."""

    def __init__(self, ticker: FleetTicker, node: str) -> None:
        self.ticker = ticker
        self.node = node
        self._latest: Collected | None = None
        self._tick = -1

    async def latest(self) -> Collected:
        parts = await self.ticker.current()
        if self._latest is None or self._tick != self.ticker.tick:
            entities, samples = parts.groups[self.node]
            status = SourceStatus(f"sim-{self.node}", "sim", "ok", "", None, self.ticker.tick, 0,
                                  None)  # fmt: skip
            self._latest = Collected(
                self.node, parts.time, entities,
                [(s.ref, s.metric, s.value) for s in samples], [status],
            )  # fmt: skip
            self._tick = self.ticker.tick
        return self._latest


def fleet_apps(
    simulation: Simulation, token: str | None, max_age: float
) -> list[tuple[str, web.Application]]:
    """One agent application per simulated compute node."""
    ticker = FleetTicker(simulation, max_age)
    return [
        (node, make_app(FleetNodeCollector(ticker, node), token))
        for node in simulation.topology.nodes
    ]
