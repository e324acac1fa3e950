"""The async scheduler that runs sources: intervals, timeouts, backoff, isolation.

Each source gets its own loop: poll, apply, then sleep until the next due time.
A poll therefore never overlaps the previous poll of the same source, and one
source that raises or hangs never delays another. After polls land, analysis
runs once (coalesced) on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

from console.api import Analyzer, Batch, Source, SourceDisabled, SourceError, SourceStatus
from console.collector.gate import INPUT_GATE
from console.core.batch_check import check_batch
from console.core.intake import admit_part, admit_time, capped_note, unknown_notes
from console.core.model import Column, Finding
from console.core.store import Changes, Store
from console.core.text import plain

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
"""Longest wait between retries of a failing source, in seconds."""
STALE_AFTER_INTERVALS = 3
"""A source with no good poll for this many intervals is shown stale."""
BLOCKED_MARGIN = 1.25
"""A poll that returns this far past its timeout, uncancelled, blocked the event loop (a
poll that awaits is cancelled at the timeout; the margin keeps a photo finish out)."""
GRID_SLACK = 0.25
"""A poll that begins later than this share of its interval after it was due moves the
source's grid (:func:`_next_due`)."""
EXPIRE_AFTER = 600.0
"""Entities not reported for this many seconds are dropped (memory stays flat)."""
APPLY_SLICE = 5000
"""A batch larger than this many entities or samples is merged in slices of this size,
yielding to the event loop (and to a key just pressed) between them: a relay's 200,000
readings never freeze the console that merges them. Whole checks still come first."""
MIRROR_SLICE = 1000
"""The slice of a mirror (the UI reading its collector): a key pressed while a slice is
merged waits for that slice, so it is small (5,000 readings took 80 ms at 4,000 nodes
on a busy machine; 1,000 take a sixth of a frame)."""

ENTITY_WEIGHT = 2
"""An entity costs a merge about what two readings do (a 1,000-node relay delta, busy
machine: 6-10 ms for 1,000 entities, 2-4 ms for 1,000 readings): slices of entities are
this much smaller, so that no step is longer than a slice of readings."""


@dataclass
class _SourceState:
    source: Source
    status: str = "pending"
    reason: str = "not polled yet"
    last_ok: float | None = None
    polls: int = 0
    failures: int = 0
    duration: float | None = None
    next_due: float = 0.0


def _pieces(columns: list[Column], size: int) -> Iterator[Column]:
    """The columns, those longer than ``size`` cut into pieces that long."""
    for column in columns:
        if len(column) <= size:
            yield column
            continue
        for start in range(0, len(column), size):
            end = start + size
            times = None if column.times is None else column.times[start:end]
            yield Column(column.metric, column.refs[start:end], column.values[start:end], times)


