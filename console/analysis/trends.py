"""Early warnings: readings that climb steadily toward a limit, reported before they
reach it, with the time left and what the estimate was extrapolated from.

Each watched series keeps its own short, timed window here (the store's rings
keep values without times). A straight line is fitted to the window (least
squares); a warning needs a rise that is steady (the line explains most of the
movement), a limit not yet reached, and the line reaching it within
``HORIZON`` seconds. Counts that should not grow at all (corrected ECC errors,
remapped rows, XIDs) warn on growth itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from console.analysis.power import BUDGETS, node_draw
from console.analysis.thresholds import THRESHOLDS
from console.core.model import Finding
from console.core.store import Reading, Store

WINDOW = 600.0
"""Seconds of history a trend is fitted on."""
MAX_POINTS = 240
"""Points kept per series (memory stays flat whatever the interval)."""
MIN_POINTS = 8
MIN_SPAN = 60.0
"""Seconds the window must cover before a trend counts (over a fleet's thousands of
series, a shorter window finds chance "rises" in jitter)."""
MIN_FIT = 0.8
"""R² below which a rise is noise, not a trend."""
HORIZON = 900.0
"""A limit further away than this (seconds) is not yet worth a warning."""
MIN_RISE_UTIL = 5.0
"""Percentage points a link's utilisation must climb over the window."""
MIN_RISE_C = 3.0
"""Degrees a GPU must warm over the window."""
MIN_RISE_BUDGET = 0.02
"""Share of its budget a rack's draw must climb over the window."""
FORGET_EVERY = 50
"""Cycles between sweeps for windows of entities that are gone."""
XID_BURST = 3
"""XIDs on one node within the window that make a burst."""


@dataclass(frozen=True)
class Trend:
    """A fitted line over one series' window."""

    slope: float
    """Units per second."""
    now: float
    """The line's value at the newest point."""
    first: float
    last: float
    points: int
    span: float
    fit: float
    """R²: how much of the movement the line explains."""

    def eta(self, limit: float) -> float | None:
        """Seconds until the line reaches ``limit`` (None: falling, flat or already past)."""
        if self.slope <= 0 or self.now >= limit:
            return None
        return (limit - self.now) / self.slope


def fit(points: Iterable[tuple[float, float]]) -> Trend | None:
    """Least-squares line through ``(time, value)`` points (oldest first)."""
    series: Series | None = None
    for time, value in points:
        if series is None:
            series = Series(time)
        series.add(time, value)
    return series.trend() if series is not None else None


def duration(seconds: float) -> str:
    """``4m10s``, ``1h05m``, ``45s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Series:
    """One series' window, with running sums so that its line costs O(1) per cycle
    (a fleet has tens of thousands of series)."""

    __slots__ = ("n", "origin", "points", "sx", "sxx", "sxy", "sy", "syy")

    def __init__(self, origin: float) -> None:
        self.points: deque[tuple[float, float]] = deque()
        self.origin = origin
        """Times are kept relative to this, so the sums keep their precision."""
        self.n = 0
        self.sx = self.sy = self.sxx = self.sxy = self.syy = 0.0

    def _sum(self, time: float, value: float, sign: int) -> None:
        x = time - self.origin
        self.n += sign
        self.sx += sign * x
        self.sy += sign * value
        self.sxx += sign * x * x
        self.sxy += sign * x * value
        self.syy += sign * value * value

    def add(self, time: float, value: float) -> None:
        if self.points and time <= self.points[-1][0]:
            return  # the same reading again (a cycle without a new poll)
        if time - self.origin > REBASE:
            self.origin = self.points[0][0] if self.points else time
            self.n, self.sx, self.sy, self.sxx, self.sxy, self.syy = 0, 0.0, 0.0, 0.0, 0.0, 0.0
            for t, v in self.points:
                self._sum(t, v, 1)
        self.points.append((time, value))
        self._sum(time, value, 1)
        while self.points and (self.points[0][0] < time - WINDOW or len(self.points) > MAX_POINTS):
            old_time, old_value = self.points.popleft()
            self._sum(old_time, old_value, -1)

    def trend(self) -> Trend | None:
        """The least-squares line through the window."""
        n = self.n
        if n < MIN_POINTS or self.points[-1][0] - self.points[0][0] < MIN_SPAN:
            return None
        sxx = self.sxx - self.sx * self.sx / n
        syy = self.syy - self.sy * self.sy / n
        sxy = self.sxy - self.sx * self.sy / n
        if sxx <= 0:
            return None
        slope = sxy / sxx
        r2 = (sxy * sxy) / (sxx * syy) if syy > 1e-12 else 0.0
        last_time = self.points[-1][0] - self.origin
        now = self.sy / n + slope * (last_time - self.sx / n)
        first, last = self.points[0], self.points[-1]
        return Trend(slope, now, first[1], last[1], n, last[0] - first[0], min(1.0, r2))


REBASE = 1e6
"""Seconds after which a series' time origin moves up (float sums stay exact enough)."""


