"""Link utilisation and congestion, from the counters of the ports at each end."""

from __future__ import annotations

from collections.abc import Iterable

from console.analysis.thresholds import THRESHOLDS
from console.core.model import Entity, Finding
from console.core.store import Store


def _direction_util(store: Store, port: str, speed_gbps: float) -> float | None:
    rate = store.value(port, "port.tx_bytes")
    if rate is None or speed_gbps <= 0:
        return None
    return min(100.0, rate * 8 / (speed_gbps * 1e9) * 100)


def congestion_score(store: Store, link: Entity) -> tuple[float, bool]:
    """(score 0..1, a→b is the busier way): utilisation past 70% and back-pressure."""
    util_ab = store.value(link.ref, "link.util_ab") or 0.0
    util_ba = store.value(link.ref, "link.util_ba") or 0.0
    forward = util_ab >= util_ba
    util = util_ab if forward else util_ba
    sender = link.attrs.get("a" if forward else "b")
    wait = (store.value(sender, "port.xmit_wait") or 0.0) if sender else 0.0
    score = 0.5 * max(
        0.0,
        min(1.0, (util - THRESHOLDS.link_suspect_util) / (100.0 - THRESHOLDS.link_suspect_util)),
    )
    return score + 0.5 * min(1.0, wait / THRESHOLDS.xmit_wait_saturation), forward


def derive_link_util(store: Store) -> Iterable[Finding]:
    """Record ``link.util_ab``, ``link.util_ba``, ``link.util`` and ``link.score``."""
    time = store.time
    if time is None:
        return []
    for link in store.of_kind("link"):
        speed = float(link.attrs.get("speed_gbps", 0) or 0)
        ab = _direction_util(store, str(link.attrs.get("a")), speed)
        ba = _direction_util(store, str(link.attrs.get("b")), speed)
        store.record(link.ref, "link.util_ab", ab, time)
        store.record(link.ref, "link.util_ba", ba, time)
        known = [u for u in (ab, ba) if u is not None]
        store.record(link.ref, "link.util", max(known) if known else None, time)
        store.record(link.ref, "link.score", congestion_score(store, link)[0], time)
    return []


def congested_links(store: Store) -> Iterable[Finding]:
    """A finding for each link that is saturated and back-pressuring its sender."""
    findings = []
    for link in store.of_kind("link"):
        util = store.value(link.ref, "link.util")
        if util is None or util < THRESHOLDS.link_hot_util:
            continue
        evidence = [f"utilisation {util:.0f}% of {link.attrs.get('speed_gbps', '?')} Gb/s"]
        waiting = False
        for end in ("a", "b"):
            port = str(link.attrs.get(end))
            wait = store.value(port, "port.xmit_wait")
            if wait is not None and wait > THRESHOLDS.xmit_wait_per_s:
                waiting = True
                evidence.append(f"{port}: port_xmit_wait {wait:,.0f}/s")
            ecn = store.value(port, "port.ecn_marked")
            if ecn:
                evidence.append(f"{port}: ECN-marked {ecn:,.0f} pkt/s")
        findings.append(
            Finding(
                ref=link.ref,
                kind="link-congested" if waiting else "link-hot",
                severity="critical" if waiting else "warning",
                title=("congested" if waiting else "busy") + f" link {link.name}",
                evidence=evidence,
            )
        )
    return findings
