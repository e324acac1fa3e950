"""The switch port at the other end of each NIC, from lldpd (RoCE / Ethernet fabrics).

Where ``lldpd`` runs on a host, ``lldpcli -f json show neighbors`` names, per
interface, the neighbour's system name and port: a host→switch link with both
ends, as a topology file would give it. The switch's own counters come from
snmp_exporter/gNMI through the prometheus plugin, on the same port refs when
their port names agree (``port_match``/``port_replace`` rewrite them).

lldpcli prints one interface as an object and several as a list of one-key
objects: both are read. The run is bounded in time and output and killed late.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

from console.api import Entity, link_ref, make_ref, plain, port_ref

MAX_OUTPUT = 1024 * 1024
TIMEOUT = 5.0


@dataclass(frozen=True)
class Neighbour:
    """What is on the other end of one local interface."""

    interface: str
    system: str
    port: str


def _ref_part(text: str) -> str:
    return plain(text, 64).replace("/", "_").replace(" ", "_") or "?"


def _items(value: Any) -> list[tuple[str, Any]]:
    """``{"eth0": {...}}`` or ``[{"eth0": {...}}, ...]`` → [(name, body), ...]."""
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        return [(str(k), v) for item in value if isinstance(item, dict) for k, v in item.items()]
    return []


def parse_neighbours(text: str) -> list[Neighbour]:
    """The neighbours in ``lldpcli -f json show neighbors`` output; ValueError if not JSON."""
    document = json.loads(text)
    lldp = document.get("lldp") if isinstance(document, dict) else None
    found = []
    for interface, body in _items(lldp.get("interface") if isinstance(lldp, dict) else None):
        if not isinstance(body, dict):
            continue
        chassis = _items(body.get("chassis"))
        port: dict[str, Any] = body["port"] if isinstance(body.get("port"), dict) else {}
        port_id: dict[str, Any] = port["id"] if isinstance(port.get("id"), dict) else {}
        name = port_id.get("value") if port_id.get("type") == "ifname" else None
        name = name or port.get("descr") or port_id.get("value")
        if not chassis or not name:
            continue
        system = chassis[0][0]
        if system == "id" and isinstance(chassis[0][1], dict):  # no system name sent
            system = str(chassis[0][1].get("value", ""))
        found.append(Neighbour(str(interface), str(system), str(name)))
    return found


def read_neighbours(command: str) -> list[Neighbour]:
    """Run lldpcli (``command`` is its command line) and parse; RuntimeError on failure."""
    argv = [*shlex.split(command), "-f", "json", "show", "neighbors"]
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    except OSError as exc:
        raise RuntimeError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        out, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise RuntimeError(f"lldpcli took over {TIMEOUT:g}s (killed)") from None
    if process.returncode != 0:
        raise RuntimeError(f"lldpcli exited {process.returncode}")
    if len(out) > MAX_OUTPUT:
        raise RuntimeError("lldpcli output too large")
    try:
        return parse_neighbours(out.decode("utf-8", "replace"))
    except ValueError:
        raise RuntimeError("lldpcli output is not JSON") from None


def neighbour_entities(node: str, neighbours: list[Neighbour]) -> list[Entity]:
    """A switch, its port and a link for each neighbour of ``node``'s interfaces."""
    entities = []
    for neighbour in neighbours:
        switch = _ref_part(neighbour.system)
        mine = port_ref(node, _ref_part(neighbour.interface))
        theirs = port_ref(switch, _ref_part(neighbour.port))
        ref = link_ref(mine, theirs)
        switch_ref = make_ref("switch", switch)
        entities += [
            Entity(switch_ref, switch, attrs={"tier": "leaf", "seen_by": "lldp"}),
            Entity(theirs, theirs.split("/", 2)[2], switch_ref, {"link": ref, "peer": mine}),
            Entity(ref, f"{mine[5:]} ↔ {theirs[5:]}",
                   attrs={"a": mine, "b": theirs, "tier": "host", "via": "lldp"}),
        ]  # fmt: skip
    return entities
