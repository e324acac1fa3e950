"""The fabric from a Slurm ``topology.conf`` (the tree plugin's file).

    SwitchName=leaf01 Nodes=gpu[001-032]
    SwitchName=leaf02 Nodes=gpu[033-064] LinkSpeed=400
    SwitchName=spine01 Switches=leaf[01-02]

Each ``Nodes=`` member gets a link to its switch, each ``Switches=`` member a link
up to the switch naming it. The file names no ports, so each end is named after
the other (``port/gpu001/leaf01`` ↔ ``port/leaf01/gpu001``). ``LinkSpeed`` is in
the site's own unit (Slurm compares it, never converts it): it is taken as Gb/s
only where given. Host ranges expand with python-hostlist, as Slurm's do.
Mistakes name the file and line.
"""

from __future__ import annotations

import re
from typing import Any

import hostlist

from console.core.model import Entity, link_ref, make_ref, port_ref

KEYS = ("switchname", "nodes", "switches", "linkspeed")
MAX_MEMBERS = 100_000
"""A line that expands to more members than this is refused (``n[0-999999999]``)."""


def looks_like_slurm_topology(text: str) -> bool:
    """Whether the first meaningful line is ``SwitchName=…``."""
    for line in text.splitlines()[:200]:
        stripped = line.split("#", 1)[0].strip()
        if stripped:
            return stripped.lower().startswith("switchname=")
    return False


def _expand(value: str, origin: str, number: int) -> list[str]:
    try:
        names = hostlist.expand_hostlist(value)
    except hostlist.BadHostlist as exc:
        raise ValueError(f"{origin}:{number}: bad host list {value!r}: {exc}") from None
    if len(names) > MAX_MEMBERS:
        raise ValueError(f"{origin}:{number}: {value!r} expands to over {MAX_MEMBERS:,} names")
    return names


def parse_slurm_topology(text: str, origin: str) -> list[Entity]:
    """Switches, nodes, ports and links of a topology.conf, or ValueError ``origin:line:``."""
    switches: dict[str, dict[str, Any]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields: dict[str, str] = {}
        for item in line.split():
            key, sep, value = item.partition("=")
            if not sep or key.lower() not in KEYS or not value:
                raise ValueError(f"{origin}:{number}: expected SwitchName=, Nodes=, Switches= or "
                                 f"LinkSpeed=, got {item[:60]!r}")  # fmt: skip
            fields[key.lower()] = value
        name = fields.get("switchname")
        if name is None:
            raise ValueError(f"{origin}:{number}: a line needs SwitchName=")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name):
            raise ValueError(f"{origin}:{number}: switch name {name[:64]!r} is not a plain name")
        if name in switches:
            raise ValueError(f"{origin}:{number}: switch {name!r} is defined twice")
        speed = fields.get("linkspeed")
        try:
            speed_gbps = float(speed) if speed is not None else None
        except ValueError:
            raise ValueError(f"{origin}:{number}: LinkSpeed={speed!r} is not a number") from None
        switches[name] = {
            "line": number, "speed": speed_gbps,
            "nodes": _expand(fields["nodes"], origin, number) if "nodes" in fields else [],
            "switches": _expand(fields["switches"], origin, number)
            if "switches" in fields else [],
        }  # fmt: skip
    entities: list[Entity] = []
    hosts: set[str] = set()
    for name, switch in switches.items():
        for child in switch["switches"]:
            if child not in switches:
                raise ValueError(f"{origin}:{switch['line']}: switch {name!r} names {child!r}, "
                                 "which no SwitchName= line defines")  # fmt: skip
        tier = "leaf" if switch["nodes"] else "spine"
        entities.append(Entity(make_ref("switch", name), name, attrs={"tier": tier}))
        members = [(child, "node") for child in switch["nodes"]]
        members += [(child, "switch") for child in switch["switches"]]
        for child, kind in members:
            if kind == "node" and child not in hosts:
                hosts.add(child)
                entities.append(Entity(make_ref("node", child), child))
            below, above = port_ref(child, name), port_ref(name, child)
            ref = link_ref(below, above)
            attrs = {"a": below, "b": above, "speed_gbps": switch["speed"],
                     "tier": "host" if kind == "node" else "uplink"}  # fmt: skip
            entities.append(Entity(ref, f"{child} ↔ {name}", attrs=attrs))
            for end, peer, owner, owner_kind in ((below, above, child, kind),
                                                 (above, below, name, "switch")):  # fmt: skip
                port_attrs = {"link": ref, "peer": peer, "speed_gbps": switch["speed"]}
                parent = make_ref(owner_kind, owner)
                entities.append(Entity(end, end.split("/", 2)[2], parent, port_attrs))
    return entities
