"""The console's CPU per stream poll, stage by stage (issue 17 item 3).

``fleet_poll.py`` measures the whole console while a fleet runs beside it; this
splits one poll's cost, in one process with nothing else running: the agent's
frame (200 replayed fleet nodes, as ``--sim-fleet`` serves them) read by the
stream decoder (``add``: JSON and the frame's checks; ``take``: the batch), then
the engine's steps: ``check_batch``, ``admit`` and the store's ``apply``. The
target of ``fleet_poll.py`` (1,000 agents a second in half a core) needs the sum
under 0.5 ms. Stages are timed in this process's CPU time (``process_time``): on
cores shared with others, a wall clock also counts the time the process waited.

Run: ``.venv/bin/python bench/stream_intake.py [--nodes 200] [--cycles 8]``
"""

from __future__ import annotations

import argparse
import json
import time
import timeit

import msgspec

from console.agent.fleet import ReplayedCycle, record
from console.agent.stream_wire import StreamDecoder, StreamEncoder
from console.core.batch_check import check_batch
from console.core.intake import admit
from console.core.store import Store
from console.sim.simulation import Simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=8)
    args = parser.parse_args()
    nodes = record(Simulation("healthy", nodes=args.nodes))
    encoders = [StreamEncoder() for _ in nodes]
    decoders = [StreamDecoder() for _ in nodes]
    store = Store()
    stages = dict.fromkeys(("add", "take", "check_batch", "admit", "apply"), 0.0)
    measured = 0
    for cycle in range(args.cycles):
        for node, encoder, decoder in zip(nodes, encoders, decoders, strict=True):
            line = encoder.frame(ReplayedCycle(node, cycle).stream).rstrip(b"\n")
            t0 = time.process_time()
            decoder.add(line)
            t1 = time.process_time()
            taken = decoder.take()
            assert taken is not None
            t2 = time.process_time()
            batch = check_batch(taken[1])
            t3 = time.process_time()
            admit(batch, time.time())
            t4 = time.process_time()
            store.apply(batch, node.node, time.time())
            t5 = time.process_time()
            if cycle >= 2:  # the first frames are full and the series new: not the steady state
                for stage, took in zip(
                    stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
                ):
                    stages[stage] += took
                measured += 1
    print(f"one stream poll of a fleet node ({len(line):,}-byte frame, {batch.reading_count()} "
          f"readings in {len(batch.columns)} columns), steady state, µs:")  # fmt: skip
    for stage, total in stages.items():
        print(f"  {stage:12} {total / measured * 1e6:6.0f}")
    print(f"  {'sum':12} {sum(stages.values()) / measured * 1e6:6.0f}  (the target needs < 500)")
    # The peer for add's JSON: the decoder read frames with json.loads before msgspec.
    slow, fast = (timeit.timeit(lambda d=d: d(line), number=2000) / 2000 * 1e6  # type: ignore[misc]
                  for d in (json.loads, msgspec.json.Decoder().decode))  # fmt: skip
    print(f"  JSON of that frame alone: json.loads {slow:.0f} µs, msgspec {fast:.0f} µs")


if __name__ == "__main__":
    main()