def _parts(batch: Batch, size: int) -> Iterator[Batch]:
    """A large batch as batches of at most ``size`` readings (small columns share one,
    long ones are cut) or ``size /`` :data:`ENTITY_WEIGHT` entities each, the last with
    the batch's meta. Made one at a time: cutting a 1,000-node relay delta at once took
    15 ms of a step."""
    step = max(1, size // ENTITY_WEIGHT)
    for start in range(0, len(batch.entities), step):
        yield Batch(entities=batch.entities[start : start + step], time=batch.time)
    for start in range(0, len(batch.samples), size):
        yield Batch(samples=batch.samples[start : start + size], time=batch.time)
    columns: list[Column] = []
    for piece in _pieces(batch.columns, size):
        if columns and sum(map(len, columns)) + len(piece) > size:
            yield Batch(columns=columns, time=batch.time)
            columns = []
        columns.append(piece)
    if columns:
        yield Batch(columns=columns, time=batch.time)
    yield Batch(time=batch.time, meta=batch.meta)


def _next_due(due: float, started: float, interval: float) -> float:
    """When the poll after one due at ``due`` that began at ``started`` is due: on the
    interval's grid, one interval after ``due``, while the poll began less than
    :data:`GRID_SLACK` of an interval late. Counted from ``started`` instead, each
    wake-up's lag (a busy loop's few milliseconds) pushed every later poll back: an agent
    streams a frame a second on its own grid, a poll that drifts a whole second behind
    finds two frames and lands one, and 1,000 agents landed 0.96 polls a second, not 1.00
    (bench/fleet_poll.py). A poll that began later than that (the first one, one after a
    failure's backoff, an overloaded loop) starts a new grid where it began: a loop that
    cannot keep up polls less often rather than catching up."""
    return (due if 0.0 <= started - due < interval * GRID_SLACK else started) + interval


class Engine:
    """Owns the schedule of every source and the analysis that follows it."""

    def __init__(
        self,
        store: Store,
        sources: Sequence[Source],
        analyzers: Sequence[Analyzer] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        """Where polls land."""
        self.analyzers = list(analyzers)
        """Run after each cycle, in order; one that raises is reported and skipped."""
        self.clock = clock
        """Wall clock (injectable for tests)."""
        self._states = [_SourceState(source) for source in sources]
        self._tasks: list[asyncio.Task[None]] = []
        self._analysis_due = asyncio.Event()
        self.analyzer_errors: dict[str, str] = {}
        """Analyzers that raised on their last run, with the reason."""
        self.after_analysis: Callable[[], None] | None = None
        """Called after each analysis run (the UI draws its first data frame at once)."""
        self.analysed = False
        """Whether analysis has run once (before that, no findings is not a verdict)."""
        self.before_first_analysis: Callable[[], Awaitable[None]] | None = None
        """Awaited once, when the first poll has landed, with that cycle already handed to
        the cycle hooks (its findings not analysed yet), before the first analysis and the
        next polls: the collector sends its UI the fleet first (analysis took 3-4 s of the
        first frame at 4,000 nodes), and analyses while the UI merges it."""
        self._first_going_out: asyncio.Event | None = None
        """Set while :attr:`before_first_analysis` runs: no poll begins meanwhile (a
        4,000-node simulator's tick held the collector's loop 2-4 s, with the UI's request
        for the first cycle waiting behind it)."""
        self.cycle_hooks: list[Callable[[Changes], None]] = []
        """Called after each analysis with what the cycle changed in the store: the one
        per-cycle hook (the collector's relay journal, the flight recorder); one that
        raises is logged and the others still run."""

    # -- status --------------------------------------------------------------

    @property
    def sources(self) -> list[Source]:
        """The sources, in configuration order."""
        return [state.source for state in self._states]

    def statuses(self) -> list[SourceStatus]:
        """Each source's health now; *ok* turns *stale* when polls stop landing."""
        now = self.clock()
        result = []
        for state in self._states:
            status, reason = state.status, state.reason
            stale_after = STALE_AFTER_INTERVALS * state.source.interval
            if status == "ok" and state.last_ok is not None and now - state.last_ok > stale_after:
                status, reason = "stale", f"no data for {now - state.last_ok:.0f}s"
            elif status == "stale" and state.last_ok is not None:
                reason = f"{reason}; last data {now - state.last_ok:.0f}s ago"
            result.append(
                SourceStatus(
                    name=state.source.name,
                    type=state.source.type,
                    status=status,
                    reason=reason,
                    last_ok=state.last_ok,
                    polls=state.polls,
                    failures=state.failures,
                    duration=state.duration,
                )
            )
        return result

    # -- polling -------------------------------------------------------------

    async def _poll(self, state: _SourceState) -> None:
        """One poll of one source, with its timeout; records status and backoff."""
        source = state.source
        started = self.clock()
        began = time.monotonic()  # not the injectable clock: this measures real blocking
        try:
            if source.times_its_waits:  # bounds every wait of its own
                batch = await source.poll()
            else:
                async with asyncio.timeout(source.timeout):  # no extra task per poll
                    batch = await source.poll()
        except SourceDisabled as exc:
            state.status, state.reason = "disabled", plain(exc) or "disabled"
            return
        except TimeoutError:
            self._failed(state, f"timed out after {source.timeout:g}s")
            return
        except SourceError as exc:
            self._failed(state, plain(exc))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(state, plain(f"{type(exc).__name__}: {exc}"))
            return
        finally:
            state.polls += 1
            state.duration = self.clock() - started
        took = time.monotonic() - began
        if took > source.timeout * BLOCKED_MARGIN:
            # Only a poll that blocked the event loop outlives its timeout uncancelled,
            # and it froze the console meanwhile: say so, and what to do about it.
            self._failed(
                state,
                f"blocked the console for {took:.1f}s (timeout {source.timeout:g}s): "
                "run blocking work in asyncio.to_thread",
            )
            return
        try:
            # Checked whole before any of it lands: a bad batch never half-merges. A
            # mirror's decoder checked every field already, line by line, and so did an
            # agent's (``AgentSource.checks_its_batches``).
            received = self.clock()
            decoded = source.mirror or source.checks_its_batches
            checked = batch if decoded and isinstance(batch, Batch) else check_batch(batch)
            refused, notes = await self._apply(checked, source, received)
        except Exception as exc:  # malformed data from a plugin must not take us down
            self._failed(state, plain(f"bad data: {exc}", 300))
            return
        if refused:
            notes.append(capped_note(refused, source.max_series))
        # A source may add a note to an ok status (names it could not place, say), and
        # what the intake refused from it is said there too (the rest landed).
        note = checked.meta.get("note")
        said = [*([str(note)] if note else []), *notes]
        state.status, state.reason = "ok", plain("; ".join(said), 400) if said else ""
        state.last_ok = self.clock()
        state.failures = 0
        state.next_due = _next_due(state.next_due, started, source.interval)

    async def _apply(self, batch: Batch, source: Source, received: float) -> tuple[int, list[str]]:
        """Admit then merge a checked batch, a large one in slices with the loop free
        between them (every slice admitted before any lands: a batch the intake refuses
        never half-merges); answers how many new series the source's cap refused, and
        the intake's notes."""
        unknown: dict[str, int] = {}
        admit_time(batch, received, source.simulated_clock)  # the parts carry its time
        size = MIRROR_SLICE if source.mirror else APPLY_SLICE
        small = len(batch.entities) <= size and batch.reading_count() <= size
        parts: list[Batch] = []
        for part in [batch] if small else _parts(batch, size):
            if parts:
                await INPUT_GATE.wait()
            admit_part(part, received, source.simulated_clock, unknown)
            parts.append(part)
        if not small:
            await INPUT_GATE.wait()
        if source.mirror and batch.removed:
            self.store.remove(batch.removed)
        cap = source.max_series
        refused = 0
        for at, part in enumerate(parts):
            if at:
                await INPUT_GATE.wait()
            refused += self.store.apply(part, source.name, received, cap)
        return refused, unknown_notes(unknown)

    def _failed(self, state: _SourceState, reason: str) -> None:
        state.failures += 1
        # With good data from before, what we show is old but real: stale, not gone.
        state.status = "stale" if state.last_ok is not None else "failed"
        state.reason = reason
        backoff = min(MAX_BACKOFF, state.source.interval * 2 ** (state.failures - 1))
        state.next_due = self.clock() + max(backoff, state.source.interval)
        log.info("source %s failed (%s); retry in %.1fs", state.source.name, reason, backoff)

    def analyse(self) -> list[Finding]:
        """Run every analyzer on the store and publish the findings."""
        findings: list[Finding] = []
        for analyzer in self.analyzers:
            name = getattr(analyzer, "__qualname__", repr(analyzer))
            try:
                findings.extend(analyzer(self.store))
                self.analyzer_errors.pop(name, None)
            except Exception as exc:
                self.analyzer_errors[name] = plain(f"{type(exc).__name__}: {exc}")
        order = {"critical": 0, "warning": 1, "info": 2}
        findings.sort(key=lambda f: (order.get(f.severity, 3), f.ref))
        self.store.set_findings(findings)
        self.analysed = True
        self.end_cycle()
        if self.after_analysis is not None:
            self.after_analysis()
        return findings

    def end_cycle(self) -> None:
        """Hand what this cycle changed to the cycle hooks (and start counting anew)."""
        if not self.cycle_hooks:
            self.store.forget_changes()  # nobody reads them (a UI mirroring its collector)
            return
        changes = self.store.take_changes()
        for hook in self.cycle_hooks:
            try:
                hook(changes)
            except Exception as exc:  # a hook is a reader: it never stops collection
                log.warning("cycle hook %r failed: %s", hook, exc)

    async def collect(self, cycles: int = 1, due_within: float | None = None) -> None:
        """Poll every source ``cycles`` times (all at once per cycle), then analyse.

        Used headless (``snapshot``: two cycles so counters have rates) and by the
        agent on each request, which passes ``due_within`` (seconds) so that only
        sources due by then are polled: a slow-interval source (a listener scan
        every 30 s, model hashing) keeps its own pace however often it is asked.
        """
        for _ in range(cycles):
            now = self.clock()
            active = [
                s for s in self._states
                if s.status != "disabled" and (due_within is None or s.next_due <= now + due_within)
            ]  # fmt: skip
            await asyncio.gather(*(self._poll(state) for state in active))
            self.analyse()
            await self._drop_litter()

    async def _run_source(self, state: _SourceState) -> None:
        while state.status != "disabled":
            if self._first_going_out is not None:  # the first cycle first (bounded)
                await self._first_going_out.wait()
            await self._poll(state)
            self._analysis_due.set()
            delay = state.next_due - self.clock()
            await asyncio.sleep(max(delay, 0.0))

    async def _run_analysis(self, min_gap: float) -> None:
        # Coalesce: however many sources land in one burst, analyse once.
        while True:
            await self._analysis_due.wait()
            self._analysis_due.clear()
            if self.before_first_analysis is not None and self.store.entities:
                first, self.before_first_analysis = self.before_first_analysis, None
                self._first_going_out = asyncio.Event()
                # Not analysed, whatever ran on an empty store before the fleet landed
                # (a source with nothing in it first): no findings is no verdict yet.
                self.analysed = False
                self.end_cycle()
                try:
                    await first()
                except Exception as exc:  # a reader of the fleet never stops analysis
                    log.warning("before the first analysis: %s: %s", type(exc).__name__, exc)
                finally:
                    self._first_going_out.set()
                    self._first_going_out = None
            self.analyse()
            self.expire()
            await self._drop_litter()
            await asyncio.sleep(min_gap)

    async def _drop_litter(self) -> None:
        """Free the changes :meth:`end_cycle` forgot, a slice a step (freeing a 1,000-node
        cycle's at once held a key 13-25 ms); with nothing to free, no wait at the gate."""
        while self.store.drop_litter(0):
            await INPUT_GATE.wait()
            self.store.drop_litter()

    def expire(self) -> None:
        """Forget what no source reported for :data:`EXPIRE_AFTER` seconds. A mirror's
        source says itself what is gone: a UI that only mirrors its collector has nothing
        to expire, and the sweep that would find that out walks every series (0.3 s at
        4,000 nodes, on the loop that answers keys)."""
        mirrors = frozenset(s.source.name for s in self._states if s.source.mirror)
        if len(mirrors) < len(self._states):
            self.store.expire(self.clock() - EXPIRE_AFTER, keep_sources=mirrors)

    def start(self) -> None:
        """Start polling every source in the background of the running loop."""
        if self._tasks:
            return
        gap = min((s.source.interval for s in self._states), default=1.0) / 4
        self._tasks = [asyncio.create_task(self._run_source(s)) for s in self._states]
        self._tasks.append(asyncio.create_task(self._run_analysis(gap)))

    async def stop(self) -> None:
        """Cancel the polling tasks and close every source."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for state in self._states:
            with contextlib.suppress(Exception):
                await state.source.close()