class Windows:
    """Timed windows of the series the trend analysis watches."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], Series] = {}
        self.cycles = 0
        self.zero: dict[tuple[str, str], float] = {}
        """When a count that should stay at zero was last read at zero."""

    def add(self, ref: str, metric: str, time: float, value: float | None) -> None:
        if value is None:
            return
        window = self.series.get((ref, metric))
        if window is None:
            window = self.series[(ref, metric)] = Series(time)
        window.add(time, value)

    def get(self, ref: str, metric: str) -> Series | None:
        return self.series.get((ref, metric))

    def forget(self, live: set[str]) -> None:
        for key in [k for k in self.series if k[0] not in live]:
            del self.series[key]
        for key in [k for k in self.zero if k[0] not in live]:
            del self.zero[key]


def _windows(store: Store) -> Windows:
    windows = store.analysis_state.get("trends")
    if not isinstance(windows, Windows):
        windows = store.analysis_state["trends"] = Windows()
    return windows


def _record(store: Store, windows: Windows, ref: str, metric: str) -> None:
    reading = store.reading(ref, metric)
    if reading is not None:
        windows.add(ref, metric, reading.time, store.value(ref, metric))


def _rising(
    windows: Windows, ref: str, metric: str, limit: float, what: str, unit: str, min_rise: float
) -> tuple[float, list[str]] | None:
    """(seconds to ``limit``, evidence) when ``metric`` of ``ref`` climbs steadily to it,
    by at least ``min_rise`` over the window (less is jitter, however straight)."""
    series = windows.get(ref, metric)
    if series is None or not series.points or series.points[-1][1] <= series.points[0][1]:
        return None  # not higher than the window began: no rise to fit (most series)
    trend = series.trend()
    if trend is None or trend.fit < MIN_FIT or trend.slope * trend.span < min_rise:
        return None
    eta = trend.eta(limit)
    if eta is None or eta > HORIZON:
        return None
    per_min = trend.slope * 60
    return eta, [
        f"{what} {trend.first:,.0f}{unit} → {trend.last:,.0f}{unit} over {duration(trend.span)} "
        f"({per_min:+,.1f}{unit}/min, {trend.points} samples of {metric}, fit R² {trend.fit:.2f})",
        f"extrapolated: reaches {limit:,.0f}{unit} in ≈{duration(eta)}",
    ]


def link_trends(store: Store, windows: Windows) -> list[Finding]:
    findings = []
    for link in store.of_kind("link"):
        _record(store, windows, link.ref, "link.util")
        util = store.value(link.ref, "link.util")
        if util is not None and util >= THRESHOLDS.link_hot_util:
            continue  # there already: the congestion analysis speaks now
        found = [_rising(windows, link.ref, "link.util", THRESHOLDS.link_hot_util,
                         "utilisation", "%", MIN_RISE_UTIL)]  # fmt: skip
        for end in ("a", "b"):
            port = str(link.attrs.get(end))
            _record(store, windows, port, "port.xmit_wait")
            found.append(_rising(windows, port, "port.xmit_wait", THRESHOLDS.xmit_wait_per_s,
                                 f"{port} xmit_wait", "/s",
                                 THRESHOLDS.xmit_wait_per_s / 10))  # fmt: skip
        best = min((f for f in found if f is not None), key=lambda f: f[0], default=None)
        if best is None:
            continue
        eta, evidence = best
        findings.append(Finding(link.ref, "link-saturating", "warning",
                                f"link {link.name} saturating in ≈{duration(eta)}",
                                evidence=evidence))  # fmt: skip
    return findings


GROWING = (("gpu.ecc_corrected_volatile", "corrected ECC errors"),
           ("gpu.remapped_correctable", "remapped rows"))  # fmt: skip
"""Counts that should stay where they are: any growth is a warning."""


def _growth(
    windows: Windows, ref: str, metric: str, what: str, reading: Reading | None
) -> str | None:
    """Evidence when a count that should not grow did, within the window."""
    if reading is None or reading.value is None:
        return None
    series = windows.get(ref, metric)
    if series is None:
        if not reading.value:  # none so far (nearly every GPU): remember when, nothing more
            windows.zero[(ref, metric)] = reading.time
            return None
        zero = windows.zero.pop((ref, metric), None)
        if zero is not None:
            windows.add(ref, metric, zero, 0.0)  # it grew from none
    windows.add(ref, metric, reading.time, reading.value)
    series = windows.get(ref, metric)
    window = series.points if series is not None else deque()
    if len(window) < 2 or window[-1][1] <= window[0][1]:
        return None
    (start, first), (end, last) = window[0], window[-1]
    rate = (last - first) / (end - start) * 3600 if end > start else 0.0
    return (f"{what} {first:,.0f} → {last:,.0f} over {duration(end - start)} "
            f"({metric}, ≈{rate:,.0f}/h at this rate)")  # fmt: skip


def gpu_trends(store: Store, windows: Windows) -> list[Finding]:
    findings = []
    xids: dict[str, list[str]] = store.analysis_state.setdefault("trend_xids", {})
    hot = THRESHOLDS.gpu_hot_c
    series, zero = windows.series, windows.zero
    for gpu in store.of_kind("gpu"):
        # Gauges only, read once each: this loop runs over every GPU of the fleet.
        ref = gpu.ref
        temp = store.reading(ref, "gpu.temp")
        if temp is not None and temp.value is not None:
            windows.add(ref, "gpu.temp", temp.time, temp.value)
            heating = _rising(windows, ref, "gpu.temp", hot, "temperature", " °C", MIN_RISE_C)
            if heating is not None and temp.value < hot:
                findings.append(Finding(ref, "gpu-heating", "warning",
                                        f"GPU {ref[4:]} heading for its throttle point in "
                                        f"≈{duration(heating[0])}",
                                        evidence=heating[1]))  # fmt: skip
        for metric, what in GROWING:
            reading = store.reading(ref, metric)
            if reading is not None and reading.value == 0 and (ref, metric) not in series:
                zero[(ref, metric)] = reading.time  # none so far (_growth, for nearly all)
                continue
            growth = _growth(windows, ref, metric, what, reading)
            if growth is not None:
                findings.append(Finding(ref, "gpu-memory-degrading", "warning",
                                        f"GPU {ref[4:]}: {what} growing",
                                        evidence=[growth]))  # fmt: skip
                break
        last = gpu.attrs.get("last_xid")
        if isinstance(last, dict) and "code" in last:
            mark = f"{gpu.ref}:{last.get('code')}:{last.get('time')}"
            node = gpu.parent or ""
            seen = xids.setdefault(node, [])
            if mark not in seen:
                seen.append(mark)
                del seen[:-50]
    for node, marks in xids.items():
        now = store.time or 0.0
        recent = [m for m in marks if _mark_time(m) >= now - WINDOW]
        if len(recent) >= XID_BURST:
            findings.append(Finding(node, "node-xid-burst", "warning",
                                    f"{len(recent)} XIDs on {node.removeprefix('node/')} in "
                                    f"{duration(WINDOW)}",
                                    evidence=[f"XID {m.split(':')[-2]} on {m.split(':')[0]}"
                                              for m in recent[-5:]]))  # fmt: skip
    return findings


def _mark_time(mark: str) -> float:
    try:
        return float(mark.rsplit(":", 1)[1])
    except ValueError:
        return 0.0


def rack_trends(store: Store, windows: Windows) -> list[Finding]:
    if not BUDGETS.racks or store.time is None:
        return []
    racks: dict[str, float] = {}
    members: dict[str, list[str]] = {}
    draw = node_draw(store)
    for node in store.of_kind("node"):
        rack = node.attrs.get("rack")
        if isinstance(rack, str):
            racks[rack] = racks.get(rack, 0.0) + draw.get(node.ref, 0.0)
            members.setdefault(rack, []).append(node.ref)
    findings = []
    for rack, watts in racks.items():
        budget = BUDGETS.racks.get(rack)
        if budget is None or watts >= budget:
            continue
        windows.add(f"rack/{rack}", "rack.power", store.time, watts)
        rising = _rising(windows, f"rack/{rack}", "rack.power", budget, "draw", " W",
                         budget * MIN_RISE_BUDGET)  # fmt: skip
        if rising is not None:
            findings.append(Finding(members[rack][0], "rack-power-rising", "warning",
                                    f"rack {rack} reaching its power budget in "
                                    f"≈{duration(rising[0])}", evidence=rising[1],
                                    related=members[rack]))  # fmt: skip
    return findings


def early_warnings(store: Store) -> Iterable[Finding]:
    """Every trend warning of this cycle."""
    windows = _windows(store)
    findings = link_trends(store, windows) + gpu_trends(store, windows)
    findings += rack_trends(store, windows)
    windows.cycles += 1
    if windows.cycles % FORGET_EVERY == 0:  # entities that went away take their windows
        windows.forget(set(store.entities) | {k[0] for k in windows.series
                                              if k[0].startswith("rack/")})  # fmt: skip
    return findings
