"""InfiniBand fabrics as the standard tools print them, turned into entities.

Parsers for what ``infiniband-diags`` prints — ``ibnetdiscover`` (its default
format and ``--ports``), ``perfquery`` (basic and ``-x`` extended counters) —
and for the subnet manager's node-name-map; then one function that turns a
discovered fabric into switch, port, node and link entities. The ``infiniband``
source (fabric plugin) and ``topology:`` files (an ibnetdiscover output kept
aside) both go through here, so the same fabric gets the same refs either way.

Naming, so that a switch end and a host end describe the two ends of one link:

- a switch is named by the node-name-map (by node GUID), else by its node
  description; switch ports are ``port/<switch>/<n>``;
- an HCA whose description is ``<host> <device>`` (``gpu01 mlx5_0``) or
  ``<host> HCA-<n>`` (``o0001 HCA-1``) belongs to node ``<host>``, its port is
  ``port/<host>/<device>:<n>`` — what the host source calls it;
- an HCA that neither the map nor its description places is *unplaced*: listed
  by the caller, never guessed; its port is ``port/ca-<guid>/<n>`` and carries
  its GUID so that analysis can join it to a host that reports that GUID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.core.model import Entity, link_ref, make_ref, port_ref
from console.core.text import plain

LANE_GBPS: dict[str, float] = {
    "SDR": 2.5, "DDR": 5.0, "QDR": 10.0, "FDR10": 10.0, "FDR": 14.0625,
    "EDR": 25.0, "HDR": 50.0, "NDR": 100.0, "XDR": 200.0,
}  # fmt: skip
"""Signalling rate of one lane, per IBTA speed name: ``4x EDR`` is 100 Gb/s."""

HOST_HCA = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._-]{0,62})\s+(HCA-\d+|[a-z][a-z0-9]*(?:_[a-z0-9]+)*)"
)
"""``gpu01 mlx5_0`` / ``o0001 HCA-1`` / ``n1 mlx5_bond_0``: host, then device."""
_DEVICE_HAS_DIGIT = re.compile(r".*\d")


def speed_gbps(width: str | None, speed: str | None) -> float | None:
    """``4x``, ``EDR`` → 100.0; ``None`` when either is unknown (``4x ???``)."""
    if not width or not speed:
        return None
    lanes = width.lower().removesuffix("x")
    per_lane = LANE_GBPS.get(speed.upper())
    if not lanes.isdigit() or per_lane is None:
        return None
    return int(lanes) * per_lane


def place_hca(description: str) -> tuple[str, str] | None:
    """(host, device) from an HCA's node description, or ``None`` when it says neither."""
    match = HOST_HCA.fullmatch(description.strip())
    if match is None or not _DEVICE_HAS_DIGIT.match(match.group(2)):
        return None
    return match.group(1), match.group(2)


def ref_part(text: str) -> str:
    """A name made safe for one ref segment: plain, no ``/``, no spaces."""
    return re.sub(r"[\s/]+", "_", plain(text, 64)).strip("_") or "?"


# -- the discovered fabric -----------------------------------------------------


@dataclass
class IbPort:
    """One port of one fabric node, and what is on the other end."""

    number: int
    lid: int = 0
    guid: str = ""
    """Port GUID where the tool prints one (an HCA's), else the node's."""
    width: str | None = None
    speed: str | None = None
    peer: tuple[str, int] | None = None
    """(node key, port number) on the other end; ``None`` when unconnected."""


@dataclass
class IbNode:
    """A switch (``SW``), channel adapter (``CA``) or router (``RT``)."""

    key: str
    """Unique within one discovery: the node GUID (or an HCA port GUID in ``--ports``)."""
    kind: str
    description: str
    guid: str
    ports: dict[int, IbPort] = field(default_factory=dict)

    @property
    def lid(self) -> int:
        """The node's LID (a switch has one, on port 0); 0 before the SM gave one."""
        return next((p.lid for p in self.ports.values() if p.lid), 0)


@dataclass
class IbFabric:
    """What one ``ibnetdiscover`` saw."""

    nodes: dict[str, IbNode] = field(default_factory=dict)

    def node(self, key: str, kind: str, description: str, guid: str) -> IbNode:
        found = self.nodes.get(key)
        if found is None:
            found = self.nodes[key] = IbNode(key, kind, description, guid)
        elif description and not found.description:
            found.description = description
        return found

    def switches(self) -> list[IbNode]:
        return [n for n in self.nodes.values() if n.kind == "SW"]


