"""treydock/infiniband_exporter: switch and HCA port counters, and the fabric graph.

The exporter runs ``ibnetdiscover``/``perfquery`` on a host of the fabric and
serves ``infiniband_{switch,hca}_port_*_total{guid,port}``, ``*_info`` (GUID →
name) and ``*_uplink_info`` (who is on the other end of each port), which alone
gives the graph: switch-to-switch and host-to-switch links with both ends. Names
follow the ``infiniband`` source (console.collect.ibfabric), so a site may use either:
``port/<switch>/<n>``, ``port/<host>/<device>:<n>`` for an HCA described
``<host> <device>``, ``port/ca-<guid>/<n>`` for one that no name places.

Before v0.10.0 ``*_data_bytes_total`` carried PortXmitData/PortRcvData as read,
4-octet words (upstream issue #33). The ``infiniband_data`` option says which
(``bytes``/``words``); ``auto`` tells the versions apart by a rename of the same
release: v0.9 serves ``infiniband_switch_rate_bytes_per_second`` per switch, v0.10
``infiniband_switch_port_rate_bytes_per_second`` per port. An HCA-only
exposition has no such tell and is read as the current version (bytes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from console.api import link_ref, make_ref, place_hca, plain, port_ref
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, ref_part

COUNTERS: dict[str, tuple[str, bool]] = {
    # name after infiniband_{switch,hca}_port_ → (metric, counts data)
    "transmit_data_bytes_total": ("port.tx_bytes", True),
    "receive_data_bytes_total": ("port.rx_bytes", True),
    "transmit_packets_total": ("port.tx_packets", False),
    "receive_packets_total": ("port.rx_packets", False),
    "transmit_wait_total": ("port.xmit_wait", False),
    "symbol_error_total": ("port.symbol_errors", False),
    "link_error_recovery_total": ("port.link_error_recovery", False),
    "link_downed_total": ("port.link_downed", False),
    "receive_errors_total": ("port.rx_errors", False),
    "receive_remote_physical_errors_total": ("port.rx_remote_physical_errors", False),
    "transmit_discards_total": ("port.discards", False),
    "local_link_integrity_errors_total": ("port.link_integrity_errors", False),
    "excessive_buffer_overrun_errors_total": ("port.buffer_overrun", False),
}
V09_TELL = "infiniband_switch_rate_bytes_per_second"
V10_TELL = "infiniband_switch_port_rate_bytes_per_second"
PREFIXES = ("infiniband_switch_", "infiniband_hca_")


class _Names:
    """GUID → name, and the port refs the ``infiniband`` source would give."""

    def __init__(self) -> None:
        self.switches: dict[str, str] = {}
        self.hcas: dict[str, str] = {}

    def port(self, kind: str, guid: str, port: str) -> tuple[str, str]:
        """(port ref, parent ref) of one port of a switch (``SW``) or an HCA (``CA``)."""
        if kind == "SW":
            name = ref_part(self.switches.get(guid) or guid)
            return port_ref(name, port), make_ref("switch", name)
        spot = place_hca(self.hcas.get(guid, ""))
        if spot is None:
            return port_ref(f"ca-{guid}", port), ""
        host, device = ref_part(spot[0]), ref_part(spot[1])
        return port_ref(host, f"{device}:{port}"), make_ref("node", host)


class InfinibandExporterTable:
    """infiniband_exporter's series."""

    name = "infiniband"
    names = "infiniband_(switch|hca)_.*"
    keep: tuple[str, ...] = ("guid", "port", "switch", "hca", "uplink", "uplink_guid",
                             "uplink_port", "uplink_type")  # fmt: skip
    identity: tuple[str, ...] = ()

    def recognises(self, name: str) -> bool:
        return name.startswith(PREFIXES)

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        items = list(series)
        names = _Names()
        words = self._words(items, scope)
        for name, labels, _ in items:
            guid = labels.get("guid", "")
            if name == "infiniband_switch_info" or name == "infiniband_switch_uplink_info":
                names.switches.setdefault(guid, plain(labels.get("switch", ""), 64))
            elif name in ("infiniband_hca_info", "infiniband_hca_uplink_info"):
                names.hcas.setdefault(guid, plain(labels.get("hca", ""), 64))
            if name.endswith("_uplink_info"):
                kind = "SW" if labels.get("uplink_type") == "SW" else "CA"
                other = names.switches if kind == "SW" else names.hcas
                other.setdefault(labels.get("uplink_guid", ""), plain(labels.get("uplink", ""), 64))
        speeds: dict[str, float] = {}
        for name, labels, value in items:
            kind = "SW" if name.startswith("infiniband_switch_") else "CA"
            guid, port = labels.get("guid", ""), labels.get("port", "")
            if name.endswith("_uplink_info"):
                self._link(names, kind, labels, out)
                continue
            if name.endswith("rate_bytes_per_second") and "raw" not in name and value > 0:
                if port:
                    speeds[names.port(kind, guid, port)[0]] = value * 8 / 1e9
                else:
                    speeds[f"{kind}:{guid}"] = value * 8 / 1e9
                continue
            counter = COUNTERS.get(
                name.removeprefix(f"infiniband_{'switch' if kind == 'SW' else 'hca'}_port_")
            )
            if counter is None or not port or not guid:
                continue
            ref, parent = names.port(kind, guid, port)
            self._entity(out, ref, parent)
            metric, data = counter
            out.put(ref, metric, value * 4 if data and words else value)
        for ref, entity in out.entities.items():
            if ref.startswith("link/"):
                speed = speeds.get(str(entity.attrs["a"])) or speeds.get(str(entity.attrs["b"]))
                if speed is None:
                    speed = speeds.get(f"CA:{entity.attrs.get('a_guid')}")
                entity.attrs["speed_gbps"] = speed

    @staticmethod
    def _words(items: list[Series], scope: Scope) -> bool:
        unit = str(scope.options.get("infiniband_data") or "auto")
        if unit in ("words", "bytes"):
            return unit == "words"
        seen = {name for name, _, _ in items if name in (V09_TELL, V10_TELL)}
        return V09_TELL in seen and V10_TELL not in seen

    @staticmethod
    def _entity(out: Builder, ref: str, parent: str) -> None:
        if not parent:
            out.entity(ref, ref.split("/", 2)[2])
            return
        owner = parent.split("/", 1)[1]
        if parent.startswith("switch/"):
            out.entity(parent, owner)
        else:
            out.node(owner)
        out.entity(ref, ref.split("/", 2)[2], parent)

    def _link(self, names: _Names, kind: str, labels: dict[str, str], out: Builder) -> None:
        guid, port = labels.get("guid", ""), labels.get("port", "")
        peer_guid, peer_port = labels.get("uplink_guid", ""), labels.get("uplink_port", "")
        if not (guid and port and peer_guid and peer_port):
            return
        peer_kind = "SW" if labels.get("uplink_type") == "SW" else "CA"
        mine, mine_parent = names.port(kind, guid, port)
        theirs, theirs_parent = names.port(peer_kind, peer_guid, peer_port)
        ends = [(mine, mine_parent, kind, guid), (theirs, theirs_parent, peer_kind, peer_guid)]
        # the host end first; switch to switch in name order (as the infiniband source)
        ends.sort(key=lambda end: (end[2] == "SW", end[0]))
        (a, a_parent, a_kind, a_guid), (b, b_parent, b_kind, b_guid) = ends
        ref = link_ref(a, b)
        host = "CA" in (a_kind, b_kind)
        attrs: dict[str, Any] = {"a": a, "b": b, "a_guid": a_guid, "b_guid": b_guid,
                                 "tier": "host" if host else "uplink"}  # fmt: skip
        out.entity(ref, f"{a[5:]} ↔ {b[5:]}").attrs.update(attrs)
        for end, parent, peer in ((a, a_parent, b), (b, b_parent, a)):
            self._entity(out, end, parent)
            out.entities[end].attrs.update({"link": ref, "peer": peer})


TABLE = InfinibandExporterTable()
"""The infiniband_exporter table."""
