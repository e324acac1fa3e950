"""What an RDMA port says about its health and its identity, beyond the basic counters.

- ``counters_ext/*_64``: the 64-bit data and packet counters of older kernels and
  mlx4 (the 32-bit ones in ``counters/`` stop at 4294967295 within seconds at 100 Gb/s);
- the error counters port-health analysis reads (link error recovery, buffer
  overrun, link integrity, remote physical errors);
- mlx5 ``hw_counters`` that mean RDMA retransmission;
- counters stuck at their 8/16/32-bit maximum, named so they read as *saturated*
  (their rate unknown) rather than as a quiet port;
- the node GUID and port GUID, by which the ``infiniband`` fabric source's view
  of a cable joins this host's port.
"""

from __future__ import annotations

from pathlib import Path

from watchfloor_host.sysfs import read_number, read_text

EXTENDED: dict[str, tuple[str, float]] = {
    "port_xmit_data_64": ("port.tx_bytes", 4.0),  # 4-octet words
    "port_rcv_data_64": ("port.rx_bytes", 4.0),
    "port_xmit_packets_64": ("port.tx_packets", 1.0),
    "port_rcv_packets_64": ("port.rx_packets", 1.0),
}
"""``counters_ext`` files, read where their 32-bit twins are missing or stuck."""

HEALTH: dict[str, str] = {
    "link_error_recovery": "port.link_error_recovery",
    "excessive_buffer_overrun_errors": "port.buffer_overrun",
    "local_link_integrity_errors": "port.link_integrity_errors",
    "port_rcv_remote_physical_errors": "port.rx_remote_physical_errors",
}
"""``counters`` files for port-health analysis."""

RETRANSMISSION: dict[str, str] = {
    "out_of_sequence": "port.out_of_sequence",
    "packet_seq_err": "port.packet_seq_err",
    "local_ack_timeout_err": "port.local_ack_timeout",
    "rnr_nak_retry_err": "port.rnr_nak_retry",
    "roce_adp_retrans": "port.retransmits",
    "req_cqe_error": "port.req_cqe_errors",
}
"""mlx5 ``hw_counters`` that mean the fabric lost or reordered RDMA traffic."""

BITS: dict[str, tuple[str, int]] = {
    # counters/ file → (metric, width): PortCounters widths (IBTA)
    "port_xmit_wait": ("port.xmit_wait", 32),
    "port_xmit_data": ("port.tx_bytes", 32),
    "port_rcv_data": ("port.rx_bytes", 32),
    "symbol_error": ("port.symbol_errors", 16),
    "port_rcv_errors": ("port.rx_errors", 16),
    "link_downed": ("port.link_downed", 8),
    "link_error_recovery": ("port.link_error_recovery", 8),
}


def extra_counters(port_dir: Path, counters: dict[str, float | None]) -> list[str]:
    """Add the extended, health and retransmission counters; return the pinned metrics.

    A pinned counter's value becomes ``None``: no rate, rather than a rate of zero."""
    extended: set[str] = set()
    for file_name, (metric, scale) in EXTENDED.items():
        value = read_number(port_dir / "counters_ext" / file_name)
        basic = read_number(port_dir / "counters" / file_name.removesuffix("_64"))
        # The 32-bit twin while it counts (as node_exporter reads it); the 64-bit one
        # where the twin is missing or stuck at its maximum.
        if value is not None and (basic is None or basic >= 0xFFFFFFFF):
            counters[metric] = value * scale
            extended.add(metric)
    for folder, table in (("counters", HEALTH), ("hw_counters", RETRANSMISSION)):
        for file_name, metric in table.items():
            value = read_number(port_dir / folder / file_name)
            if value is not None and metric not in counters:
                counters[metric] = value
    pinned = []
    for file_name, (metric, bits) in BITS.items():
        raw = read_number(port_dir / "counters" / file_name)
        if raw is not None and raw == (1 << bits) - 1 and metric not in extended:
            pinned.append(metric)
            counters[metric] = None
    return pinned


def _guid(text: str | None) -> str | None:
    """``7cfe:9003:003b:4bde`` (sysfs) → ``0x7cfe9003003b4bde`` (as ibnetdiscover prints)."""
    if not text:
        return None
    digits = text.replace(":", "").strip()
    try:
        return f"0x{int(digits, 16):016x}"
    except ValueError:
        return None


def identity(device_dir: Path, port_dir: Path) -> dict[str, str]:
    """``node_guid`` of the device and ``port_guid`` of the port (GID 0's lower half)."""
    found: dict[str, str] = {}
    node_guid = _guid(read_text(device_dir / "node_guid"))
    if node_guid:
        found["node_guid"] = node_guid
    gid = read_text(port_dir / "gids" / "0")
    if gid and gid.count(":") == 7:
        port_guid = _guid(":".join(gid.split(":")[4:]))
        if port_guid and port_guid != "0x0000000000000000":
            found["port_guid"] = port_guid
    return found
