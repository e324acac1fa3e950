"""The simulated fleet (``watchfloor agent --sim-fleet``): ticks recorded once and
replayed, time and counters advancing, served by real agents speaking the real wire."""

from __future__ import annotations

import itertools
import json

import aiohttp

from console.agent.client import AgentSource, SharedSession
from console.agent.fleet import FleetClock, ReplayedCycle, fleet_apps, record
from console.agent.stream_client import AgentStreamSource
from console.agent.stream_wire import StreamDecoder, StreamEncoder
from console.api import SourceError
from console.core.model import METRICS
from console.sim.simulation import Simulation
from tests.integration.agents import serving

TOKEN = "fleet-token-0123456789"


def test_the_replay_advances_time_and_keeps_counters_climbing_through_the_loop() -> None:
    node = record(Simulation("healthy", nodes=4), ticks=3)[0]
    decoder = StreamDecoder()
    encoder = StreamEncoder()
    seen = []
    for cycle in range(7):  # two loops and a bit: cycle 3 jumps back to the first tick
        decoder.add(encoder.frame(ReplayedCycle(node, cycle).stream).rstrip(b"\n"))
        taken = decoder.take()
        assert taken is not None
        name, batch, statuses = taken
        assert name == node.node and statuses[0]["polls"] == cycle
        seen.append(batch)
    assert [b.time for b in seen] == [node.start + cycle for cycle in range(7)]
    counters = {(s.ref, s.metric) for s in seen[0].as_samples() if METRICS[s.metric].counter}
    assert any(key[1] == "port.tx_bytes" for key in counters)
    for before, after in itertools.pairwise(seen):
        old = {(s.ref, s.metric): s.value for s in before.as_samples()}
        for sample in after.as_samples():
            if (sample.ref, sample.metric) in counters and sample.value is not None:
                assert sample.value >= old[(sample.ref, sample.metric)], sample
    # What is not a counter replays the recorded ticks as they were.
    gauges = [[s.value for s in b.as_samples() if not METRICS[s.metric].counter] for b in seen]
    assert gauges[3] == gauges[0] and gauges[4] == gauges[1] and gauges[0] != gauges[1]


def test_ticks_that_encode_the_same_share_their_bytes() -> None:
    node = record(Simulation("healthy", nodes=4), ticks=2)[0]
    first, second = (tick.frame for tick in node.ticks)
    assert second.keys is first.keys
    same = [ref for ref, text in second.entities.items() if text == first.entities[ref]]
    assert same and all(second.entities[ref] is first.entities[ref] for ref in same)


def test_the_clock_turns_one_cycle_per_interval_from_the_start() -> None:
    now = [100.0]
    clock = FleetClock(0.5, lambda: now[0])
    cycles = []
    for at in (100.0, 100.49, 100.5, 101.2, 103.0):
        now[0] = at
        cycles.append(clock.cycle())
    assert cycles == [0, 0, 1, 2, 6]


async def test_fleet_nodes_are_real_agents_on_both_wires_and_ask_the_token() -> None:
    apps = fleet_apps(Simulation("healthy", nodes=4), TOKEN, interval=0.2, ticks=2)
    node, app = apps[1]
    async with serving(app) as url:
        session = SharedSession()
        stream = AgentStreamSource(url, 0.2, 2.0, TOKEN, session=session)
        snapshot = AgentSource(url, 0.2, 2.0, TOKEN, session=session)
        stranger = AgentSource(url, 0.2, 2.0, "wrong-token-0123456789", session=session)
        try:
            first = await stream.poll()
            second = await stream.poll()
            polled = await snapshot.poll()
            try:
                await stranger.poll()
                refused = ""
            except SourceError as exc:
                refused = str(exc)
        finally:
            for source in (stream, snapshot, stranger):
                await source.close()
    assert stream.node == snapshot.node == node
    assert first.time is not None and second.time is not None and second.time > first.time
    assert {e.ref for e in first.entities} == {e.ref for e in polled.entities}
    assert second.reading_count() == len(polled.samples) > 100
    assert not second.samples and second.columns  # the stream brings columns
    assert refused.startswith("401")


async def test_a_fleet_node_serves_metrics_of_its_cycle() -> None:
    _, app = fleet_apps(Simulation("healthy", nodes=4), None, interval=0.2, ticks=2)[0]
    async with serving(app) as url, aiohttp.ClientSession() as client:
        async with client.get(f"{url}/metrics") as response:
            text = await response.text()
        async with client.get(f"{url}/v1/snapshot") as response:
            document = json.loads(await response.read())
    assert 'watchfloor_gpu_util_percent{gpu="0",node="node01"' in text
    assert document["node"] == "node01" and document["samples"]
