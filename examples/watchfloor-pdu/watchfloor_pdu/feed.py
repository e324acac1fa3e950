"""The JSON a PDU serves, turned into entities and samples.

One document describes one PDU, or a list of them (an aggregator)::

    {"pdu": "rack01-pdu-a", "model": "PX4-5000", "rack": "rack01", "rated_watts": 17300,
     "inlet": {"watts": 9120.5, "volts": 230.1, "amps": 39.6, "energy_kwh": 48213.2},
     "ups": {"on_battery": false, "battery_pct": 100, "runtime_s": 1260},
     "outlets": [{"id": 1, "name": "gpu001-psu1", "node": "gpu001", "state": "on",
                  "watts": 1520.0, "amps": 6.6}]}

``ups`` and ``outlets`` are optional, and so is every reading (a missing one is
"not available", never 0). Anything else wrong is a ``ValueError`` that says
which PDU and which field, and becomes the source's reason.
"""

from __future__ import annotations

from typing import Any

from console.api import Batch, Entity, Sample, make_ref

KWH = 3.6e6
"""Joules in a kilowatt-hour."""


def _number(item: dict[str, Any], key: str, where: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {key!r} must be a number, not {value!r:.40}")
    return float(value)


def _mapping(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object, not {type(item).__name__}")
    return item


def parse_pdu(document: Any, warn_pct: float, crit_pct: float) -> Batch:
    """Entities and samples of one PDU document (see the module docstring)."""
    data = _mapping(document, "document")
    name = data.get("pdu")
    if not isinstance(name, str) or not name:
        raise ValueError("document: 'pdu' (the PDU's name) is missing")
    ref = make_ref("pdu", name)
    rated = _number(data, "rated_watts", name)
    inlet = _mapping(data.get("inlet", {}), f"{name}: inlet")
    ups = _mapping(data.get("ups", {}), f"{name}: ups") if "ups" in data else None
    attrs: dict[str, Any] = {
        "model": str(data.get("model", "")),
        "rack": str(data.get("rack", "")),
        "rated_watts": rated,
        "warn_pct": warn_pct,
        "crit_pct": crit_pct,
        "ups": ups is not None,
    }
    if ups is not None:
        attrs["on_battery"] = bool(ups.get("on_battery", False))
    entities = [Entity(ref, name, attrs=attrs)]
    watts = _number(inlet, "watts", f"{name}: inlet")
    energy = _number(inlet, "energy_kwh", f"{name}: inlet")
    samples = [
        Sample(ref, "pdu.power", watts),
        Sample(ref, "pdu.load", None if watts is None or not rated else 100 * watts / rated),
        Sample(ref, "pdu.voltage", _number(inlet, "volts", f"{name}: inlet")),
        Sample(ref, "pdu.current", _number(inlet, "amps", f"{name}: inlet")),
        Sample(ref, "pdu.energy", None if energy is None else energy * KWH),
    ]
    if ups is not None:
        samples.append(Sample(ref, "pdu.battery", _number(ups, "battery_pct", f"{name}: ups")))
        samples.append(Sample(ref, "pdu.runtime", _number(ups, "runtime_s", f"{name}: ups")))
    outlets = data.get("outlets", [])
    if not isinstance(outlets, list):
        raise ValueError(f"{name}: 'outlets' must be a list")
    for index, item in enumerate(outlets):
        where = f"{name}: outlets[{index}]"
        outlet = _mapping(item, where)
        if "id" not in outlet:
            raise ValueError(f"{where}: 'id' is missing")
        outlet_ref = make_ref("pdu-outlet", name, outlet["id"])
        node = outlet.get("node")
        entities.append(
            Entity(
                outlet_ref,
                str(outlet.get("name") or f"outlet {outlet['id']}"),
                parent=ref,
                attrs={
                    "state": str(outlet.get("state", "?")),
                    "outlet": outlet["id"],
                    "node": make_ref("node", node) if node else None,
                },
            )
        )
        samples.append(Sample(outlet_ref, "pdu-outlet.power", _number(outlet, "watts", where)))
        samples.append(Sample(outlet_ref, "pdu-outlet.current", _number(outlet, "amps", where)))
    return Batch(entities, samples)


def parse_feed(document: Any, warn_pct: float, crit_pct: float) -> Batch:
    """One PDU document, or a list of them, as one batch."""
    documents = document if isinstance(document, list) else [document]
    batch = Batch()
    for item in documents:
        part = parse_pdu(item, warn_pct, crit_pct)
        batch.entities += part.entities
        batch.samples += part.samples
    return batch
