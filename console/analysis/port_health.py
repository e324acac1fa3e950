"""Port health: links down, links running below their speed, error counters rising,
and counters pinned at their maximum — on host and switch ports alike.

What an on-call engineer checks first on a fabric, each as a finding with evidence:

- ``link-down``: a link the fabric or the topology says is cabled, whose state (or
  the state of a port at either end) is down, polling or disabled; also an RDMA
  or switch port that was active before and is down now;
- ``link-degraded``: active below the best speed or width it has run at (or the
  speed the topology expects): 400 → 200 Gb/s, 4x → 1x;
- ``link-errors``: symbol errors, link error recovery, link downed, buffer overrun,
  receive errors, or RDMA retransmission counters increasing (a rate above zero);
- ``counter-saturated``: a counter stuck at its 8/16/32-bit maximum: it can no
  longer count, so its flat line is not zero traffic.

A finding about a port on a link is reported on the link (the port in
``related``), so root-cause ranking finds it on a job's path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from console.analysis.incremental import memo
from console.core.model import Entity, Finding
from console.core.store import Moved, Store

DOWN_STATES = {"DOWN", "POLLING", "DISABLED", "LINKDOWN", "LOWERLAYERDOWN"}
"""Port states (``state`` or ``phys_state``, any case) that mean no link."""

ERROR_METRICS: dict[str, tuple[str, str]] = {
    # metric → (words for the evidence, severity while it rises)
    "port.link_downed": ("link downed", "critical"),
    "port.link_error_recovery": ("link error recoveries", "warning"),
    "port.symbol_errors": ("symbol errors", "warning"),
    "port.rx_errors": ("receive errors", "warning"),
    "port.rx_remote_physical_errors": ("remote physical errors", "warning"),
    "port.link_integrity_errors": ("link integrity errors", "warning"),
    "port.buffer_overrun": ("buffer overruns", "warning"),
    "port.out_of_sequence": ("out-of-sequence packets (retransmission)", "warning"),
    "port.packet_seq_err": ("packet sequence errors (retransmission)", "warning"),
    "port.local_ack_timeout": ("local ACK timeouts (retransmission)", "warning"),
    "port.rnr_nak_retry": ("RNR NAK retries", "warning"),
    "port.retransmits": ("RoCE retransmissions", "warning"),
    "port.req_cqe_errors": ("requester completion errors", "warning"),
}
"""Counters whose increase is a link-health problem."""

HEALTH_KINDS = ("link-down", "link-degraded", "link-errors")
"""Finding kinds that root-cause ranking treats as causes on a job's path."""

STATE_KEY = "port_health"


def _is_down(attrs: dict[str, Any]) -> bool:
    for key in ("state", "phys_state"):
        value = attrs.get(key)
        if isinstance(value, str) and value.replace(" ", "").upper() in DOWN_STATES:
            return True
    return False


def _lanes(width: object) -> int:
    text = str(width or "").lower().removesuffix("x")
    return int(text) if text.isdigit() else 0


def _watched(port: Entity) -> bool:
    """RDMA and switch ports (not every veth and docker bridge of a host)."""
    return (
        "device" in port.attrs
        or (port.parent or "").startswith("switch/")
        or ("link" in port.attrs)
    )


def port_health(store: Store) -> Iterable[Finding]:
    """The port-health findings (see the module doc)."""
    memory: dict[str, Any] = store.analysis_state.setdefault(STATE_KEY, {"up": set(), "best": {}})
    was_up: set[str] = memory["up"]
    best: dict[str, float] = memory["best"]
    findings: dict[tuple[str, str], Finding] = {}

    def add(ref: str, kind: str, severity: str, title: str, evidence: list[str],
            related: Iterable[str] = ()) -> None:  # fmt: skip
        found = findings.get((ref, kind))
        if found is None:
            findings[(ref, kind)] = Finding(ref, kind, severity, title, evidence=list(evidence),
                                            related=list(related))  # fmt: skip
            return
        found.evidence += [line for line in evidence if line not in found.evidence]
        found.related += [r for r in related if r not in found.related]
        if severity == "critical":
            found.severity = "critical"

    # What each link and port adds is kept, and recomputed only for those that moved
    # (their attrs, an end's attrs, an error counter's rate); added in the same order.
    links, ports = store.of_kind("link"), store.of_kind("port")
    kept = memo(store, "port_health.kept")
    moved = kept.start(store, len(links) + len(ports))
    added: dict[str, list[tuple[Any, ...]]] = kept.results
    for link in links:
        ref = link.ref
        if (
            moved is None
            or ref not in added
            or moved.entity(ref)
            or moved.entity(str(link.attrs.get("a") or ""))
            or moved.entity(str(link.attrs.get("b") or ""))
        ):
            added[ref] = _kept_adds(partial(_link_checks, store, link))
        for contribution in added[ref]:
            add(*contribution)
    for port in ports:
        ref = port.ref
        if moved is None or ref not in added or _port_moved(moved, port):
            added[ref] = _kept_adds(partial(_port_checks, store, port, memory))
        for contribution in added[ref]:
            add(*contribution)
    if len(was_up) > 2 * len(ports) + 64:  # ports come and go: forget the departed
        alive = {p.ref for p in ports}
        was_up &= alive
        for ref in [r for r in best if r not in alive]:
            del best[ref]
    return list(findings.values())


