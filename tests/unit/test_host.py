"""The host source against node_exporter's real sysfs fixture tree."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path

import pytest

from console.core.engine import Engine
from console.core.store import Store
from tests.conftest import FIXTURES
from watchfloor_host.source import EnergyCounter, HostSource
from watchfloor_host.sysfs import (
    RaplZone,
    read_hwmon,
    read_infiniband,
    read_net,
    read_powercap,
)

SYS = FIXTURES / "node_exporter" / "sys" / "sys"
E2E = (FIXTURES / "node_exporter" / "e2e-output-infiniband-netdev-hwmon-rapl.txt").read_text()


def exported(family: str, **labels: str) -> float:
    """A value node_exporter itself exported for this tree."""
    for line in E2E.splitlines():
        if not line.startswith(family + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError((family, labels))


@pytest.fixture
def sys_tree(tmp_path: Path) -> Path:
    """A writable copy of the fixture tree."""
    root = tmp_path / "sys"
    shutil.copytree(SYS, root, symlinks=True)
    return root


def test_every_infiniband_port_with_device_rate_state_and_byte_counters() -> None:
    ports = {p.name: p for p in read_infiniband(SYS)}
    assert sorted(ports) == ["i40iw0:1", "mlx4_0:1", "mlx4_0:2"]
    mlx = ports["mlx4_0:1"]
    assert (mlx.device, mlx.port, mlx.rate_gbps, mlx.state, mlx.link_layer) == (
        "mlx4_0", 1, 40.0, "ACTIVE", "InfiniBand"
    )  # fmt: skip
    assert mlx.device_attrs["hca_type"] == "MT4099"
    for device, port in (("mlx4_0", "1"), ("mlx4_0", "2")):
        counters = ports[f"{device}:{port}"].counters
        for metric, family in (
            # the 64-bit counters_ext (node_exporter's legacy_*): port 2's 32-bit ones read 0
            ("port.tx_bytes", "node_infiniband_legacy_data_transmitted_bytes_total"),
            ("port.rx_bytes", "node_infiniband_legacy_data_received_bytes_total"),
            ("port.link_error_recovery", "node_infiniband_link_error_recovery_total"),
        ):
            assert counters[metric] == exported(family, device=device, port=port)
    assert ports["mlx4_0:2"].counters["port.tx_bytes"] > 0
    assert mlx.counters["port.discards"] == exported(
        "node_infiniband_port_discards_transmitted_total", device="mlx4_0", port="1"
    )
    assert mlx.counters["port.rx_discards"] == exported(
        "node_infiniband_port_discards_received_total", device="mlx4_0", port="1"
    )
    # pinned at its 32-bit maximum: saturated, its rate unknown (not a quiet port)
    assert mlx.counters["port.xmit_wait"] is None and mlx.pinned == ["port.xmit_wait"]
    assert ports["i40iw0:1"].counters == {}  # "N/A (no PMA)" is not a number


def test_nics_rapl_and_hwmon_match_node_exporter() -> None:
    nics = {n.name: n for n in read_net(SYS)}
    assert nics["eth0"].speed_mbps * 1e6 / 8 == exported("node_network_speed_bytes", device="eth0")  # type: ignore[operator]
    assert nics["eth0"].operstate == "up"
    assert nics["eth0"].counters["port.carrier_changes"] == exported(
        "node_network_carrier_changes_total", device="eth0"
    )
    assert nics["bond0"].speed_mbps is None
    zones = {z.name: z for z in read_powercap(SYS)}
    assert zones["package-0"].energy_uj / 1e6 == pytest.approx(
        exported("node_rapl_package_joules_total", index="0")
    )
    assert zones["package-0"].is_package and not zones["core"].is_package
    sensors = read_hwmon(SYS)
    coretemp = [s for s in sensors if s.chip == "coretemp"]
    assert len(coretemp) == 10
    assert max(s.celsius for s in sensors) == 57.0


def test_rapl_wrap_keeps_energy_monotonic() -> None:
    counter = EnergyCounter()
    top = 262_143_328_850.0
    readings = [top - 2e6, top - 1e6, 0.5e6, 2.5e6]  # wraps between the 2nd and 3rd
    joules = [counter.joules(RaplZone("intel-rapl:0", "package-0", r, top)) for r in readings]
    steps = [b - a for a, b in itertools.pairwise(joules)]
    assert steps == pytest.approx([1.0, 1.5, 2.0])


def test_symlink_loops_unreadable_and_odd_files_are_survived(sys_tree: Path) -> None:
    ib = sys_tree / "class" / "infiniband"
    os.symlink(".", ib / "loop")  # a loop, as /sys has
    os.symlink("missing", ib / "dangling")
    counters = _port_dir(sys_tree, "mlx4_0", 1) / "counters"
    (counters / "link_downed").unlink()
    (counters / "link_downed").mkdir()  # unreadable as a value
    (counters / "port_xmit_wait").write_bytes(b"\xff\xfe")  # not a number
    (counters / "symbol_error").symlink_to("symbol_error")  # a self-loop
    ports = {p.name: p for p in read_infiniband(sys_tree)}
    assert {"i40iw0:1", "mlx4_0:1", "mlx4_0:2"} <= set(ports)
    mlx = ports["mlx4_0:1"].counters
    assert mlx["port.tx_bytes"] == 14_933_760.0
    assert not {"port.link_downed", "port.xmit_wait", "port.symbol_errors"} & set(mlx)


def _port_dir(root: Path, device: str, port: int) -> Path:
    entry = root / "class" / "infiniband" / device
    if not entry.is_dir():
        entry = Path(os.path.normpath(entry.parent / entry.read_text().strip()))
    return entry / "ports" / str(port)


async def test_two_collections_give_rates(sys_tree: Path) -> None:
    clock = [1000.0]
    source = HostSource(1.0, str(sys_tree), node="hpc01")
    engine = Engine(Store(), [source], clock=lambda: clock[0])
    await engine.collect(1)
    clock[0] += 2.0
    counters = _port_dir(sys_tree, "mlx4_0", 1) / "counters_ext"  # the 64-bit counter is read
    words = int((counters / "port_xmit_data_64").read_text())
    (counters / "port_xmit_data_64").write_text(f"{words + 250_000_000}\n")  # 1 GB more
    await engine.collect(1)
    store = engine.store
    port = store.get("port/hpc01/mlx4_0:1")
    assert port is not None and port.parent == "node/hpc01"
    assert port.attrs["speed_gbps"] == 40.0 and port.attrs["state"] == "ACTIVE"
    assert store.value("port/hpc01/mlx4_0:1", "port.tx_bytes") == 1e9 / 2.0  # 1 GB in 2 s
    assert store.value("port/hpc01/mlx4_0:1", "port.rx_bytes") == 0.0
    assert store.get("port/hpc01/eth0") is not None
    node = store.get("node/hpc01")
    assert node is not None and node.attrs["rapl_zones"] == ["package-0", "core"]
    assert store.value("node/hpc01", "node.temp_max") == 57.0


async def test_rapl_energy_over_two_collections_is_the_host_power(sys_tree: Path) -> None:
    clock = [1000.0]
    engine = Engine(Store(), [HostSource(1.0, str(sys_tree), node="hpc01")], clock=lambda: clock[0])
    await engine.collect(1)
    zone = sys_tree / "class" / "powercap" / "intel-rapl:0"
    if not zone.is_dir():
        zone = Path(os.path.normpath(zone.parent / zone.read_text().strip()))
    energy = int((zone / "energy_uj").read_text())
    (zone / "energy_uj").write_text(f"{energy + 300_000_000}\n")  # 300 J more
    clock[0] += 2.0
    await engine.collect(1)
    assert engine.store.value("node/hpc01", "node.cpu_energy") == 150.0  # 300 J in 2 s = 150 W


def test_a_fifo_or_device_where_a_value_belongs_is_skipped_not_waited_on(sys_tree: Path) -> None:
    import threading

    counters = _port_dir(sys_tree, "mlx4_0", 1) / "counters"
    (counters / "port_xmit_wait").unlink()
    os.mkfifo(counters / "port_xmit_wait")  # no writer: a blocking read never returns
    (counters / "symbol_error").unlink(missing_ok=True)
    (counters / "symbol_error").symlink_to("/dev/zero")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(read_infiniband(sys_tree)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done, "a sysfs read blocked on a FIFO"
    ports = {p.name: p for p in done[0]}  # type: ignore[attr-defined]
    mlx = ports["mlx4_0:1"].counters
    assert mlx["port.tx_bytes"] == 14_933_760.0
    assert not {"port.xmit_wait", "port.symbol_errors"} & set(mlx)


async def test_a_read_that_never_returns_is_named_in_the_reason(
    sys_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from watchfloor_host import sysfs

    release = threading.Event()
    real = sysfs.read_text

    def hung(path: Path) -> str | None:  # a driver that never answers this one file
        if path.name == "rate":
            sysfs.READING[threading.get_ident()] = str(path)
            release.wait(20)
        return real(path)

    monkeypatch.setattr(sysfs, "read_text", hung)
    source = HostSource(0.5, str(sys_tree), node="n1")
    engine = Engine(Store(), [source])
    try:
        await engine.collect()
        reason = engine.statuses()[0].reason
        assert "a read of " in reason and reason.split("a read of ")[1].startswith(str(sys_tree))
        assert "/rate has not returned after" in reason
        await engine.collect()  # the stuck thread is not joined by a second one
        assert "still waiting for a read of" in engine.statuses()[0].reason
    finally:
        release.set()


def test_guids_retransmission_and_extended_counters_are_read(sys_tree: Path) -> None:
    device = _port_dir(sys_tree, "mlx4_0", 1).parent.parent
    (device / "node_guid").write_text("7cfe:9003:003b:4bde\n")
    port_dir = _port_dir(sys_tree, "mlx4_0", 1)
    (port_dir / "gids").mkdir()
    (port_dir / "gids" / "0").write_text("fe80:0000:0000:0000:7cfe:9003:003b:4bdf\n")
    (port_dir / "hw_counters").mkdir(exist_ok=True)
    (port_dir / "hw_counters" / "out_of_sequence").write_text("17\n")
    (port_dir / "hw_counters" / "roce_adp_retrans").write_text("5\n")
    ports = {p.name: p for p in read_infiniband(sys_tree)}
    assert ports["mlx4_0:1"].identity == {
        "node_guid": "0x7cfe9003003b4bde", "port_guid": "0x7cfe9003003b4bdf"
    }  # fmt: skip
    assert ports["mlx4_0:1"].counters["port.out_of_sequence"] == 17
    assert ports["mlx4_0:1"].counters["port.retransmits"] == 5
    # a 32-bit data counter stuck at its maximum: the 64-bit one in counters_ext is read
    two = _port_dir(sys_tree, "mlx4_0", 2)
    (two / "counters" / "port_xmit_data").write_text("4294967295\n")
    ext = int((two / "counters_ext" / "port_xmit_data_64").read_text())
    ports = {p.name: p for p in read_infiniband(sys_tree)}
    assert ports["mlx4_0:2"].counters["port.tx_bytes"] == ext * 4
    assert "port.tx_bytes" not in ports["mlx4_0:2"].pinned
