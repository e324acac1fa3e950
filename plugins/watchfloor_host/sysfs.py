"""Readers for the parts of ``/sys`` the host source uses. No UI, no psutil.

Real trees vary per device and driver: every reader takes what is there and
ignores files it cannot read. Nothing walks recursively, so symlink loops in
``/sys`` are never followed. ``/sys/class/*`` entries are symlinks to device
directories; a snapshot of /sys that could not keep symlinks may store each as
a small file holding the link target, and that form is read too.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

IB_COUNTERS: dict[str, tuple[str, float]] = {
    # file in ports/N/counters or hw_counters → (metric, scale)
    "port_xmit_data": ("port.tx_bytes", 4.0),  # counted in 4-byte words
    "port_rcv_data": ("port.rx_bytes", 4.0),
    "port_xmit_packets": ("port.tx_packets", 1.0),
    "port_rcv_packets": ("port.rx_packets", 1.0),
    "port_xmit_wait": ("port.xmit_wait", 1.0),
    "symbol_error": ("port.symbol_errors", 1.0),
    "link_downed": ("port.link_downed", 1.0),
    "port_xmit_discards": ("port.discards", 1.0),
    "port_rcv_errors": ("port.rx_errors", 1.0),
    "port_rcv_discards": ("port.rx_discards", 1.0),
    "link_error_recovery": ("port.link_error_recovery", 1.0),
    # mlx5 hw_counters (RoCE congestion control)
    "np_ecn_marked_roce_packets": ("port.ecn_marked", 1.0),
    "np_cnp_sent": ("port.cnp_sent", 1.0),
    "rp_cnp_handled": ("port.cnp_handled", 1.0),
}
"""The InfiniBand/RoCE counters mapped into the metric vocabulary."""

IB_COUNTERS_64: dict[str, tuple[str, float]] = {
    # file in ports/N/counters_ext → (metric, scale)
    "port_xmit_data_64": ("port.tx_bytes", 4.0),
    "port_rcv_data_64": ("port.rx_bytes", 4.0),
}
"""64-bit data counters (mlx4's ``counters_ext``; node_exporter's ``legacy_*``): read
before the 32-bit ones, which saturate at 4 GiWords and read 0 on a busy mlx4 port."""

NET_COUNTERS: dict[str, str] = {
    "tx_bytes": "port.tx_bytes",
    "rx_bytes": "port.rx_bytes",
    "tx_packets": "port.tx_packets",
    "rx_packets": "port.rx_packets",
    "rx_errors": "port.rx_errors",
    "tx_errors": "port.tx_errors",
    "rx_dropped": "port.rx_drops",
    "tx_dropped": "port.tx_drops",
}
"""``/sys/class/net/*/statistics`` files mapped into the metric vocabulary."""

MAX_VALUE_BYTES = 4096
"""Sysfs values are short; never read more than this from one file."""


READING: dict[int, str] = {}
"""The file each collecting thread is reading now: a read that never returns (a hung
driver) is named in the source's reason, not just "timed out"."""


def reading_now() -> str | None:
    """A file some thread is reading at this moment, if any."""
    return next(iter(READING.values()), None)


def read_text(path: Path) -> str | None:
    """A sysfs value, stripped; ``None`` when missing, unreadable or not a regular file.

    Opened without blocking: a FIFO or device put where a value belongs (a copied or
    hostile tree) is skipped, never waited on."""
    thread = threading.get_ident()
    READING[thread] = str(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        READING.pop(thread, None)
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        os.set_blocking(descriptor, True)
        return os.read(descriptor, MAX_VALUE_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(descriptor)
        READING.pop(thread, None)


def read_number(path: Path) -> float | None:
    """A sysfs number; ``None`` for missing, unreadable or ``N/A (no PMA)``."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return float(int(text, 0))
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def class_entries(root: Path, cls: str) -> list[tuple[str, Path]]:
    """``(name, device directory)`` for each entry of ``/sys/class/<cls>``."""
    base = root / "class" / cls
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    entries = []
    for name in names:
        entry = base / name
        if entry.is_dir():  # a real symlink to the device (followed once, never walked)
            entries.append((name, entry))
            continue
        target = read_text(entry) if entry.is_file() else None
        if target and target.startswith("../"):
            resolved = Path(os.path.normpath(base / target))
            if resolved.is_dir():
                entries.append((name, resolved))
    return entries


def _dirs(path: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(path) if (path / name).is_dir())
    except OSError:
        return []


@dataclass
class IbPort:
    """One port of an InfiniBand/RoCE device."""

    device: str
    port: int
    rate_gbps: float | None
    state: str | None
    phys_state: str | None
    link_layer: str | None
    counters: dict[str, float | None] = field(default_factory=dict)
    device_attrs: dict[str, str | None] = field(default_factory=dict)
    identity: dict[str, str] = field(default_factory=dict)
    """``node_guid`` and ``port_guid`` (see ib_health)."""
    pinned: list[str] = field(default_factory=list)
    """Metrics whose counter is stuck at its maximum."""

    @property
    def name(self) -> str:
        """``mlx5_0:1``: device and port number."""
        return f"{self.device}:{self.port}"


def _state(text: str | None) -> str | None:
    # "4: ACTIVE" → "ACTIVE"
    return None if text is None else text.split(":", 1)[-1].strip() or None


def _rate(text: str | None) -> float | None:
    # "400 Gb/sec (4X NDR)" → 400.0
    if not text:
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def read_infiniband(root: Path) -> list[IbPort]:
    """Every port of every InfiniBand/RoCE device under ``root``."""
    from watchfloor_host.ib_health import extra_counters, identity  # it reads with ours

    ports = []
    for device, path in class_entries(root, "infiniband"):
        device_attrs = {
            "board_id": read_text(path / "board_id"),
            "firmware": read_text(path / "fw_ver"),
            "hca_type": read_text(path / "hca_type"),
        }
        for number in _dirs(path / "ports"):
            if not number.isdigit():
                continue
            port_dir = path / "ports" / number
            port = IbPort(
                device=device,
                port=int(number),
                rate_gbps=_rate(read_text(port_dir / "rate")),
                state=_state(read_text(port_dir / "state")),
                phys_state=_state(read_text(port_dir / "phys_state")),
                link_layer=read_text(port_dir / "link_layer"),
                device_attrs=device_attrs,
            )
            tables = (
                ("counters_ext", IB_COUNTERS_64),
                ("counters", IB_COUNTERS),
                ("hw_counters", IB_COUNTERS),
            )
            for folder, table in tables:
                for file_name, (metric, scale) in table.items():
                    value = read_number(port_dir / folder / file_name)
                    if value is not None and metric not in port.counters:
                        port.counters[metric] = value * scale
            port.pinned = extra_counters(port_dir, port.counters)
            port.identity = identity(path, port_dir)
            ports.append(port)
    return ports


@dataclass
class NetDevice:
    """One network interface."""

    name: str
    operstate: str | None
    speed_mbps: float | None
    counters: dict[str, float] = field(default_factory=dict)


def read_net(root: Path) -> list[NetDevice]:
    """Every interface under ``root/class/net`` except loopback."""
    devices = []
    for name, path in class_entries(root, "net"):
        if name == "lo":
            continue
        speed = read_number(path / "speed")
        device = NetDevice(
            name=name,
            operstate=read_text(path / "operstate"),
            speed_mbps=speed if speed is not None and speed > 0 else None,
        )
        for file_name, metric in NET_COUNTERS.items():
            value = read_number(path / "statistics" / file_name)
            if value is not None:
                device.counters[metric] = value
        carrier_changes = read_number(path / "carrier_changes")
        if carrier_changes is not None:
            device.counters["port.carrier_changes"] = carrier_changes
        devices.append(device)
    return devices


@dataclass
class RaplZone:
    """One RAPL power zone (``package-0``, ``dram``, ``core``)."""

    path: str
    name: str
    energy_uj: float
    max_range_uj: float | None

    @property
    def is_package(self) -> bool:
        """A top-level zone (``intel-rapl:0``), not a sub-zone (``intel-rapl:0:0``)."""
        return self.path.count(":") == 1


def read_powercap(root: Path) -> list[RaplZone]:
    """RAPL zones with a readable energy counter (often root-only on modern kernels)."""
    zones = []
    for name, path in class_entries(root, "powercap"):
        if ":" not in name:
            continue  # the control type itself (intel-rapl), not a zone
        energy = read_number(path / "energy_uj")
        zone_name = read_text(path / "name")
        if energy is None or zone_name is None:
            continue
        zones.append(RaplZone(name, zone_name, energy, read_number(path / "max_energy_range_uj")))
    return zones


@dataclass
class Sensor:
    """One hwmon temperature sensor."""

    chip: str
    sensor: str
    label: str | None
    celsius: float


def read_hwmon(root: Path) -> list[Sensor]:
    """Every readable ``temp*_input`` of every hwmon chip."""
    sensors = []
    for name, path in class_entries(root, "hwmon"):
        chip = read_text(path / "name") or name
        try:
            files = sorted(os.listdir(path))
        except OSError:
            continue
        for file_name in files:
            if not (file_name.startswith("temp") and file_name.endswith("_input")):
                continue
            millidegrees = read_number(path / file_name)
            if millidegrees is None:
                continue
            sensor = file_name.removesuffix("_input")
            label = read_text(path / f"{sensor}_label")
            sensors.append(Sensor(chip, sensor, label, millidegrees / 1000))
    return sensors
