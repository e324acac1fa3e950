"""Wall mode's rules, without the UI: which panes rotate, when to move on, when a new
critical finding stops the rotation, and which findings are the newest.

Everything here is bounded by what the store holds now (findings seen before and
gone are forgotten), so a wall that runs for days keeps a flat memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from console.core.model import Finding, ref_kind
from console.core.plugins import Registry

OVERVIEW = "overview"
"""The console's own home pane (the only one that is not a plugin's)."""
RIBBON_LIMIT = 12
"""Newest findings kept for the ribbon (the screen shows as many as fit)."""
KIND_PANES = {"job": "jobs", "link": "fabric", "port": "fabric", "switch": "fabric",
              "gpu": "gpus", "node": "gpus"}  # fmt: skip
"""Which pane shows a finding best, by the kind of entity it is about."""


def pane_names(registry: Registry) -> dict[str, str]:
    """Every name ``wall.panes`` accepts → the pane id it means.

    A plugin pane is named by its id (``gpus``) or by an entity kind it opens
    (``gpu``); top-level panes only (those with a key or no detail views).
    """
    names = {OVERVIEW: OVERVIEW}
    for pane in registry.panes:
        names.setdefault(pane.id, pane.id)
        for kind in pane.opens:
            names.setdefault(kind, pane.id)
    return names


def default_panes(registry: Registry) -> tuple[str, ...]:
    """The overview, then every plugin pane that has a key (a top-level view)."""
    return (OVERVIEW, *(pane.id for pane in registry.panes if pane.key))


def finding_key(finding: Finding) -> tuple[str, str]:
    """What makes a finding the same finding from one analysis to the next."""
    return (finding.ref, finding.kind)


@dataclass(frozen=True)
class WallView:
    """What the wall shows now."""

    pane: str
    """The pane id on screen."""
    index: int
    """Its position in the rotation."""
    alert: Finding | None
    """The new critical finding that holds the rotation, if any."""
    alerts: int
    """How many new critical findings there are."""
    hold_left: float
    """Seconds until the rotation goes on again (0 when it is not held)."""
    next_in: float
    """Seconds until the next pane (while not held)."""


class Rotation:
    """Dwell on each pane in turn; hold on a new critical finding.

    A critical finding is *new* for ``hold`` seconds after this wall first saw
    it, unless its own ``since`` says it began longer ago than that. While one
    is new the rotation stops on the pane that shows it best (when that pane is
    in the rotation).
    """

    def __init__(self, panes: Sequence[str], dwell: float, hold: float) -> None:
        if not panes:
            raise ValueError("a rotation needs at least one pane")
        self.panes = list(panes)
        self.dwell = dwell
        self.hold = hold
        self.index = 0
        self.shown_at: float | None = None
        self.first_seen: dict[tuple[str, str], float] = {}
        """When this wall first saw each current finding (console clock)."""
        self._gone: dict[tuple[str, str], tuple[float, float]] = {}
        # Findings that went away lately: (first seen, gone at). One that flaps back
        # within ``hold`` is the same news, not a new alert.
        self._held_by: tuple[str, str] | None = None

    def jump(self, pane: str, now: float) -> bool:
        """Show ``pane`` now (a key pressed at the wall); False if it is not rotated."""
        if pane not in self.panes:
            return False
        self.index = self.panes.index(pane)
        self.shown_at = now
        return True

    def _new_criticals(
        self, findings: Sequence[Finding], now: float, data_now: float | None
    ) -> list[Finding]:
        new = []
        for finding in findings:
            if finding.severity != "critical":
                continue
            seen = self.first_seen.get(finding_key(finding), now)
            if now - seen >= self.hold:
                continue
            began = finding.since
            if began is not None and data_now is not None and data_now - began >= self.hold:
                continue  # began long ago: not news, however late we saw it
            new.append(finding)
        return new

    def update(self, now: float, findings: Sequence[Finding], data_now: float | None) -> WallView:
        """Advance to ``now`` (console clock); ``data_now``: the store's sample time."""
        current = {finding_key(f) for f in findings}
        for key in [k for k in self.first_seen if k not in current]:
            self._gone[key] = (self.first_seen.pop(key), now)
        for key in [k for k, (_, gone) in self._gone.items() if now - gone >= self.hold]:
            del self._gone[key]  # gone for good: forget it (memory stays flat)
        for finding in findings:
            key = finding_key(finding)
            if key not in self.first_seen:
                back = self._gone.pop(key, None)
                self.first_seen[key] = back[0] if back is not None else now
        if self.shown_at is None:
            self.shown_at = now
        new = self._new_criticals(findings, now, data_now)
        if new:
            newest = max(new, key=lambda f: (self.first_seen[finding_key(f)], f.ref))
            key = finding_key(newest)
            if key != self._held_by:
                self._held_by = key
                target = KIND_PANES.get(ref_kind(newest.ref), "")
                if target in self.panes:
                    self.index = self.panes.index(target)
                self.shown_at = now
            hold_left = max(self.hold - (now - self.first_seen[key]) for key in
                            (finding_key(f) for f in new))  # fmt: skip
            return WallView(self.panes[self.index], self.index, newest, len(new), hold_left, 0.0)
        if self._held_by is not None:
            self._held_by = None
            self.shown_at = now  # a full dwell on the pane after the hold ends
        if now - self.shown_at >= self.dwell:
            steps = int((now - self.shown_at) // self.dwell)
            self.index = (self.index + steps) % len(self.panes)
            self.shown_at += steps * self.dwell
        next_in = max(0.0, self.dwell - (now - self.shown_at))
        return WallView(self.panes[self.index], self.index, None, 0, 0.0, next_in)

    def newest(self, findings: Sequence[Finding], limit: int = RIBBON_LIMIT) -> list[Finding]:
        """The most recently seen findings, newest first (most severe first among equals)."""
        order = {"critical": 0, "warning": 1, "info": 2}
        ranked = sorted(
            findings,
            key=lambda f: (-self.first_seen.get(finding_key(f), 0.0), order.get(f.severity, 3),
                           f.ref),
        )  # fmt: skip
        return ranked[:limit]
