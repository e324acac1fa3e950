"""Switch interface counters (snmp_exporter IF-MIB, gNMI/OpenConfig) onto switch ports.

The fabric pane sees a link through the counters of both its ends. Hosts report
their own end; these tables give the switch end, from what sites already collect:

- snmp_exporter's ``if_mib`` module: ``ifHCInOctets``/``ifHCOutOctets`` (and
  packets, errors, discards, ``ifHighSpeed``, ``ifOperStatus``) labelled
  ``ifName``/``ifDescr``/``ifAlias``;
- gNMI collectors (gnmic's Prometheus output): OpenConfig
  ``interfaces/interface/state/counters/*`` as ``…interfaces_interface_state_counters_in_octets``
  (any prefix) labelled ``interface_name`` and ``source``.

Label mapping (documented in docs/prometheus.md, configurable per source):

- switch name: the ``switch_label`` option, else ``sysName``, else ``source``
  (gNMI target) or ``instance`` (host part), else the exporter URL's ``target=``
  or host; this is the name a topology file gives the switch;
- port name: the ``port_label`` option, else ``ifName`` (then ``ifDescr``) or
  ``interface_name``; ``port_match``/``port_replace`` rewrite it with a regex
  (``Ethernet(\\d+)/1`` → ``p\\1``) so it is the port the topology names; a ``/``
  left in a port name becomes ``_`` (refs use ``/`` as the separator).

A port ``leaf01/p1`` in the topology then gets ``port.tx_bytes`` (switch → host)
and ``port.rx_bytes`` (host → switch) from the switch itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from console.api import make_ref, plain, port_ref
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, ref_part, short_host

IF_MIB: dict[str, str] = {
    "ifHCInOctets": "port.rx_bytes",
    "ifHCOutOctets": "port.tx_bytes",
    "ifHCInUcastPkts": "port.rx_packets",
    "ifHCOutUcastPkts": "port.tx_packets",
    "ifInErrors": "port.rx_errors",
    "ifOutErrors": "port.tx_errors",
    "ifInDiscards": "port.rx_drops",
    "ifOutDiscards": "port.discards",
}
"""IF-MIB counters (64-bit ``ifHC*`` where they exist)."""

OPENCONFIG: dict[str, str] = {
    "interfaces_interface_state_counters_in_octets": "port.rx_bytes",
    "interfaces_interface_state_counters_out_octets": "port.tx_bytes",
    "interfaces_interface_state_counters_in_unicast_pkts": "port.rx_packets",
    "interfaces_interface_state_counters_out_unicast_pkts": "port.tx_packets",
    "interfaces_interface_state_counters_in_errors": "port.rx_errors",
    "interfaces_interface_state_counters_out_errors": "port.tx_errors",
    "interfaces_interface_state_counters_in_discards": "port.rx_drops",
    "interfaces_interface_state_counters_out_discards": "port.discards",
}
"""OpenConfig interface counters, by the end of the collector's metric name."""

IF_OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant",
                  6: "notPresent", 7: "lowerLayerDown"}  # fmt: skip
_OPENCONFIG_END = re.compile(r"(?:^|_)(interfaces_interface_state_counters_(?:in|out)_[a-z_]+)\Z")


class _PortNamer:
    """Switch and port names from labels, as the config maps them."""

    def __init__(self, scope: Scope, switch_labels: tuple[str, ...], port_labels: tuple[str, ...]):
        options = scope.options
        own: tuple[str, ...] = (options["switch_label"],) if options.get("switch_label") else ()
        self.switch_labels = own + switch_labels
        own = (options["port_label"],) if options.get("port_label") else ()
        self.port_labels = own + port_labels
        pattern = options.get("port_match")
        self.rename = re.compile(str(pattern)) if pattern else None
        self.replace = str(options.get("port_replace") or "")
        self.fixed = ref_part(scope.node) if scope.node else None
        self.default = ref_part(scope.default_node) if scope.default_node else None

    def switch(self, labels: Mapping[str, str]) -> str | None:
        if self.fixed:
            return self.fixed
        for key in self.switch_labels:
            if labels.get(key):
                return short_host(labels[key])
        return self.default

    def port(self, labels: Mapping[str, str]) -> str | None:
        for key in self.port_labels:
            name = labels.get(key)
            if name:
                name = plain(name, 64)
                if self.rename is not None and self.rename.fullmatch(name):
                    name = self.rename.sub(self.replace, name)
                return ref_part(name)
        return None


def _port(out: Builder, switch: str, port: str) -> str:
    switch_ref = make_ref("switch", switch)
    out.entity(switch_ref, switch)
    ref = port_ref(switch, port)
    out.entity(ref, port, switch_ref)
    return ref


class SnmpTable:
    """snmp_exporter's IF-MIB series."""

    name = "snmp"
    names = "if(HC(In|Out)(Octets|UcastPkts)|(In|Out)(Errors|Discards)|HighSpeed|OperStatus)"
    keep: tuple[str, ...] = ("instance", "sysName", "ifName", "ifDescr", "ifAlias")
    identity: tuple[str, ...] = ()

    def recognises(self, name: str) -> bool:
        return name in IF_MIB or name in ("ifHighSpeed", "ifOperStatus")

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        names = _PortNamer(scope, ("sysName", "instance"), ("ifName", "ifDescr"))
        for name, labels, value in series:
            switch, port = names.switch(labels), names.port(labels)
            if switch is None or port is None:
                continue
            ref = _port(out, switch, port)
            attrs: dict[str, Any] = out.entities[ref].attrs
            if labels.get("ifAlias"):
                attrs["alias"] = plain(labels["ifAlias"], 64)
            metric = IF_MIB.get(name)
            if metric is not None:
                out.put(ref, metric, value)
            elif name == "ifHighSpeed" and value > 0:
                attrs["speed_gbps"] = value / 1000  # Mb/s
            elif name == "ifOperStatus" and value == value:
                attrs["state"] = IF_OPER_STATUS.get(int(value), str(value))


class GnmiTable:
    """gNMI/OpenConfig interface counters as a gNMI collector exports them."""

    name = "gnmi"
    names = ".*interfaces_interface_state_counters_(in|out)_(octets|unicast_pkts|errors|discards)"
    keep: tuple[str, ...] = ("instance", "source", "interface_name", "name")
    identity: tuple[str, ...] = ()

    def recognises(self, name: str) -> bool:
        match = _OPENCONFIG_END.search(name)
        return match is not None and match.group(1) in OPENCONFIG

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        names = _PortNamer(scope, ("source", "instance"), ("interface_name", "name"))
        for name, labels, value in series:
            match = _OPENCONFIG_END.search(name)
            metric = OPENCONFIG.get(match.group(1)) if match else None
            switch, port = names.switch(labels), names.port(labels)
            if metric is None or switch is None or port is None:
                continue
            out.put(_port(out, switch, port), metric, value)


SNMP = SnmpTable()
"""The snmp_exporter IF-MIB table."""
GNMI = GnmiTable()
"""The gNMI/OpenConfig table."""