def _guid(text: str) -> str:
    """``0x0002c9…`` / ``0002c9…`` / ``S-0002c9…`` → ``0x0002c9…`` (16 hex digits)."""
    text = text.strip().lower().removeprefix("s-").removeprefix("h-").removeprefix("r-")
    return f"0x{int(text.removeprefix('0x'), 16):016x}"


_PORTS_END = r"(CA|SW|RT)\s+(\d+)\s+(\d+)\s+(0x[0-9a-fA-F]+)"
_PORTS_LINE = re.compile(
    rf"\s*{_PORTS_END}\s+(\d+x)\s+(\S+)"
    rf"(?:\s+-\s+{_PORTS_END}\s+\(\s*'(.*)'\s+-\s+'(.*)'\s*\)|\s+'(.*)'|\s+(.*?))?\s*"
)
_NODE_HEADER = re.compile(r'(Switch|Ca|Rt)\s+(\d+)\s+"([SHR]-[0-9a-fA-F]+)"\s*(?:#\s*"(.*?)"(.*))?')
_DEFAULT_PORT = re.compile(
    r'\[(\d+)\](?:\(([0-9a-fA-F]+)\))?\s+"([SHR]-[0-9a-fA-F]+)"\[(\d+)\](?:\(([0-9a-fA-F]+)\))?'
    r"\s*(?:#(.*))?"
)
_KINDS = {"Switch": "SW", "Ca": "CA", "Rt": "RT", "S": "SW", "H": "CA", "R": "RT"}
_LID = re.compile(r"\blid\s+(\d+)")
_WIDTH_SPEED = re.compile(r"(\d+x)\s*([A-Za-z0-9?]+)\s*$")


def looks_like_ibnetdiscover(text: str) -> bool:
    """Whether a file's first meaningful lines are ibnetdiscover output (either format)."""
    for line in text.splitlines()[:50]:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("# Topology file: generated") or _PORTS_LINE.fullmatch(line):
            return True
        if stripped.startswith(("vendid=", "switchguid=", "caguid=")):
            return True
    return False


def parse_ibnetdiscover(text: str, origin: str) -> IbFabric:
    """The fabric in ``ibnetdiscover`` output, default or ``--ports`` format.

    Raises ValueError ``origin:line: …`` for a line that is neither."""
    if any(line.startswith(("Switch", "Ca\t", "Ca ", "vendid=")) for line in text.splitlines()):
        return _parse_default(text, origin)
    return _parse_ports(text, origin)


def _parse_ports(text: str, origin: str) -> IbFabric:
    fabric = IbFabric()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _PORTS_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"{origin}:{number}: not an ibnetdiscover --ports line: "
                             f"{plain(line, 80)!r}")  # fmt: skip
        kind, lid, port, guid, width, speed = match.group(1, 2, 3, 4, 5, 6)
        peer_kind, peer_lid, peer_port, peer_guid, desc, peer_desc = match.group(
            7, 8, 9, 10, 11, 12
        )
        alone = match.group(13) if match.group(13) is not None else (match.group(14) or "")
        key = _guid(guid)
        node = fabric.node(key, kind, desc if peer_kind else alone, key)
        end = node.ports.setdefault(int(port), IbPort(int(port)))
        end.lid, end.guid = int(lid), key
        end.width, end.speed = width, None if "?" in speed else speed
        if peer_kind:
            other_key = _guid(peer_guid)
            other = fabric.node(other_key, peer_kind, peer_desc or "", other_key)
            far = other.ports.setdefault(int(peer_port), IbPort(int(peer_port)))
            far.lid, far.guid = far.lid or int(peer_lid), other_key
            far.width, far.speed = far.width or end.width, far.speed or end.speed
            end.peer, far.peer = (other_key, int(peer_port)), (key, int(port))
    return fabric


