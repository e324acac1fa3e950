"""A simulated fleet: one process serving N simulated node agents on N ports.

For benchmarks and scale tests, where the fleet must cost little beside the console
it feeds: stepping a 1,000-node simulation takes ~1.7 s of CPU, more than the
interval on its own. So the fleet simulates :data:`REPLAY_TICKS` ticks once, at
start, encodes each node's report of each tick once, and then replays them in a
loop, one tick per interval on a fixed clock: the time advances, counters keep
climbing (each loop adds what the recorded ticks added), and every node's agent
is still a real aiohttp server speaking the real wire.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from functools import cached_property

from aiohttp import web

from console.agent.server import Collected, make_app
from console.agent.stream_wire import (
    Columns,
    FrameParts,
    frame_columns,
    frame_head,
    frame_parts,
    frame_sources,
    frame_values,
)
from console.api import SourceStatus
from console.core.model import METRICS, Entity
from console.sim.simulation import Simulation

REPLAY_TICKS = 4
"""Ticks simulated at start and replayed (values vary from one cycle to the next)."""


@dataclasses.dataclass
class _Tick:
    """One node's report of one simulated tick, encoded once."""

    entities: list[Entity]
    columns: Columns
    """The series by metric, as the stream's ``keys``."""
    values: list[list[float | None]]
    """A list per column, as the stream's ``values``."""
    frame: FrameParts


class ReplayedNode:
    """One node's recorded ticks, and what any cycle of their replay reports."""

    def __init__(self, node: str, ticks: list[_Tick], interval: float, start: float) -> None:
        self.node = node
        self.ticks = ticks
        self.interval = interval
        self.start = start
        """Sim time of the first recorded tick."""
        first, last = ticks[0], ticks[-1]
        before = dict(zip(_keys(first), itertools.chain(*first.values), strict=True))
        per_loop: dict[tuple[str, str], float] = {}
        for key, value in zip(_keys(last), itertools.chain(*last.values), strict=True):
            spec = METRICS.get(key[1])
            began = before.get(key)
            if spec is not None and spec.counter and value is not None and began is not None:
                # The recorded rate, kept through the jump back to the first tick.
                per_loop[key] = max(value - began, 0.0) * len(ticks) / max(len(ticks) - 1, 1)
        self.per_loop = per_loop
        """Counter series → what one loop of the replay adds to them."""
        self._climbs = [
            [
                (index, [per_loop.get((ref, metric), 0.0) for ref in refs])
                for index, (metric, refs) in enumerate(tick.columns)
                if any((ref, metric) in per_loop for ref in refs)
            ]
            for tick in ticks
        ]
        """Per tick, the columns that climb: ``(index, what a loop adds to each value)``
        (worked out once: the fleet builds a thousand nodes' values a second)."""

    def values(self, cycle: int) -> list[list[float | None]]:
        loops, tick = divmod(cycle, len(self.ticks))
        recorded = self.ticks[tick]
        climbs = self._climbs[tick]
        if not loops or not climbs:
            return recorded.values
        values = list(recorded.values)
        for index, steps in climbs:
            values[index] = [
                value if value is None else value + loops * step
                for value, step in zip(values[index], steps, strict=True)
            ]
        return values


def _keys(tick: _Tick) -> list[tuple[str, str]]:
    """The tick's series as ``(ref, metric)``, in the order of its values."""
    return [(ref, metric) for metric, refs in tick.columns for ref in refs]


class ReplayedCycle:
    """What a fleet node reports in one cycle, encoded on first use (as :class:`Collected`)."""

    def __init__(self, node: ReplayedNode, cycle: int) -> None:
        self.node = node
        self.cycle = cycle
        self.time = node.start + cycle * node.interval
        self.status = SourceStatus(f"sim-{node.node}", "sim", "ok", "", None, cycle, 0, None)

    @cached_property
    def stream(self) -> FrameParts:
        recorded = self.node.ticks[self.cycle % len(self.node.ticks)]
        values = self.node.values(self.cycle)
        return dataclasses.replace(
            recorded.frame,
            head=frame_head(self.node.node, self.time),
            values=recorded.frame.values if values is recorded.values else frame_values(values),
            sources=frame_sources([self.status]),
        )

    @property
    def snapshot(self) -> bytes:
        return self._collected.snapshot

    @property
    def metrics(self) -> bytes:
        return self._collected.metrics

    @cached_property
    def _collected(self) -> Collected:
        recorded = self.node.ticks[self.cycle % len(self.node.ticks)]
        samples = _samples(recorded.columns, self.node.values(self.cycle))
        return Collected(self.node.node, self.time, recorded.entities, samples, [self.status])


class FleetClock:
    """Which replay cycle it is: one per interval, on a fixed grid from the start."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.started = clock()

    def cycle(self) -> int:
        return int((self.clock() - self.started) // self.interval)


class FleetNodeCollector:
    """One simulated node's agent: the same ``latest()`` as a real agent's Collector."""

    def __init__(self, node: ReplayedNode, clock: FleetClock) -> None:
        self.node = node
        self.clock = clock
        self._latest: ReplayedCycle | None = None

    async def latest(self) -> ReplayedCycle:
        cycle = self.clock.cycle()
        if self._latest is None or self._latest.cycle != cycle:
            self._latest = ReplayedCycle(self.node, cycle)
        return self._latest


def record(simulation: Simulation, ticks: int = REPLAY_TICKS) -> list[ReplayedNode]:
    """Step the simulation ``ticks`` times and encode each node's report of each tick."""
    nodes = list(simulation.topology.nodes)
    recorded: dict[str, list[_Tick]] = {node: [] for node in nodes}
    start: float | None = None
    for _ in range(ticks):
        parts = simulation.step_groups(nodes, False)
        start = parts.time if start is None else start
        for node in nodes:
            entities, samples = parts.groups[node]
            columns, values = frame_columns((s.ref, s.metric, s.value) for s in samples)
            frame = frame_parts(node, parts.time, entities, _samples(columns, values), [])
            history = recorded[node]
            if history:  # the same encoding as the tick before: the same bytes object
                frame = _shared(history[-1].frame, frame)
            history.append(_Tick(entities, columns, values, frame))
    assert start is not None
    return [ReplayedNode(node, recorded[node], simulation.interval, start) for node in nodes]


def _shared(before: FrameParts, frame: FrameParts) -> FrameParts:
    """``frame``, its pieces that equal ``before``'s replaced by them (memory stays flat)."""
    entities = {}
    for ref, text in frame.entities.items():
        old = before.entities.get(ref)
        entities[ref] = old if old == text and old is not None else text
    keys = before.keys if before.keys == frame.keys else frame.keys
    return dataclasses.replace(frame, entities=entities, keys=keys)


def _samples(
    columns: Columns, values: list[list[float | None]]
) -> list[tuple[str, str, float | None]]:
    """Columns as ``(ref, metric, value)`` (the snapshot's and ``/metrics``' form)."""
    return [
        (ref, metric, value)
        for (metric, refs), readings in zip(columns, values, strict=True)
        for ref, value in zip(refs, readings, strict=True)
    ]


def fleet_apps(
    simulation: Simulation, token: str | None, interval: float, ticks: int = REPLAY_TICKS
) -> list[tuple[str, web.Application]]:
    """One agent application per simulated compute node."""
    nodes = record(simulation, ticks)
    clock = FleetClock(interval)
    return [(node.node, make_app(FleetNodeCollector(node, clock), token)) for node in nodes]
