"""Rewind before the flight recording starts: the fleet from a source that keeps its
own past (``Source.past``: the ``prometheus`` source's ``query_range``).

A recording holds ``keep`` (a day by default) from when this console started; a fleet
behind Prometheus has the server's whole retention. For a time before the recording's
first frame, each such source is asked for the span the screen shows (two minutes, or
the last hour with ``H``) at a step that gives about :data:`POINTS` points, and the
answers are applied to a fresh store in time order, as the live store was: the last
step is the moment shown, the steps before it are the sparklines' history. The
findings are the console's analyzers run on that store (nobody recorded findings
then: they are what analysis says of those readings now). The
network waits are awaited; the decoding (in the source) and the store's making (here)
run in threads, never on the UI's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from console.api import Analyzer, Batch, Source, SourceStatus
from console.core.engine import Engine
from console.core.store import DEFAULT_HISTORY, Store
from console.recording.reader import Moment, RecordingError

POINTS = 60
"""Points per series a rewind asks for over the span shown."""


def past_sources(sources: Iterable[Source]) -> list[Source]:
    """The sources that can answer for times before the recording."""
    return [source for source in sources if source.keeps_past]


def step_for(seconds: float) -> float:
    """The range query's step for a span shown: :data:`POINTS` points, 1 s at least."""
    return max(seconds / POINTS, 1.0)


async def past_moment(
    sources: Sequence[Source],
    when: float,
    seconds: float,
    analyzers: Sequence[Analyzer] = (),
    history: int = DEFAULT_HISTORY,
) -> Moment:
    """The fleet at ``when`` as the sources kept it, with ``seconds`` of history before
    it and the findings ``analyzers`` make of it. RecordingError when none of them held
    anything then."""
    answers = await asyncio.gather(
        *(source.past(when - seconds, when, step_for(seconds)) for source in sources)
    )
    return await asyncio.to_thread(_moment, sources, answers, when, analyzers, history)


def _moment(
    sources: Sequence[Source],
    answers: Sequence[list[Batch]],
    when: float,
    analyzers: Sequence[Analyzer],
    history: int,
) -> Moment:
    store = Store(history)
    timed = sorted(
        ((batch.time if batch.time is not None else when, index, batch)
         for index, batches in enumerate(answers) for batch in batches),
        key=lambda item: (item[0], item[1]),
    )  # fmt: skip
    for at, index, batch in timed:
        store.apply(batch, sources[index].name, at)
    if store.time is None:
        names = ", ".join(source.name for source in sources)
        raise RecordingError(f"{names}: nothing kept at {when:.0f}")
    statuses = [
        SourceStatus(source.name, source.type, "ok", "read from the past it keeps (before the "
                     "recording)", store.time, 1, 0, None)
        for source in sources
    ]  # fmt: skip
    Engine(store, [], analyzers).analyse()  # bumps the store's version: panes redraw
    return Moment(store.time, store, statuses, origin=", ".join(s.name for s in sources))
