"""The fabric from a topology file (``topology:`` in the config): Watchfloor's YAML
below, a saved ``ibnetdiscover`` output, or a Slurm ``topology.conf`` (told apart by
content; see :func:`parse_topology_file`).

    switches:
      - {name: leaf01, tier: leaf}
      - {name: spine01, tier: spine}
    nodes:
      - {name: gpu001, rack: r01}
    links:
      - {a: gpu001/mlx5_0:1, b: leaf01/p1, speed_gbps: 400}
      - {a: leaf01/p33, b: spine01/p1, speed_gbps: 400}

Each link end is ``<node or switch>/<port>``; the port name is what the node's
agent reports (``mlx5_0:1`` for an HCA port), so counters from agents land on
the links. Mistakes name the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from console.api import Batch, Entity, FileSource, Option, Source, SourceContext, SourceType
from console.collect.ibfabric import (
    fabric_entities,
    looks_like_ibnetdiscover,
    parse_ibnetdiscover,
    place,
)
from console.collect.slurm_topology import looks_like_slurm_topology, parse_slurm_topology
from console.core.config import YamlWhere, compose_yaml, yaml_mapping, yaml_scalar
from console.core.model import link_ref, make_ref, port_ref

SECTIONS = ("switches", "nodes", "links")
TIERS = ("leaf", "spine", "core", "other")


def _items(where: YamlWhere, node: yaml.Node, what: str) -> list[yaml.Node]:
    if isinstance(node, yaml.ScalarNode) and yaml_scalar(node) is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise where.error(node, f"'{what}' must be a list")
    return list(node.value)


def _fields(
    where: YamlWhere, node: yaml.Node, what: str, allowed: dict[str, type | tuple[type, ...]],
    required: tuple[str, ...],
) -> dict[str, Any]:  # fmt: skip
    values: dict[str, Any] = {}
    for key, value_node in yaml_mapping(where, node, what):
        if key not in allowed:
            raise where.error(value_node, f"{what}: unknown key {key!r} "
                                          f"(allowed: {', '.join(allowed)})")  # fmt: skip
        value = yaml_scalar(value_node)
        if isinstance(value, bool) or not isinstance(value, allowed[key]):
            raise where.error(value_node, f"{what}: {key!r} has the wrong type ({value!r})")
        values[key] = value
    for key in required:
        if key not in values:
            raise where.error(node, f"{what}: {key!r} is required")
    return values


def _end(where: YamlWhere, node: yaml.Node, text: str, known: set[str], what: str) -> str:
    owner, sep, port = text.partition("/")
    if not sep or not owner or not port or "/" in port:
        raise where.error(node, f"{what}: {text!r} is not <node or switch>/<port>")
    if owner not in known:
        raise where.error(node, f"{what}: {owner!r} is neither a declared node nor a switch")
    return port_ref(owner, port)


def parse_topology(text: str, path: str) -> list[Entity]:
    """Entities (switches, nodes, ports, links) from topology YAML, or ConfigError."""
    where = YamlWhere(path)
    root = compose_yaml(text, path)
    if root is None:
        return []
    sections = dict(yaml_mapping(where, root, "topology"))
    for key_node, _ in root.value:  # a mapping, checked just above
        key = yaml_scalar(key_node)
        if key not in SECTIONS:
            raise where.error(key_node, f"unknown key {key!r} (allowed: {', '.join(SECTIONS)})")
    entities: list[Entity] = []
    tiers: dict[str, str] = {}
    for index, node in enumerate(_items(where, sections.get("switches", _empty()), "switches")):
        fields = _fields(where, node, f"switches[{index}]", {"name": str, "tier": str}, ("name",))
        tier = fields.get("tier", "other")
        if tier not in TIERS:
            raise where.error(node, f"switches[{index}]: tier must be one of {', '.join(TIERS)}")
        tiers[fields["name"]] = tier
        entities.append(
            Entity(make_ref("switch", fields["name"]), fields["name"], attrs={"tier": tier})
        )
    hosts: set[str] = set()
    for index, node in enumerate(_items(where, sections.get("nodes", _empty()), "nodes")):
        fields = _fields(where, node, f"nodes[{index}]", {"name": str, "rack": str}, ("name",))
        hosts.add(fields["name"])
        attrs = {"rack": fields["rack"]} if "rack" in fields else {}
        entities.append(Entity(make_ref("node", fields["name"]), fields["name"], attrs=attrs))
    known = hosts | set(tiers)
    seen: set[str] = set()
    for index, node in enumerate(_items(where, sections.get("links", _empty()), "links")):
        what = f"links[{index}]"
        fields = _fields(where, node, what, {"a": str, "b": str, "speed_gbps": (int, float)},
                         ("a", "b", "speed_gbps"))  # fmt: skip
        a = _end(where, node, fields["a"], known, what)
        b = _end(where, node, fields["b"], known, what)
        for end in (a, b):
            if end in seen:
                raise where.error(node, f"{what}: port {end} is already on another link")
            seen.add(end)
        ref = link_ref(a, b)
        a_owner, b_owner = a.split("/")[1], b.split("/")[1]
        tier = "host" if a_owner in hosts or b_owner in hosts else "uplink"
        speed = float(fields["speed_gbps"])
        attrs = {"a": a, "b": b, "speed_gbps": speed, "tier": tier}
        entities.append(Entity(ref, f"{a[5:]} ↔ {b[5:]}", attrs=attrs))
        for end, peer, owner in ((a, b, a_owner), (b, a, b_owner)):
            parent = make_ref("node" if owner in hosts else "switch", owner)
            port_attrs = {"link": ref, "peer": peer, "speed_gbps": speed}
            entities.append(Entity(end, end.split("/", 2)[2], parent=parent, attrs=port_attrs))
    return entities


def _empty() -> yaml.Node:
    return yaml.ScalarNode("tag:yaml.org,2002:null", "")


FILE_ONLY_ATTRS = ("state", "lid")
"""What an ibnetdiscover file said at the time it was saved, not now: left to live sources."""


def parse_ibnetdiscover_file(text: str, origin: str) -> list[Entity]:
    """The cabling in a saved ``ibnetdiscover`` output (either format)."""
    fabric = parse_ibnetdiscover(text, origin)
    entities = fabric_entities(fabric, place(fabric, {}))
    for entity in entities:
        for key in FILE_ONLY_ATTRS:
            entity.attrs.pop(key, None)
    return entities


def parse_topology_file(text: str, origin: str) -> list[Entity]:
    """A topology file of any kind, told apart by its content: an ``ibnetdiscover``
    output, a Slurm ``topology.conf``, or Watchfloor's YAML."""
    if looks_like_ibnetdiscover(text):
        return parse_ibnetdiscover_file(text, origin)
    if looks_like_slurm_topology(text):
        return parse_slurm_topology(text, origin)
    return parse_topology(text, origin)


class TopologySource(FileSource):
    """Re-reads the topology file now and then (it changes when cables do)."""

    type = "topology"

    def __init__(self, path: Path) -> None:
        super().__init__(path, interval=30.0)

    def parse(self, text: str, origin: str) -> Batch:
        return Batch(entities=parse_topology_file(text, origin))


def make_topology_sources(context: SourceContext) -> list[Source]:
    path = Path(context.options["path"])
    return [TopologySource(path if path.is_absolute() else Path(context.base_dir) / path)]


TOPOLOGY_SOURCE = SourceType(
    "topology", make_topology_sources, (Option("path", (str,), required=True),),
    help="the fabric from a topology file (YAML, ibnetdiscover output, Slurm topology.conf)",
)  # fmt: skip
