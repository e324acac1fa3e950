"""A recording console in its own process, for the tests: the simulator's engine run
live (``engine.start``) with the recorder switched on by its one call, printing after
each cycle one JSON line: the store's time, the wall clock, and the snapshot document
the console had then. ``python -m tests.integration.record_child ONSET CONFIG``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from console.analysis.thresholds import configure as configure_thresholds
from console.core.engine import Engine
from console.core.headless import snapshot_document
from console.core.runtime import (
    DemoOptions,
    build_engine,
    build_sources,
    load_registry,
    read_config,
)
from console.recording.session import start_recording


def main() -> None:
    onset = float(sys.argv[1])
    registry = load_registry()
    config = read_config(Path(sys.argv[2]), registry, required=True)
    configure_thresholds(config.thresholds)
    sources = build_sources(config, registry, DemoOptions(onset=onset), local=False)
    engine = build_engine(sources, registry)
    recorder, notice = start_recording(engine, config.history, demo=True)
    assert recorder is not None, notice

    def report(engine: Engine) -> None:
        document = snapshot_document(engine.store, engine.statuses())
        line = {"time": engine.store.time, "wall": time.time(), "document": document}
        sys.stdout.write(json.dumps(line, default=str) + "\n")
        sys.stdout.flush()

    engine.cycle_hooks.append(lambda _changes: report(engine))

    async def run() -> None:
        engine.start()
        await asyncio.Event().wait()  # until killed

    asyncio.run(run())


if __name__ == "__main__":
    main()
