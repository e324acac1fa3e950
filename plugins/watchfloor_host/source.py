"""The host source: CPU, memory and load (psutil), NICs, InfiniBand/RoCE ports,
RAPL energy and hwmon temperatures (``/sys``, at a configurable root)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from pathlib import Path

import psutil

from console.api import (
    Batch,
    Entity,
    Option,
    Sample,
    Source,
    SourceContext,
    SourceError,
    make_ref,
    port_ref,
)
from watchfloor_host.lldp import neighbour_entities, read_neighbours
from watchfloor_host.sysfs import (
    RaplZone,
    read_hwmon,
    read_infiniband,
    read_net,
    read_powercap,
    reading_now,
)


class EnergyCounter:
    """Turns a wrapping RAPL ``energy_uj`` into a monotonic total in joules.

    RAPL counters wrap at ``max_energy_range_uj``; a reading below the last one
    means one wrap happened (polls are far more frequent than a wrap, which takes
    minutes even on a large package).
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._offset: dict[str, float] = {}

    def joules(self, zone: RaplZone) -> float:
        last = self._last.get(zone.path)
        offset = self._offset.get(zone.path, 0.0)
        if last is not None and zone.energy_uj < last and zone.max_range_uj:
            offset += zone.max_range_uj
            self._offset[zone.path] = offset
        self._last[zone.path] = zone.energy_uj
        return (zone.energy_uj + offset) / 1e6


class HostSource(Source):
    """This machine as a node: its CPU, memory, ports, energy and temperatures."""

    type = "host"

    def __init__(
        self, interval: float, sysfs: str = "/sys", node: str | None = None, lldpcli: str = ""
    ) -> None:
        self.name = "host"
        self.interval = interval
        self.timeout = max(2.0, interval * 2)
        self.sysfs = Path(sysfs)
        """Root of the sysfs tree (a container reads the host's from a mount)."""
        self.node = node or socket.gethostname().split(".")[0]
        self._energy = EnergyCounter()
        self._busy = threading.Lock()
        self._cpu_primed = False
        self.lldpcli = lldpcli
        """lldpcli's command line; empty: no LLDP neighbours."""

    def collect(self) -> Batch:
        """One collection (blocking: many small file reads)."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("previous host collection is still running")
        try:
            return self._collect()
        finally:
            self._busy.release()

    def _collect(self) -> Batch:
        node_ref = make_ref("node", self.node)
        samples: list[Sample] = []
        entities: list[Entity] = []
        cpu = psutil.cpu_percent(interval=None)
        # The first psutil reading has nothing to compare with: not available.
        samples.append(Sample(node_ref, "node.cpu_util", cpu if self._cpu_primed else None))
        self._cpu_primed = True
        memory = psutil.virtual_memory()
        samples += [
            Sample(node_ref, "node.mem_used", float(memory.total - memory.available)),
            Sample(node_ref, "node.mem_total", float(memory.total)),
            Sample(node_ref, "node.load1", os.getloadavg()[0]),
        ]
        for ib in read_infiniband(self.sysfs):
            ref = port_ref(self.node, ib.name)
            attrs: dict[str, object] = {
                "device": ib.device,
                "port": ib.port,
                "speed_gbps": ib.rate_gbps,
                "state": ib.state,
                "phys_state": ib.phys_state,
                "link_layer": ib.link_layer,
                **ib.device_attrs,
                **ib.identity,
            }
            if ib.pinned:
                attrs["saturated"] = ib.pinned
            entities.append(Entity(ref, ib.name, parent=node_ref, attrs=attrs))
            samples += [Sample(ref, metric, value) for metric, value in ib.counters.items()]
        for nic in read_net(self.sysfs):
            ref = port_ref(self.node, nic.name)
            speed = None if nic.speed_mbps is None else nic.speed_mbps / 1000
            attrs = {"state": nic.operstate, "speed_gbps": speed, "link_layer": "Ethernet"}
            entities.append(Entity(ref, nic.name, parent=node_ref, attrs=attrs))
            samples += [Sample(ref, metric, value) for metric, value in nic.counters.items()]
        zones = read_powercap(self.sysfs)
        package = [self._energy.joules(z) for z in zones if z.is_package]
        dram = [self._energy.joules(z) for z in zones if z.name == "dram"]
        samples.append(Sample(node_ref, "node.cpu_energy", sum(package) if package else None))
        samples.append(Sample(node_ref, "node.dram_energy", sum(dram) if dram else None))
        sensors = read_hwmon(self.sysfs)
        hottest = max((s.celsius for s in sensors), default=None)
        samples.append(Sample(node_ref, "node.temp_max", hottest))
        node_attrs = {
            "cpus": psutil.cpu_count(),
            "rapl_zones": [z.name for z in zones],
            "sensors": len(sensors),
        }
        entities.insert(0, Entity(node_ref, self.node, attrs=node_attrs))
        meta = self._lldp(entities) if self.lldpcli else {}
        return Batch(entities=entities, samples=samples, meta=meta)

    def _lldp(self, entities: list[Entity]) -> dict[str, object]:
        """Add the switch port on the other end of each NIC that lldpd has heard from."""
        try:
            neighbours = read_neighbours(self.lldpcli)
        except RuntimeError as exc:
            return {"note": f"LLDP: {exc}"}
        found = neighbour_entities(self.node, neighbours)
        speeds = {e.ref: e.attrs.get("speed_gbps") for e in entities if e.kind == "port"}
        for entity in found:
            if entity.kind == "link":
                entity.attrs["speed_gbps"] = speeds.get(str(entity.attrs["a"]))
        entities += found
        return {}

    async def poll(self) -> Batch:
        if self._busy.locked():  # the last collection's thread is stuck in a read
            raise SourceError(f"still waiting for a read of {reading_now() or '?'} to return")
        try:
            async with asyncio.timeout(max(self.timeout - 0.5, 0.5)):
                return await asyncio.to_thread(self.collect)
        except TimeoutError:
            raise SourceError(
                f"a read of {reading_now() or '?'} has not returned "
                f"after {max(self.timeout - 0.5, 0.5):g}s"
            ) from None


def make_host_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: host``."""
    sysfs = Path(context.options["sysfs"])
    if not sysfs.is_absolute():
        sysfs = Path(context.base_dir) / sysfs
    lldpcli = str(context.options.get("lldpcli") or "auto")
    if lldpcli == "auto":  # only where lldpd runs: a host without it is no failure
        running = any(Path(p).exists() for p in ("/run/lldpd.socket", "/var/run/lldpd.socket"))
        lldpcli = (shutil.which("lldpcli") or "") if running else ""
    elif lldpcli == "off":
        lldpcli = ""
    return [HostSource(context.interval, str(sysfs), lldpcli=lldpcli)]


HOST_OPTIONS = (
    Option("sysfs", (str,), "/sys", help="root of the sysfs tree (e.g. /host/sys in a container)"),
    Option(
        "lldpcli",
        (str,),
        "auto",
        help="lldpcli command line for LLDP neighbours; auto: if lldpcli is installed; off",
    ),
)
