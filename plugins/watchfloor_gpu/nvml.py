"""Local GPUs through NVML (pynvml), off the event loop.

- No NVML library: the source disables itself with a one-line reason.
- A field a device does not support is ``None`` ("not available"), never 0.
- A GPU that falls off the bus (``NVML_ERROR_GPU_IS_LOST``) is reported as lost;
  the other GPUs go on.
- Identity is read once; slow fields (ECC, remapped rows, NVLink, MIG) are cached
  for ``slow_interval`` seconds; XIDs arrive through an NVML event set on a thread.
- Process utilisation carries its ``lastSeenTimeStamp`` from call to call, as
  NVML requires to return only new samples.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import psutil

from console.api import (
    Batch,
    Entity,
    Option,
    Sample,
    Source,
    SourceContext,
    SourceDisabled,
    clock_event_words,
    is_throttled,
    make_ref,
    plain,
    pstate_name,
    xid_meaning,
)

try:
    import pynvml as _pynvml
except ImportError:  # the binding itself is missing
    _pynvml = None

MIB = 1024 * 1024


class GpuLost(Exception):
    """The device stopped answering (fell off the bus)."""


@dataclass
class _DeviceCache:
    """What is kept between polls for one GPU."""

    identity: dict[str, Any] | None = None
    slow: dict[str, Any] = field(default_factory=dict)
    slow_at: float = float("-inf")
    last_seen_process_sample: int = 0
    """NVML's lastSeenTimeStamp for process utilisation (µs)."""
    sm_share: dict[int, float] = field(default_factory=dict)


