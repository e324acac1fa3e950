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
from console.model import Finding
from console.store import Store

WINDOW = 600.0
"""Seconds of history a trend is fitted on."""
MAX_POINTS = 240
"""Points kept per series (memory stays flat whatever the interval)."""
MIN_POINTS = 8
MIN_SPAN = 30.0
"""Seconds the window must cover before a trend counts."""
MIN_FIT = 0.8
"""R² below which a rise is noise, not a trend."""
HORIZON = 900.0
"""A limit further away than this (seconds) is not yet worth a warning."""
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
    """Least-squares line through ``(time, value)`` points."""
    pts = list(points)
    n = len(pts)
    if n < MIN_POINTS or pts[-1][0] - pts[0][0] < MIN_SPAN:
        return None
    t0 = pts[0][0]
    xs = [t - t0 for t, _ in pts]
    ys = [v for _, v in pts]
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    syy = sum((y - mean_y) ** 2 for y in ys)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    if sxx == 0:
        return None
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy else 0.0
    now = mean_y + slope * (xs[-1] - mean_x)
    return Trend(slope, now, ys[0], ys[-1], n, xs[-1], r2)


def duration(seconds: float) -> str:
    """``4m10s``, ``1h05m``, ``45s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Windows:
    """Timed windows of the series the trend analysis watches."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], deque[tuple[float, float]]] = {}

    def add(self, ref: str, metric: str, time: float, value: float | None) -> None:
        if value is None:
            return
        window = self.series.get((ref, metric))
        if window is None:
            window = self.series[(ref, metric)] = deque(maxlen=MAX_POINTS)
        if window and time <= window[-1][0]:
            return  # the same reading again (a cycle without a new poll)
        window.append((time, value))
        while window and window[0][0] < time - WINDOW:
            window.popleft()

    def get(self, ref: str, metric: str) -> deque[tuple[float, float]]:
        return self.series.get((ref, metric), deque())

    def forget(self, live: set[str]) -> None:
        for key in [k for k in self.series if k[0] not in live]:
            del self.series[key]


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
    windows: Windows, ref: str, metric: str, limit: float, what: str, unit: str
) -> tuple[float, list[str]] | None:
    """(seconds to ``limit``, evidence) when ``metric`` of ``ref`` climbs steadily to it."""
    trend = fit(windows.get(ref, metric))
    if trend is None or trend.fit < MIN_FIT:
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
                         "utilisation", "%")]  # fmt: skip
        for end in ("a", "b"):
            port = str(link.attrs.get(end))
            _record(store, windows, port, "port.xmit_wait")
            found.append(_rising(windows, port, "port.xmit_wait", THRESHOLDS.xmit_wait_per_s,
                                 f"{port} xmit_wait", "/s"))  # fmt: skip
        best = min((f for f in found if f is not None), key=lambda f: f[0], default=None)
        if best is None:
            continue
        eta, evidence = best
        findings.append(Finding(link.ref, "link-saturating", "warning",
                                f"link {link.name} saturating in ≈{duration(eta)}",
                                evidence=evidence))  # fmt: skip
    return findings


def gpu_trends(store: Store, windows: Windows) -> list[Finding]:
    findings = []
    xids: dict[str, list[str]] = store.analysis_state.setdefault("trend_xids", {})
    for gpu in store.of_kind("gpu"):
        short = gpu.ref.removeprefix("gpu/")
        _record(store, windows, gpu.ref, "gpu.temp")
        temp = store.value(gpu.ref, "gpu.temp")
        heating = None
        if temp is not None and temp < THRESHOLDS.gpu_hot_c:
            heating = _rising(windows, gpu.ref, "gpu.temp", THRESHOLDS.gpu_hot_c,
                              "temperature", " °C")  # fmt: skip
        if heating is not None:
            findings.append(Finding(gpu.ref, "gpu-heating", "warning",
                                    f"GPU {short} heading for its throttle point in "
                                    f"≈{duration(heating[0])}", evidence=heating[1]))  # fmt: skip
        for metric, what in (("gpu.ecc_corrected_volatile", "corrected ECC errors"),
                             ("gpu.remapped_correctable", "remapped rows")):  # fmt: skip
            _record(store, windows, gpu.ref, metric)
            window = windows.get(gpu.ref, metric)
            if len(window) >= 2 and window[-1][1] > window[0][1]:
                grew = window[-1][1] - window[0][1]
                span = window[-1][0] - window[0][0]
                rate = grew / span * 3600 if span > 0 else 0.0
                evidence = [
                    f"{what} {window[0][1]:,.0f} → {window[-1][1]:,.0f} over "
                    f"{duration(span)} ({metric}, ≈{rate:,.0f}/h at this rate)"
                ]
                findings.append(Finding(gpu.ref, "gpu-memory-degrading", "warning",
                                        f"GPU {short}: {what} growing",
                                        evidence=evidence))  # fmt: skip
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
        rising = _rising(windows, f"rack/{rack}", "rack.power", budget, "draw", " W")
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
    windows.forget(set(store.entities) | {k[0] for k in windows.series if k[0].startswith("rack/")})
    return findings
