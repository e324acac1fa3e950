"""Each job's ranked causes, kept until something they were read from moves.

Ranking a job's causes reads its paths' links, their ports, its GPUs and hosts,
and the health findings on its paths. The ranking is kept with what it read; each
analysis cycle, :func:`forget_moved_causes` drops the rankings that read anything
that moved, so a link that did not change does not re-rank a job's causes. What
ranking reads goes through :class:`_Reads`, so a new read is tracked without a
list of dependencies to keep in step by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, field
from typing import TYPE_CHECKING, Any, cast

from console.analysis.incremental import FULL_KEY, memo
from console.analysis.thresholds import THRESHOLDS
from console.core.model import Entity, Finding, ref_kind
from console.core.store import Moved, Reading, Store

if TYPE_CHECKING:
    from console.analysis.causes import Explanation

MEMO = "causes.kept"


@dataclass
class _Kept:
    explanation: Explanation | None
    refs: set[str] = field(default_factory=set)
    """Entities read (their attrs, or whether they exist)."""
    readings: set[tuple[str, str]] = field(default_factory=set)
    """Readings whose value was read."""
    histories: set[tuple[str, str]] = field(default_factory=set)
    """Series whose points were read (a new point matters, even of the same value)."""
    kinds: set[str] = field(default_factory=set)
    """Kinds listed whole (a job or link of that kind coming or going matters)."""
    findings: list[Finding] | None = None
    """The findings it read, if it read any (they are replaced after each cycle)."""


class _Reads:
    """The store, read through: notes which entities, readings and kinds were read."""

    def __init__(self, store: Store, kept: _Kept) -> None:
        self._store = store
        self._kept = kept

    def get(self, ref: str) -> Entity | None:
        self._kept.refs.add(ref)
        return self._store.get(ref)

    def of_kind(self, kind: str) -> list[Entity]:
        self._kept.kinds.add(kind)
        return self._store.of_kind(kind)

    def children(self, ref: str, kind: str | None = None) -> list[Entity]:
        self._kept.kinds.add(kind or "*")
        return self._store.children(ref, kind)

    def value(self, ref: str, metric: str) -> float | None:
        self._kept.readings.add((ref, metric))
        return self._store.value(ref, metric)

    def reading(self, ref: str, metric: str) -> Reading | None:
        self._kept.readings.add((ref, metric))
        return self._store.reading(ref, metric)

    def timed_history(self, ref: str, metric: str) -> list[tuple[float, float | None]]:
        self._kept.histories.add((ref, metric))
        return self._store.timed_history(ref, metric)

    @property
    def findings(self) -> list[Finding]:
        self._kept.findings = self._store.findings
        return self._store.findings

    def __getattr__(self, name: str) -> Any:
        # Anything else is read untracked: a read that matters must be listed above.
        raise AttributeError(f"cause ranking reads store.{name}: track it in _Reads")


def _context() -> tuple[object, ...]:
    return astuple(THRESHOLDS)


def explained(
    store: Store, job_ref: str, rank: Callable[[Store, str], Explanation | None]
) -> Explanation | None:
    """``rank(store, job_ref)``, or what it answered before while nothing it read moved."""
    if store.analysis_state.get(FULL_KEY):
        return rank(store, job_ref)
    kept_all = memo(store, MEMO)
    if kept_all.context != _context():
        kept_all.results.clear()
        kept_all.context = _context()
    found: _Kept | None = kept_all.results.get(job_ref)
    if (
        found is not None
        and kept_all.cycle >= store.cycle - 1  # every cycle before this one was checked
        and not _stale(found, moved := store.moved(), _kinds(moved))  # nor in this one yet
        and (found.findings is None or found.findings == store.findings)
    ):
        return found.explanation
    found = _Kept(None)
    found.explanation = rank(cast(Store, _Reads(store, found)), job_ref)
    found.refs.add(job_ref)
    kept_all.results[job_ref] = found
    return found.explanation


def forget_moved_causes(store: Store) -> Iterable[Finding]:
    """Drop the kept rankings that read something that moved in this cycle (run
    after the analyzers whose readings ranking reads)."""
    kept_all = memo(store, MEMO)
    live = len(kept_all.results)
    moved = kept_all.start(store, live, _context())  # a missed cycle: forget them all
    if moved is None or not kept_all.results:
        return []
    kinds = _kinds(moved)
    for job_ref, kept in list(kept_all.results.items()):
        if _stale(kept, moved, kinds):
            del kept_all.results[job_ref]
    return []


def _kinds(moved: Moved) -> set[str]:
    """The kinds of the entities that moved (``*``: some did), for whole-kind readers."""
    kinds = {ref_kind(ref) for ref in moved.entities} | {ref_kind(ref) for ref in moved.removed}
    return kinds | {"*"} if kinds else kinds


def _stale(kept: _Kept, moved: Moved, kinds: set[str]) -> bool:
    """Whether anything this ranking read moved."""
    return (
        not kept.refs.isdisjoint(moved.entities)
        or not kept.refs.isdisjoint(moved.removed)
        or not kept.kinds.isdisjoint(kinds)
        or not kept.readings.isdisjoint(moved.readings)
        or not kept.histories.isdisjoint(moved.fresh)
        or not kept.histories.isdisjoint(moved.readings)
    )