def _parse_default(text: str, origin: str) -> IbFabric:
    fabric = IbFabric()
    current: IbNode | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" in line.split()[0]:
            continue
        header = _NODE_HEADER.fullmatch(line)
        if header is not None:
            kind, node_id, description, rest = header.group(1, 3, 4, 5)
            key = _guid(node_id)
            current = fabric.node(key, _KINDS[kind], description or "", key)
            current.description = description or current.description
            lid = _LID.search(rest or "")
            if lid and current.kind == "SW":
                current.ports.setdefault(0, IbPort(0)).lid = int(lid.group(1))
            continue
        port_line = _DEFAULT_PORT.fullmatch(line)
        if port_line is None or current is None:
            raise ValueError(f"{origin}:{number}: not an ibnetdiscover line: {plain(raw, 80)!r}")
        port, own_guid, peer_id, peer_port, peer_guid, comment = port_line.groups()
        comment = comment or ""
        end = current.ports.setdefault(int(port), IbPort(int(port)))
        end.guid = _guid(own_guid) if own_guid else current.guid
        width_speed = _WIDTH_SPEED.search(comment)
        if width_speed:
            end.width = width_speed.group(1)
            end.speed = None if "?" in width_speed.group(2) else width_speed.group(2)
        names = re.findall(r'"(.*?)"', comment)
        lids = [int(v) for v in _LID.findall(comment)]
        if current.kind == "CA" and lids:
            end.lid = lids[0]  # "# lid 3 lmc 0 "Switch1" lid 2 4xSDR": own LID first
        peer_key = _guid(peer_id)
        other = fabric.node(peer_key, _KINDS[peer_id[0]], names[-1] if names else "", peer_key)
        far = other.ports.setdefault(int(peer_port), IbPort(int(peer_port)))
        far.guid = _guid(peer_guid) if peer_guid else far.guid or peer_key
        far.width, far.speed = far.width or end.width, far.speed or end.speed
        if other.kind == "CA" and lids:
            far.lid = far.lid or lids[-1]
        end.peer, far.peer = (peer_key, int(peer_port)), (current.key, int(port))
    return fabric


# -- node-name-map -------------------------------------------------------------

_MAP_LINE = re.compile(r'\s*(0x[0-9a-fA-F]+)\s+"(.*)"\s*(?:#.*)?|\s*(0x[0-9a-fA-F]+)\s+(\S+)\s*')


def parse_node_name_map(text: str, origin: str) -> dict[str, str]:
    """GUID → name from an opensm node-name-map (``0x0002c9… "leaf01"`` per line)."""
    names: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _MAP_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"{origin}:{number}: expected '0x<guid> \"name\"', "
                             f"got {plain(line, 80)!r}")  # fmt: skip
        guid, name = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        names[_guid(guid)] = name
    return names


# -- entities ------------------------------------------------------------------


@dataclass
class Placement:
    """Where each fabric node lands among the console's entities."""

    switch_names: dict[str, str] = field(default_factory=dict)
    """Switch key → switch name."""
    hcas: dict[str, tuple[str, str]] = field(default_factory=dict)
    """CA key → (host, device)."""
    unplaced: list[str] = field(default_factory=list)
    """Descriptions (with GUID) of HCAs nobody could place."""


def place(fabric: IbFabric, name_map: Mapping[str, str]) -> Placement:
    """Name switches and place HCAs on hosts (never guessing)."""
    placement = Placement()
    switches = fabric.switches()
    wanted = {s.key: name_map.get(s.guid) or s.description.strip() for s in switches}
    counts: dict[str, int] = {}
    for name in wanted.values():
        counts[name] = counts.get(name, 0) + 1
    for key, name in wanted.items():
        # Switches left at the vendor's default description share it: use the GUID.
        placement.switch_names[key] = ref_part(name) if name and counts[name] == 1 else key
    for node in fabric.nodes.values():
        if node.kind == "SW":
            continue
        spot = place_hca(name_map.get(node.guid, node.description))
        if spot is None:
            placement.unplaced.append(f"{plain(node.description, 64)!r} ({node.guid})")
        else:
            placement.hcas[node.key] = (ref_part(spot[0]), ref_part(spot[1]))
    placement.unplaced.sort()
    return placement


def port_of(fabric: IbFabric, placement: Placement, key: str, number: int) -> str:
    """The ref of one port of one fabric node."""
    if key in placement.switch_names:
        return port_ref(placement.switch_names[key], str(number))
    if key in placement.hcas:
        host, device = placement.hcas[key]
        return port_ref(host, f"{device}:{number}")
    return port_ref(f"ca-{key}", str(number))


