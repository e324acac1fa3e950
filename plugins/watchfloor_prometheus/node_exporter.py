"""Prometheus node_exporter mapped onto nodes and ports.

Ports are named as the host source names them, so a node seen through
node_exporter and through a Watchfloor agent is the same node with the same ports:

- network interfaces (``node_network_*{device}``, loopback left out) → ``port/<node>/<device>``;
- InfiniBand/RoCE ports (``node_infiniband_*{device,port}``) → ``port/<node>/<device>:<port>``
  (``mlx5_0:1``); node_exporter already multiplied the data counters by 4, and its
  64-bit ``legacy_*`` (counters_ext) data counters win over the 32-bit ones;
  mlx5 ``hw_counters`` under node_exporter's names give ECN and CNP counters;
- ethtool's per-priority PFC pause counters (``node_ethtool_received_prio3_pause``)
  add up to ``port.pfc_pause_rx``;
- hwmon gives the hottest sensor, RAPL the package and DRAM energy, ``node_load1``
  and ``node_memory_*`` the host, and ``node_cpu_seconds_total`` between two polls
  the CPU utilisation.

The node is ``node_uname_info``'s ``nodename`` unless the config names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from console.api import plain, port_ref
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, node_namer, ref_part, short_host

NETDEV: dict[str, str] = {
    "node_network_receive_bytes_total": "port.rx_bytes",
    "node_network_transmit_bytes_total": "port.tx_bytes",
    "node_network_receive_packets_total": "port.rx_packets",
    "node_network_transmit_packets_total": "port.tx_packets",
    "node_network_receive_errs_total": "port.rx_errors",
    "node_network_transmit_errs_total": "port.tx_errors",
    "node_network_receive_drop_total": "port.rx_drops",
    "node_network_transmit_drop_total": "port.tx_drops",
    "node_network_carrier_changes_total": "port.carrier_changes",
}
"""netdev/netclass counters of one interface (label ``device``)."""

INFINIBAND: dict[str, str] = {
    "node_infiniband_port_data_transmitted_bytes_total": "port.tx_bytes",
    "node_infiniband_port_data_received_bytes_total": "port.rx_bytes",
    "node_infiniband_port_packets_transmitted_total": "port.tx_packets",
    "node_infiniband_port_packets_received_total": "port.rx_packets",
    "node_infiniband_port_transmit_wait_total": "port.xmit_wait",
    "node_infiniband_symbol_error_total": "port.symbol_errors",
    "node_infiniband_link_downed_total": "port.link_downed",
    "node_infiniband_port_discards_transmitted_total": "port.discards",
    "node_infiniband_port_errors_received_total": "port.rx_errors",
    "node_infiniband_port_discards_received_total": "port.rx_discards",
    "node_infiniband_link_error_recovery_total": "port.link_error_recovery",
    # mlx5 hw_counters (RoCE congestion control), as node_exporter names them
    "node_infiniband_np_ecn_marked_roce_packets_received_total": "port.ecn_marked",
    "node_infiniband_np_cnp_packets_sent_total": "port.cnp_sent",
    "node_infiniband_rp_cnp_packets_handled_total": "port.cnp_handled",
}
"""InfiniBand port counters (labels ``device``, ``port``)."""

LEGACY: dict[str, str] = {
    "node_infiniband_legacy_data_transmitted_bytes_total": "port.tx_bytes",
    "node_infiniband_legacy_data_received_bytes_total": "port.rx_bytes",
}
"""64-bit ``counters_ext`` data counters: preferred over the 32-bit ``port_data_*`` ones,
which saturate (or read 0) on a busy mlx4 port."""

IB_STATES = {1: "DOWN", 2: "INIT", 3: "ARMED", 4: "ACTIVE", 5: "ACTIVE_DEFER"}
IB_PHYS_STATES = {1: "Sleep", 2: "Polling", 3: "Disabled", 4: "PortConfigurationTraining",
                  5: "LinkUp", 6: "LinkErrorRecovery", 7: "Phy Test"}  # fmt: skip
PFC_PAUSE = re.compile(r"node_ethtool_received_prio[0-7]_pause\Z")
RAPL_ZONE = re.compile(r"node_rapl_([a-z]+)_joules_total\Z")
BUSY_EXCLUDED = frozenset({"idle", "iowait"})
"""CPU modes that are not work (``steal`` is work taken from us: it counts as busy)."""


class NodeExporterTable:
    """node_exporter's series."""

    name = "node"
    names = "node_(network|infiniband|ethtool|hwmon_temp|rapl|load1|memory_Mem|cpu_seconds|uname).*"
    keep: tuple[str, ...] = (
        "instance", "nodename", "device", "port", "operstate", "board_id", "firmware_version",
        "hca_type", "chip", "sensor", "rapl_zone", "cpu", "mode", "index",
    )  # fmt: skip
    identity: tuple[str, ...] = ()  # the describing labels are on a few info series only

    def recognises(self, name: str) -> bool:
        return name.startswith("node_")

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        series = series if isinstance(series, Sequence) else list(series)  # read twice
        unames = {
            labels.get("instance", ""): short_host(labels["nodename"])
            for name, labels, _ in series
            if name == "node_uname_info" and labels.get("nodename")
        }
        base = node_namer(scope, ())

        def node_of(labels: Mapping[str, str]) -> str | None:
            if not scope.node and not (scope.node_label and labels.get(scope.node_label)):
                uname = unames.get(labels.get("instance", ""))
                if uname:
                    return uname
            return base(labels)

        hottest: dict[str, float] = {}
        cpu: dict[str, list[float]] = {}
        legacy: list[tuple[str, str, float]] = []
        devices: dict[tuple[str, str], dict[str, Any]] = {}
        mem: dict[str, dict[str, float]] = {}
        for name, labels, value in series:
            node = node_of(labels)
            if node is None:
                continue
            if name in NETDEV or name.startswith("node_network_"):
                self._netdev(out, node, name, labels, value)
            elif name.startswith("node_infiniband_"):
                if name in LEGACY:
                    ref = self._ib_port(out, node, labels)
                    if ref:
                        legacy.append((ref, LEGACY[name], value))
                elif name == "node_infiniband_info":
                    info = {"board_id": labels.get("board_id"), "hca_type": labels.get("hca_type"),
                            "firmware": labels.get("firmware_version")}  # fmt: skip
                    devices[(node, labels.get("device", ""))] = {
                        k: plain(v, 64) for k, v in info.items() if v
                    }
                else:
                    self._infiniband(out, node, name, labels, value)
            elif PFC_PAUSE.match(name) and labels.get("device"):
                ref = self._net_port(out, node, labels["device"])
                if ref and value == value:
                    out.add(ref, "port.pfc_pause_rx", value)
            elif name == "node_hwmon_temp_celsius":
                if value == value and value > hottest.get(node, float("-inf")):
                    hottest[node] = value
            elif name.startswith("node_rapl_"):
                self._rapl(out, node, name, labels, value)
            elif name == "node_load1":
                out.put(out.node(node), "node.load1", value)
            elif name in ("node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes"):
                mem.setdefault(node, {})[name] = value
            elif name == "node_cpu_seconds_total" and value == value:
                totals = cpu.setdefault(node, [0.0, 0.0])
                totals[0] += value
                if labels.get("mode") not in BUSY_EXCLUDED:
                    totals[1] += value
        for ref, metric, value in legacy:
            if value == value:  # a NaN leaves the 32-bit reading in place
                out.values[(ref, metric)] = value
        for port in out.entities.values():
            if port.kind == "port" and port.parent:
                extra = devices.get((port.parent[5:], port.attrs.get("device", "")))
                if extra:
                    port.attrs.update(extra)
        for node, celsius in hottest.items():
            out.put(out.node(node), "node.temp_max", celsius)
        for node, memory in mem.items():
            total = memory.get("node_memory_MemTotal_bytes")
            available = memory.get("node_memory_MemAvailable_bytes")
            out.put(out.node(node), "node.mem_total", total)
            if total is not None and available is not None:
                out.put(out.node(node), "node.mem_used", total - available)
        self._cpu(out, scope, cpu)

    def _net_port(self, out: Builder, node: str, device: str) -> str | None:
        if device == "lo":
            return None  # loopback is not a port of the fabric (the host source skips it too)
        name = ref_part(device)
        ref = port_ref(node, name)
        entity = out.entity(ref, name, out.node(node))
        entity.attrs.setdefault("link_layer", "Ethernet")
        return ref

    def _netdev(
        self, out: Builder, node: str, name: str, labels: Mapping[str, str], value: float
    ) -> None:
        device = labels.get("device")
        metric = NETDEV.get(name)
        if not device or (metric is None and name not in _NET_ATTRS):
            return
        ref = self._net_port(out, node, device)
        if ref is None:
            return
        if metric is not None:
            out.put(ref, metric, value)
        elif name == "node_network_speed_bytes" and value > 0:
            out.entities[ref].attrs["speed_gbps"] = value * 8 / 1e9
        elif name == "node_network_info":
            out.entities[ref].attrs["state"] = plain(labels.get("operstate", ""), 16) or None
        elif name == "node_network_up":
            out.entities[ref].attrs["up"] = value == 1

    def _ib_port(self, out: Builder, node: str, labels: Mapping[str, str]) -> str | None:
        device, port = labels.get("device"), labels.get("port")
        if not device or not port:
            return None
        name = ref_part(f"{device}:{port}")
        ref = port_ref(node, name)
        entity = out.entity(ref, name, out.node(node))
        entity.attrs.setdefault("device", plain(device, 64))
        entity.attrs.setdefault("port", int(port) if port.isdecimal() else plain(port, 8))
        return ref

    def _infiniband(
        self, out: Builder, node: str, name: str, labels: Mapping[str, str], value: float
    ) -> None:
        metric = INFINIBAND.get(name)
        if metric is None and name not in _IB_ATTRS:
            return
        ref = self._ib_port(out, node, labels)
        if ref is None:
            return
        attrs = out.entities[ref].attrs
        if metric is not None:
            out.put(ref, metric, value)
        elif name == "node_infiniband_rate_bytes_per_second":
            attrs["speed_gbps"] = value * 8 / 1e9
        elif name == "node_infiniband_state_id":
            attrs["state"] = IB_STATES.get(int(value), str(value)) if value == value else None
        elif name == "node_infiniband_physical_state_id":
            phys = IB_PHYS_STATES.get(int(value), str(value)) if value == value else None
            attrs["phys_state"] = phys

    def _rapl(
        self, out: Builder, node: str, name: str, labels: Mapping[str, str], value: float
    ) -> None:
        match = RAPL_ZONE.match(name)
        zone = match.group(1) if match else labels.get("rapl_zone", "")
        metric = {"package": "node.cpu_energy", "dram": "node.dram_energy"}.get(zone)
        if metric is not None and value == value:
            out.add(out.node(node), metric, value)

    def _cpu(self, out: Builder, scope: Scope, cpu: dict[str, list[float]]) -> None:
        """CPU utilisation between this poll and the last: busy seconds over all seconds."""
        last: dict[str, list[float]] = scope.memory.get("cpu", {})
        for node, (total, busy) in cpu.items():
            before = last.get(node)
            util = None
            if before is not None and total > before[0] and busy >= before[1]:
                util = min(100.0, 100.0 * (busy - before[1]) / (total - before[0]))
            out.put(out.node(node), "node.cpu_util", util)
        scope.memory["cpu"] = cpu


_NET_ATTRS = frozenset({"node_network_speed_bytes", "node_network_info", "node_network_up"})
_IB_ATTRS = frozenset({
    "node_infiniband_rate_bytes_per_second", "node_infiniband_state_id",
    "node_infiniband_physical_state_id",
})  # fmt: skip

TABLE = NodeExporterTable()
"""The node_exporter table."""