def _kept_adds(check: Callable[[Any], None]) -> list[tuple[Any, ...]]:
    """The ``add`` calls a check makes, to be made again while nothing moves."""
    calls: list[tuple[Any, ...]] = []
    check(lambda *args: calls.append(args))
    return calls


def _port_moved(moved: Moved, port: Entity) -> bool:
    """Whether what :func:`_port_checks` reads of this port moved this cycle."""
    ref = port.ref
    if moved.entity(ref) or moved.entity(str(port.attrs.get("link") or "")):
        return True
    readings = moved.readings
    return any((ref, metric) in readings for metric in ERROR_METRICS)


def _port_checks(store: Store, port: Entity, memory: dict[str, Any], add: Any) -> None:
    """What one port adds: down after being up, below its best speed, errors, pinned
    counters (``memory``: the ports seen up, and each one's best speed)."""
    was_up: set[str] = memory["up"]
    best: dict[str, float] = memory["best"]
    if not _watched(port):
        return
    target = str(port.attrs.get("link") or port.ref)
    on_link = target != port.ref and store.get(target) is not None
    down = _is_down(port.attrs)
    if down and port.ref in was_up and not on_link:
        add(port.ref, "link-down", "critical", f"port {port.ref[5:]} went down",
            [f"{port.ref}: {_state_words(port.attrs)}, was active"])  # fmt: skip
    if not down:
        was_up.add(port.ref)
        speed = port.attrs.get("speed_gbps")
        if isinstance(speed, (int, float)) and speed > 0:
            top = best.get(port.ref, 0.0)
            if speed < top:
                add(target, "link-degraded", "warning",
                    f"{'link' if on_link else 'port'} {target.split('/', 1)[1]} "
                    f"runs at {speed:g} of {top:g} Gb/s",
                    [f"{port.ref}: active at {speed:g} Gb/s, ran at {top:g} Gb/s before"],
                    [port.ref])  # fmt: skip
            else:
                best[port.ref] = float(speed)
    _error_checks(store, port, target, on_link, add)
    pinned = port.attrs.get("saturated")
    if pinned:
        names = ", ".join(str(m).removeprefix("port.") for m in pinned)
        add(port.ref, "counter-saturated", "warning",
            f"counters stuck at their maximum on {port.ref[5:]}: {names}",
            [f"{port.ref}: {names} at the counter's maximum: it no longer counts, so its "
             "rate is unknown (not zero); clear it (perfquery -R) or read the 64-bit "
             "extended counters"])  # fmt: skip


def _state_words(attrs: dict[str, Any]) -> str:
    parts = [str(attrs[k]) for k in ("state", "phys_state") if attrs.get(k)]
    return "/".join(parts) or "down"


def _link_checks(store: Store, link: Entity, add: Any) -> None:
    ends = [str(link.attrs.get("a") or ""), str(link.attrs.get("b") or "")]
    name = link.ref[5:]
    evidence: list[str] = []
    if _is_down(link.attrs):
        since = link.attrs.get("down_since")
        evidence.append(
            f"link state {_state_words(link.attrs)}"
            + (" (gone from the fabric discovery)" if since else "")
        )
    for end in ends:
        port = store.get(end) if end else None
        if port is not None and _is_down(port.attrs):
            evidence.append(f"{end}: {_state_words(port.attrs)}")
    if evidence:
        speed = link.attrs.get("expected_speed_gbps") or link.attrs.get("speed_gbps")
        if speed:
            evidence.append(f"cabled for {speed:g} Gb/s")
        add(link.ref, "link-down", "critical", f"link {name} is down", evidence, ends)
        return
    expected = link.attrs.get("expected_speed_gbps")
    speed = link.attrs.get("speed_gbps")
    lanes = _lanes(link.attrs.get("width"))
    expected_lanes = _lanes(link.attrs.get("expected_width"))
    lines = []
    if isinstance(expected, (int, float)) and isinstance(speed, (int, float)) and speed < expected:
        lines.append(f"active at {speed:g} Gb/s, expected {expected:g} Gb/s")
    if lanes and expected_lanes and lanes < expected_lanes:
        lines.append(f"width {lanes}x, expected {expected_lanes}x")
    if lines:
        add(link.ref, "link-degraded", "warning", f"link {name} runs below its speed", lines,
            ends)  # fmt: skip


def _error_checks(store: Store, port: Entity, target: str, on_link: bool, add: Any) -> None:
    evidence: list[str] = []
    severity = "warning"
    for metric, (words, level) in ERROR_METRICS.items():
        reading = store.reading(port.ref, metric)
        if reading is None or not reading.rate:
            continue
        total = "" if reading.value is None else f", {reading.value:,.0f} since the last clear"
        evidence.append(f"{port.ref}: {words} +{reading.rate:,.3g}/s{total}")
        if level == "critical":
            severity = "critical"
    if evidence:
        what = f"link {target[5:]}" if on_link else f"port {port.ref[5:]}"
        add(target, "link-errors", severity, f"errors on {what}", evidence, [port.ref])


def health_on(store: Store, refs: Iterable[str]) -> dict[str, list[Finding]]:
    """Port-health findings about these link refs (for root-cause ranking)."""
    wanted = set(refs)
    found: dict[str, list[Finding]] = {}
    for finding in store.findings:
        if finding.kind in HEALTH_KINDS and finding.ref in wanted:
            found.setdefault(finding.ref, []).append(finding)
    return found
