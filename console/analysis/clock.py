"""Nodes whose clock is off: an agent's time measures its skew, it never moves "now"."""

from __future__ import annotations

from console.core.intake import SKEW_FINDING
from console.core.model import Finding
from console.core.store import Store


def _words(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def clock_skew(store: Store) -> list[Finding]:
    """A ``clock-skew`` warning for each node whose agent's clock is off by more than
    ``SKEW_FINDING`` seconds (time-based findings on that node may be off by as much)."""
    findings = []
    for node in store.of_kind("node"):
        skew = node.attrs.get("clock_skew")
        if isinstance(skew, (int, float)) and abs(skew) > SKEW_FINDING:
            side = "ahead of" if skew > 0 else "behind"
            findings.append(Finding(
                node.ref, "clock-skew", "warning",
                f"{node.name} clock is {_words(skew)} {side} the console's",
                evidence=[f"agent time minus console time: {skew:+.1f} s"],
            ))  # fmt: skip
    return findings