def fabric_entities(fabric: IbFabric, placement: Placement) -> list[Entity]:
    """Switches, their ports (connected or not), hosts, host ports and links."""
    entities: list[Entity] = []
    hosts_of_switch: set[str] = set()
    for node in fabric.nodes.values():
        if node.kind == "CA":
            for port in node.ports.values():
                if port.peer and port.peer[0] in placement.switch_names:
                    hosts_of_switch.add(port.peer[0])
    seen_hosts: set[str] = set()
    for node in fabric.nodes.values():
        if node.kind == "SW":
            name = placement.switch_names[node.key]
            tier = "leaf" if node.key in hosts_of_switch else "spine"
            attrs: dict[str, Any] = {"guid": node.guid, "lid": node.lid, "tier": tier,
                                     "description": plain(node.description, 64)}  # fmt: skip
            entities.append(Entity(make_ref("switch", name), name, attrs=attrs))
            parent = make_ref("switch", name)
        elif node.key in placement.hcas:
            host = placement.hcas[node.key][0]
            parent = make_ref("node", host)
            if host not in seen_hosts:
                seen_hosts.add(host)
                entities.append(Entity(parent, host))
        else:
            parent = None
        for port in sorted(node.ports.values(), key=lambda p: p.number):
            if port.number == 0:
                continue  # a switch's management port: no cable
            ref = port_of(fabric, placement, node.key, port.number)
            port_attrs: dict[str, Any] = {
                "port": port.number, "guid": port.guid, "lid": port.lid,
                "width": port.width, "ib_speed": port.speed,
                "speed_gbps": speed_gbps(port.width, port.speed),
                "state": "ACTIVE" if port.peer else "DOWN",
            }  # fmt: skip
            if node.kind != "SW":
                port_attrs["device"] = placement.hcas.get(node.key, ("", node.description))[1]
            if port.peer:
                port_attrs["peer"] = port_of(fabric, placement, *port.peer)
                port_attrs["link"] = _link_of(fabric, placement, node.key, port)
            entities.append(Entity(ref, ref.split("/", 2)[2], parent=parent, attrs=port_attrs))
    entities += _links(fabric, placement)
    return entities


def _ends(fabric: IbFabric, placement: Placement, key: str, port: IbPort) -> tuple[
    tuple[str, int], tuple[str, int]
]:  # fmt: skip
    """The link's two ends in a fixed order: the host end first, else by ref."""
    assert port.peer is not None
    mine, theirs = (key, port.number), port.peer
    mine_host = fabric.nodes[key].kind != "SW"
    theirs_host = fabric.nodes[theirs[0]].kind != "SW"
    if theirs_host and not mine_host:
        return theirs, mine
    if mine_host and not theirs_host:
        return mine, theirs
    a, b = port_of(fabric, placement, *mine), port_of(fabric, placement, *theirs)
    return (mine, theirs) if (a <= b) else (theirs, mine)


def _link_of(fabric: IbFabric, placement: Placement, key: str, port: IbPort) -> str:
    (ak, ap), (bk, bp) = _ends(fabric, placement, key, port)
    return link_ref(port_of(fabric, placement, ak, ap), port_of(fabric, placement, bk, bp))


def _links(fabric: IbFabric, placement: Placement) -> list[Entity]:
    links: dict[str, Entity] = {}
    for node in fabric.nodes.values():
        for port in node.ports.values():
            if port.peer is None or port.peer[0] not in fabric.nodes:
                continue
            (ak, ap), (bk, bp) = _ends(fabric, placement, node.key, port)
            a, b = port_of(fabric, placement, ak, ap), port_of(fabric, placement, bk, bp)
            ref = link_ref(a, b)
            if ref in links:
                continue
            host = fabric.nodes[ak].kind != "SW" or fabric.nodes[bk].kind != "SW"
            a_port, b_port = fabric.nodes[ak].ports[ap], fabric.nodes[bk].ports[bp]
            attrs: dict[str, Any] = {
                "a": a, "b": b, "speed_gbps": speed_gbps(port.width, port.speed),
                "width": port.width, "ib_speed": port.speed, "state": "ACTIVE",
                "tier": "host" if host else "uplink",
                "a_guid": a_port.guid, "b_guid": b_port.guid,
            }  # fmt: skip
            links[ref] = Entity(ref, f"{a[5:]} ↔ {b[5:]}", attrs=attrs)
    return list(links.values())


# -- perfquery -------------------------------------------------------------------

