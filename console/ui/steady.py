"""Steady numbers for lists watched over slow links: jitter is not redrawn.

A busy GPU's power or a link's utilisation moves by a few units every second; a
list that redraws its rows (and reorders them) for that sends kilobytes a second
over SSH (issue 15). A list shows a reading again only when it has moved by a
step, ranks rows by what it shows, and moves its sparklines once per step of time.
A pane's detail view shows every reading as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from console.core.store import Store
from console.ui.kit import spark

SPARK_STEP = 10
"""Seconds per character of a stepped sparkline."""


class SteadyValues:
    """What a list shows of jittery readings: the last shown value, until a reading
    moves by at least its step (a change that large is never hidden).

    ``steps`` maps a name (a metric, or a figure the pane computes) to its step.
    """

    def __init__(self, steps: Mapping[str, float]) -> None:
        self.steps = dict(steps)
        self._shown: dict[tuple[str, str], float] = {}

    def value(self, store: Store, ref: str, metric: str) -> float | None:
        """The steady value of ``metric`` of ``ref`` (``None`` when not available)."""
        return self.hold(ref, metric, store.value(ref, metric))

    def hold(self, ref: str, name: str, value: float | None) -> float | None:
        """The steady value of a figure the pane computed (a node's total draw)."""
        key = (ref, name)
        if value is None:
            self._shown.pop(key, None)
            return None
        shown = self._shown.get(key)
        if shown is None or abs(value - shown) >= self.steps.get(name, 0.0):
            self._shown[key] = shown = value
        return shown

    def __len__(self) -> int:
        return len(self._shown)

    def forget(self, keep: Collection[str]) -> None:
        """Drop what is kept for refs no longer listed (memory stays flat)."""
        self._shown = {k: v for k, v in self._shown.items() if k[0] in keep}


def stepped_spark(
    values: Sequence[float | None], width: int, step: int = SPARK_STEP, top: float | None = None
) -> str:
    """A sparkline of at most ``width`` characters, each the mean of ``step`` readings."""
    whole = len(values) - len(values) % step  # only complete steps: stable between steps
    if whole == 0:
        return spark(values, width, top=top)  # the first step: the readings as they come
    chars: list[float | None] = []
    for end in range(whole, 0, -step):
        chunk = [v for v in values[end - step : end] if v is not None]
        chars.append(sum(chunk) / len(chunk) if chunk else None)
        if len(chars) == width:
            break
    return spark(chars[::-1], width, top=top)


class SteppedSparks:
    """A list's sparklines (:func:`stepped_spark`), each built once per step of time
    however often the list is refreshed, and always ``width`` characters (newest on
    the right): a growing sparkline would widen its column and repaint the table."""

    def __init__(self, width: int, step: int = SPARK_STEP, top: float | None = None) -> None:
        self.width, self.step, self.top = width, step, top
        self._lines: dict[str, tuple[int, str]] = {}

    def line(
        self, key: str, now: float | None, history: Callable[[], Sequence[float | None]]
    ) -> str:
        """``key``'s sparkline at ``now``; ``history()`` is read only for a new step."""
        step = int((now or 0.0) // self.step)
        cached = self._lines.get(key)
        if cached is None or cached[0] != step:
            line = stepped_spark(history(), self.width, self.step, self.top).rjust(self.width)
            cached = self._lines[key] = (step, line)
        return cached[1]

    def __len__(self) -> int:
        return len(self._lines)

    def forget(self, keep: Collection[str]) -> None:
        """Drop the lines of keys no longer listed."""
        self._lines = {k: v for k, v in self._lines.items() if k in keep}
