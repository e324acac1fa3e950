"""Findings about PDUs: loaded near or over their rating, or running on battery."""

from __future__ import annotations

from collections.abc import Iterator

from console.api import Finding, Store


def pdu_findings(store: Store) -> Iterator[Finding]:
    """One finding per PDU in trouble; the thresholds come from its source's options,
    which the source put in the entity's attributes."""
    for pdu in store.of_kind("pdu"):
        load = store.value(pdu.ref, "pdu.load")
        warn, crit = pdu.attrs.get("warn_pct", 80.0), pdu.attrs.get("crit_pct", 95.0)
        rated = pdu.attrs.get("rated_watts") or 0
        if load is not None and load >= warn:
            yield Finding(
                ref=pdu.ref,
                kind="pdu-overload",
                severity="critical" if load >= crit else "warning",
                title=f"PDU {pdu.name} at {load:.0f}% of its {rated / 1000:,.1f} kW rating",
                evidence=[
                    f"inlet {store.value(pdu.ref, 'pdu.power') or 0:,.0f} W",
                    f"warns at {warn:.0f}%, critical at {crit:.0f}%",
                ],
                related=[o.ref for o in store.children(pdu.ref, "pdu-outlet")],
            )
        if pdu.attrs.get("on_battery"):
            runtime = store.value(pdu.ref, "pdu.runtime")
            left = "" if runtime is None else f", {runtime / 60:.0f} min left"
            yield Finding(
                ref=pdu.ref,
                kind="ups-on-battery",
                severity="critical",
                title=f"UPS {pdu.name} on battery{left}",
                evidence=[f"battery {store.value(pdu.ref, 'pdu.battery') or 0:.0f}%"],
            )