class NvmlReader:
    """Reads every GPU through one pynvml module (the real one, or a recorded fake)."""

    def __init__(self, nvml: ModuleType, node: str, slow_interval: float = 30.0) -> None:
        self.nvml = nvml
        self.node = node
        """Short host name: GPU refs are ``gpu/<node>/<index>``."""
        self.slow_interval = slow_interval
        self.clock: Callable[[], float] = time.monotonic
        self._devices: dict[int, _DeviceCache] = {}
        self._xids: dict[int, tuple[int, float]] = {}
        self._xid_lock = threading.Lock()
        self._xid_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._users: dict[int, tuple[str, str, str | None]] = {}

    # -- one call ------------------------------------------------------------

    def _read(self, call: Callable[..., Any], *args: Any) -> Any:
        """One NVML call: ``None`` when not supported; GpuLost when the GPU is gone."""
        nvml = self.nvml
        try:
            return call(*args)
        except nvml.NVMLError as exc:
            if exc.value == nvml.NVML_ERROR_GPU_IS_LOST:
                raise GpuLost(str(exc)) from None
            return None

    # -- start / stop --------------------------------------------------------

    def start(self) -> None:
        """Initialise NVML; raise SourceDisabled with the reason when it cannot work."""
        nvml = self.nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError_LibraryNotFound:
            raise SourceDisabled(
                "no NVML library (libnvidia-ml.so): no NVIDIA driver here"
            ) from None
        except nvml.NVMLError as exc:
            raise SourceDisabled(f"NVML did not start: {exc}") from None
        self._start_xid_thread()

    def stop(self) -> None:
        self._stop.set()
        if self._xid_thread is not None:
            self._xid_thread.join(timeout=3)
        self.nvml.nvmlShutdown()

    def _start_xid_thread(self) -> None:
        nvml = self.nvml
        try:
            event_set = nvml.nvmlEventSetCreate()
            registered = 0
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                try:
                    nvml.nvmlDeviceRegisterEvents(
                        handle, nvml.nvmlEventTypeXidCriticalError, event_set
                    )
                    registered += 1
                except nvml.NVMLError:
                    continue  # not supported on this GPU (e.g. in a MIG instance)
        except nvml.NVMLError:
            return
        if registered:
            self._xid_thread = threading.Thread(
                target=self._watch_xids, args=(event_set,), name="nvml-xid", daemon=True
            )
            self._xid_thread.start()

    def _watch_xids(self, event_set: Any) -> None:
        nvml = self.nvml
        index_of: dict[Any, int] = {}
        while not self._stop.is_set():
            try:
                data = nvml.nvmlEventSetWait_v2(event_set, 500)
            except nvml.NVMLError_Timeout:
                continue
            except nvml.NVMLError:
                return  # the event set broke: XIDs are no longer watched
            if not index_of:
                for index in range(nvml.nvmlDeviceGetCount()):
                    index_of[nvml.nvmlDeviceGetHandleByIndex(index)] = index
            gpu_index = index_of.get(data.device)
            if gpu_index is not None:
                with self._xid_lock:
                    self._xids[gpu_index] = (int(data.eventData), time.time())
        nvml.nvmlEventSetFree(event_set)

    # -- collection ----------------------------------------------------------

    def collect(self) -> Batch:
        nvml = self.nvml
        node_ref = make_ref("node", self.node)
        entities = [Entity(node_ref, self.node)]
        samples: list[Sample] = []
        for index in range(nvml.nvmlDeviceGetCount()):
            cache = self._devices.setdefault(index, _DeviceCache())
            ref = make_ref("gpu", self.node, index)
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                attrs, gpu_samples = self._device(index, handle, cache)
            except GpuLost as exc:
                attrs = dict(cache.identity or {"index": index})
                attrs["health"] = f"lost: {exc}"
                gpu_samples = {metric: None for metric in FAST_METRICS}
            except nvml.NVMLError as exc:
                attrs = dict(cache.identity or {"index": index})
                attrs["health"] = f"unreadable: {exc}"
                gpu_samples = {metric: None for metric in FAST_METRICS}
            entities.append(Entity(ref, f"GPU {index}", parent=node_ref, attrs=attrs))
            samples += [Sample(ref, metric, value) for metric, value in gpu_samples.items()]
        return Batch(entities=entities, samples=samples)

    def _identity(self, index: int, handle: Any) -> dict[str, Any]:
        nvml = self.nvml
        pci = self._read(nvml.nvmlDeviceGetPciInfo, handle)
        bus_id = getattr(pci, "busId", None)
        return {
            "index": index,
            "model": self._read(nvml.nvmlDeviceGetName, handle),
            "uuid": self._read(nvml.nvmlDeviceGetUUID, handle),
            "serial": self._read(nvml.nvmlDeviceGetSerial, handle),
            "pci_bus_id": bus_id.decode() if isinstance(bus_id, bytes) else bus_id,
        }

    def _device(
        self, index: int, handle: Any, cache: _DeviceCache
    ) -> tuple[dict[str, Any], dict[str, float | None]]:
        nvml, read = self.nvml, self._read
        if cache.identity is None:
            cache.identity = self._identity(index, handle)
        now = self.clock()
        if now - cache.slow_at >= self.slow_interval:
            cache.slow = self._slow(handle)
            cache.slow_at = now
        util = read(nvml.nvmlDeviceGetUtilizationRates, handle)
        memory = read(nvml.nvmlDeviceGetMemoryInfo, handle)
        power = read(nvml.nvmlDeviceGetPowerUsage, handle)
        limit = read(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        energy = read(nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        temp = read(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
        sm = read(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM)
        mem_clock = read(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM)
        fan = read(nvml.nvmlDeviceGetFanSpeed, handle)
        reasons = read(nvml.nvmlDeviceGetCurrentClocksEventReasons, handle)
        pcie_tx = read(nvml.nvmlDeviceGetPcieThroughput, handle, nvml.NVML_PCIE_UTIL_TX_BYTES)
        pcie_rx = read(nvml.nvmlDeviceGetPcieThroughput, handle, nvml.NVML_PCIE_UTIL_RX_BYTES)
        values: dict[str, float | None] = {
            "gpu.util": _num(util, "gpu"),
            "gpu.mem_util": _num(util, "memory"),
            "gpu.mem_used": None if memory is None else memory.used / MIB,
            "gpu.mem_total": None if memory is None else memory.total / MIB,
            "gpu.temp": _float(temp),
            "gpu.power": None if power is None else power / 1000,
            "gpu.power_limit": None if limit is None else limit / 1000,
            "gpu.energy": None if energy is None else energy / 1000,
            "gpu.sm_clock": _float(sm),
            "gpu.mem_clock": _float(mem_clock),
            "gpu.fan": _float(fan),
            "gpu.pcie_tx": None if pcie_tx is None else pcie_tx * 1024.0,
            "gpu.pcie_rx": None if pcie_rx is None else pcie_rx * 1024.0,
            "gpu.xid": None,
        }
        values.update(cache.slow.get("samples", {}))
        attrs = dict(cache.identity)
        attrs.update(cache.slow.get("attrs", {}))
        attrs["pstate"] = pstate_name(read(nvml.nvmlDeviceGetPerformanceState, handle))
        attrs["throttle"] = clock_event_words(reasons)
        attrs["throttled"] = is_throttled(reasons)
        gen = read(nvml.nvmlDeviceGetCurrPcieLinkGeneration, handle)
        width = read(nvml.nvmlDeviceGetCurrPcieLinkWidth, handle)
        attrs["pcie"] = None if gen is None or width is None else f"Gen{gen} x{width}"
        attrs["processes"] = self._processes(handle, cache)
        with self._xid_lock:
            xid = self._xids.get(index)
        attrs["health"] = "ok"
        if xid is not None:
            code, seen = xid
            values["gpu.xid"] = float(code)
            attrs["last_xid"] = {"code": code, "time": seen, "meaning": xid_meaning(code)}
            attrs["health"] = f"XID {code}: {xid_meaning(code)}"
        return attrs, values

    def _slow(self, handle: Any) -> dict[str, Any]:
        """Fields that change rarely and cost more: read every ``slow_interval`` seconds."""
        nvml, read = self.nvml, self._read
        samples: dict[str, float | None] = {}
        corrected, uncorrected = (
            nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED,
            nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
        )
        for name, kind, scope in (
            ("gpu.ecc_corrected_volatile", corrected, nvml.NVML_VOLATILE_ECC),
            ("gpu.ecc_uncorrected_volatile", uncorrected, nvml.NVML_VOLATILE_ECC),
            ("gpu.ecc_corrected_aggregate", corrected, nvml.NVML_AGGREGATE_ECC),
            ("gpu.ecc_uncorrected_aggregate", uncorrected, nvml.NVML_AGGREGATE_ECC),
        ):
            samples[name] = _float(read(nvml.nvmlDeviceGetTotalEccErrors, handle, kind, scope))
        for name, cause in (
            (
                "gpu.retired_pages_sbe",
                nvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS,
            ),
            ("gpu.retired_pages_dbe", nvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR),
        ):
            pages = read(nvml.nvmlDeviceGetRetiredPages, handle, cause)
            samples[name] = None if pages is None else float(len(pages))
        attrs: dict[str, Any] = {}
        remapped = read(nvml.nvmlDeviceGetRemappedRows, handle)
        if remapped is None:
            samples["gpu.remapped_correctable"] = samples["gpu.remapped_uncorrectable"] = None
            attrs["remap_pending"] = attrs["remap_failure"] = None
        else:
            correctable, uncorrectable, pending, failure = remapped
            samples["gpu.remapped_correctable"] = float(correctable)
            samples["gpu.remapped_uncorrectable"] = float(uncorrectable)
            attrs["remap_pending"], attrs["remap_failure"] = bool(pending), bool(failure)
        attrs["nvlink"], samples["gpu.nvlink_errors"] = self._nvlink(handle)
        attrs["mig"] = self._mig(handle)
        return {"samples": samples, "attrs": attrs}

    def _nvlink(self, handle: Any) -> tuple[str | None, float | None]:
        nvml, read = self.nvml, self._read
        up = total = 0
        errors: float | None = None
        for link in range(nvml.NVML_NVLINK_MAX_LINKS):
            state = read(nvml.nvmlDeviceGetNvLinkState, handle, link)
            if state is None:
                continue  # no such link on this GPU
            total += 1
            up += int(bool(state))
            for counter in (
                nvml.NVML_NVLINK_ERROR_DL_CRC_FLIT,
                nvml.NVML_NVLINK_ERROR_DL_REPLAY,
                nvml.NVML_NVLINK_ERROR_DL_RECOVERY,
            ):
                count = read(nvml.nvmlDeviceGetNvLinkErrorCounter, handle, link, counter)
                if count is not None:
                    errors = (errors or 0.0) + count
        return (f"{up}/{total} up" if total else None), errors

    def _mig(self, handle: Any) -> list[dict[str, Any]] | None:
        nvml, read = self.nvml, self._read
        mode = read(nvml.nvmlDeviceGetMigMode, handle)
        if mode is None or mode[0] != nvml.NVML_DEVICE_MIG_ENABLE:
            return None
        instances = []
        for slot in range(read(nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or 0):
            mig = read(nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            if mig is None:
                continue
            memory = read(nvml.nvmlDeviceGetMemoryInfo, mig)
            instances.append(
                {
                    "gpu_instance": read(nvml.nvmlDeviceGetGpuInstanceId, mig),
                    "uuid": read(nvml.nvmlDeviceGetUUID, mig),
                    "mem_total_mib": None if memory is None else memory.total / MIB,
                    "mem_used_mib": None if memory is None else memory.used / MIB,
                }
            )
        return instances

    def _processes(self, handle: Any, cache: _DeviceCache) -> list[dict[str, Any]] | None:
        nvml, read = self.nvml, self._read
        running = read(nvml.nvmlDeviceGetComputeRunningProcesses, handle)
        if running is None:
            return None
        utilisation = read(
            nvml.nvmlDeviceGetProcessUtilization, handle, cache.last_seen_process_sample
        )
        for sample in utilisation or ():
            cache.sm_share[int(sample.pid)] = float(sample.smUtil)
            cache.last_seen_process_sample = max(
                cache.last_seen_process_sample, int(sample.timeStamp)
            )
        live = {int(p.pid) for p in running}
        cache.sm_share = {pid: share for pid, share in cache.sm_share.items() if pid in live}
        processes = []
        for process in running:
            pid = int(process.pid)
            user, command, slurm_job = self._owner(pid)
            used = getattr(process, "usedGpuMemory", None)
            processes.append(
                {
                    "pid": pid,
                    "user": user,
                    "command": command,
                    "gpu_mem_mib": None if used is None else used / MIB,
                    "sm_share": cache.sm_share.get(pid),
                    "slurm_job": slurm_job,
                }
            )
        return processes

    def _owner(self, pid: int) -> tuple[str, str, str | None]:
        """(user, command, Slurm job id) of a process, read once per pid."""
        known = self._users.get(pid)
        if known is not None:
            return known
        try:
            process = psutil.Process(pid)
            user = process.username()
            command = plain(" ".join(process.cmdline()) or process.name())
        except (psutil.Error, OSError):
            self._users[pid] = ("?", "?", None)  # another PID namespace, or gone
            return self._users[pid]
        try:
            # Which Slurm job a GPU process belongs to (root, or the same user, can see it).
            job = process.environ().get("SLURM_JOB_ID")
        except (psutil.Error, OSError):
            job = None
        owner = (user, command, plain(job, 32) if job else None)
        if len(self._users) > 4096:
            self._users.clear()
        self._users[pid] = owner
        return owner


FAST_METRICS = (
    "gpu.util", "gpu.mem_util", "gpu.mem_used", "gpu.mem_total", "gpu.temp", "gpu.power",
    "gpu.power_limit", "gpu.energy", "gpu.sm_clock", "gpu.mem_clock", "gpu.fan",
)  # fmt: skip
"""What a lost GPU reports: every reading not available."""


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _num(struct: Any, name: str) -> float | None:
    return None if struct is None else float(getattr(struct, name))


class NvmlSource(Source):
    """Every GPU on this machine, collected on a worker thread."""

    type = "nvml"

    def __init__(
        self, interval: float, nvml: ModuleType | None = None, slow_interval: float = 30.0
    ) -> None:
        self.name = "nvml"
        self.interval = interval
        self.timeout = max(2.0, interval * 2)
        node = socket.gethostname().split(".")[0]
        self._nvml = nvml if nvml is not None else _pynvml
        self.reader = (
            NvmlReader(self._nvml, node, slow_interval) if self._nvml is not None else None
        )
        self._started = False
        self._busy = threading.Lock()

    def _collect(self) -> Batch:
        if self.reader is None:
            raise SourceDisabled("pynvml is not installed")
        # A hung NVML call outlives the engine's timeout on its thread: never
        # start a second collection beside it.
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("previous NVML collection is still running")
        try:
            if not self._started:
                self.reader.start()
                self._started = True
            return self.reader.collect()
        finally:
            self._busy.release()

    async def poll(self) -> Batch:
        return await asyncio.to_thread(self._collect)

    async def close(self) -> None:
        if self._started and self.reader is not None:
            await asyncio.to_thread(self.reader.stop)
            self._started = False


def make_nvml_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: nvml``."""
    return [NvmlSource(context.interval, slow_interval=context.options["slow_interval"])]


NVML_OPTIONS = (
    Option("slow_interval", (int, float), 30.0, help="seconds between reads of ECC, NVLink, MIG"),
)