PERFQUERY_FIELDS: dict[str, tuple[str, float]] = {
    # perfquery field → (metric, scale); data counts 4-octet words (IBTA)
    "PortXmitData": ("port.tx_bytes", 4.0),
    "PortRcvData": ("port.rx_bytes", 4.0),
    "PortXmitPkts": ("port.tx_packets", 1.0),
    "PortRcvPkts": ("port.rx_packets", 1.0),
    "PortXmitWait": ("port.xmit_wait", 1.0),
    "SymbolErrorCounter": ("port.symbol_errors", 1.0),
    "LinkErrorRecoveryCounter": ("port.link_error_recovery", 1.0),
    "LinkDownedCounter": ("port.link_downed", 1.0),
    "PortRcvErrors": ("port.rx_errors", 1.0),
    "PortRcvRemotePhysicalErrors": ("port.rx_remote_physical_errors", 1.0),
    "PortXmitDiscards": ("port.discards", 1.0),
    "LocalLinkIntegrityErrors": ("port.link_integrity_errors", 1.0),
    "ExcessiveBufferOverrunErrors": ("port.buffer_overrun", 1.0),
}
"""perfquery fields mapped into the metric vocabulary."""

BASIC_BITS: dict[str, int] = {
    "PortXmitData": 32, "PortRcvData": 32, "PortXmitPkts": 32, "PortRcvPkts": 32,
    "PortXmitWait": 32, "SymbolErrorCounter": 16, "LinkErrorRecoveryCounter": 8,
    "LinkDownedCounter": 8, "PortRcvErrors": 16, "PortRcvRemotePhysicalErrors": 16,
    "PortXmitDiscards": 16, "LocalLinkIntegrityErrors": 4, "ExcessiveBufferOverrunErrors": 4,
}  # fmt: skip
"""Widths of the basic (not extended) PortCounters: they stop at their maximum."""

_PERF_HEADER = re.compile(r"#\s*Port (extended )?counters:.*?\bport\s+(\d+)", re.IGNORECASE)
_PERF_FIELD = re.compile(r"(\w+):\.*\s*(\S+)")


@dataclass
class PortCounters:
    """One port's counters from one perfquery output."""

    port: int
    extended: bool
    values: dict[str, int] = field(default_factory=dict)
    basic: set[str] = field(default_factory=set)
    """Fields read from the basic PortCounters (8/16/32-bit: they can be pinned)."""

    def fill_from(self, basic: PortCounters) -> None:
        """Take the fields this block lacks from a basic block of the same port."""
        for name, value in basic.values.items():
            if name not in self.values:
                self.values[name] = value
                self.basic.add(name)


def parse_perfquery(text: str) -> list[PortCounters]:
    """Every port block in perfquery output (``-x``, ``-l``: one ``# Port …`` header each)."""
    blocks: list[PortCounters] = []
    current: PortCounters | None = None
    for line in text.splitlines():
        header = _PERF_HEADER.match(line.strip())
        if header is not None:
            current = PortCounters(int(header.group(2)), bool(header.group(1)))
            blocks.append(current)
            continue
        match = _PERF_FIELD.fullmatch(line.strip())
        if match is None:
            continue
        name, value = match.groups()
        if current is None:
            current = PortCounters(-1, False)
            blocks.append(current)
        if name == "PortSelect" and current.port < 0:
            current.port = int(value, 0)
        try:
            current.values[name] = int(value, 0)
        except ValueError:
            continue
        if not current.extended:
            current.basic.add(name)
    return [block for block in blocks if block.port >= 0]


def counter_samples(
    block: PortCounters, fields: Iterable[str] | None = None
) -> tuple[dict[str, float | None], list[str]]:
    """(metric → value, metrics pinned at their maximum) for one port's block.

    Extended (``-x``) counters are 64-bit and never stop; a basic counter at its
    width's maximum has stopped: its value is ``None``
    (no rate), never a flat line that reads as zero traffic."""
    values: dict[str, float | None] = {}
    pinned: list[str] = []
    for name in fields if fields is not None else block.values:
        if name not in PERFQUERY_FIELDS or name not in block.values:
            continue
        metric, scale = PERFQUERY_FIELDS[name]
        raw = block.values[name]
        bits = BASIC_BITS.get(name) if name in block.basic else None
        if bits is not None and raw >= (1 << bits) - 1:
            pinned.append(metric)
            values[metric] = None
        else:
            values[metric] = raw * scale
    return values, pinned
