"""A stand-in for the ``pynvml`` module that replays recorded device behaviour.

Constants and exception classes are pynvml's own, so the code under test meets
exactly the errors the real binding raises. Device values default to the real
H100 80GB HBM3 capture in ``tests/fixtures/nvidia-smi/`` (under load): a field
the capture shows as ``N/A`` raises NVMLError_NotSupported here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

MIB = 1024 * 1024


@dataclass(frozen=True)
class Fails:
    """An answer that is an NVML error rather than a value."""

    code: int


NOT_SUPPORTED = Fails(pynvml.NVML_ERROR_NOT_SUPPORTED)
GPU_IS_LOST = Fails(pynvml.NVML_ERROR_GPU_IS_LOST)


@dataclass
class FakeGpu:
    """One device's answers: a value, or an NVML error code to raise."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    serial: Any = "0000000000000"
    bus_id: str = "00000000:00:09.0"
    util: tuple[int, int] = (100, 11)
    memory: tuple[int, int] = (19818, 81559)  # used, total MiB
    temp: Any = 59
    fan: Any = NOT_SUPPORTED  # SXM: "Fan Speed : N/A"
    power_mw: Any = 588390
    limit_mw: Any = 700000
    energy_mj: Any = 4_512_000_000
    sm_clock: Any = 1980
    mem_clock: Any = 2619
    clock_reasons: Any = 0
    pstate: Any = 0
    pcie: tuple[Any, Any] = (5, 16)
    pcie_kbs: tuple[Any, Any] = (3092, 6346)  # tx, rx
    ecc: Any = 0
    retired_pages: Any = NOT_SUPPORTED  # H100 remaps rows instead
    remapped_rows: Any = (0, 0, 0, 0)
    nvlinks: Any = NOT_SUPPORTED
    nvlink_errors: int = 0
    mig: Any = (0, 0)
    processes: list[tuple[int, Any]] = field(
        default_factory=lambda: [(11327, 2566), (11328, 1542), (11345, 15690)]
    )
    process_samples: list[tuple[int, int, int]] = field(default_factory=list)
    """(pid, timeStamp µs, smUtil) samples NVML would return."""
    lost: bool = False
    """Every call raises NVML_ERROR_GPU_IS_LOST (fell off the bus)."""


def _answer(value: Any) -> Any:
    if isinstance(value, Fails):
        raise pynvml.NVMLError(value.code)
    return value


class FakeNvml:
    """The parts of pynvml the NVML source uses, over a list of FakeGpu."""

    def __init__(
        self, gpus: list[FakeGpu], library_missing: bool = False, events_end: bool = False
    ) -> None:
        self.events_end = events_end
        """Once the queued XIDs are delivered, the event set fails (ends the watcher)."""
        self.gpus = gpus
        self.library_missing = library_missing
        self.calls = 0
        self.process_utilisation_since: list[int] = []
        self.xid_events: list[tuple[int, int]] = []
        self.xid_queue = threading.Condition()
        self.xid_waits = 0

    def __getattr__(self, name: str) -> Any:
        # Constants and exception classes come from the real binding.
        if name.startswith(("NVML_", "NVMLError", "nvmlClocksEvent", "nvmlEventType")):
            return getattr(pynvml, name)
        raise AttributeError(name)

    def _gpu(self, handle: Any) -> FakeGpu:
        self.calls += 1
        gpu = self.gpus[handle]
        if gpu.lost:
            raise pynvml.NVMLError(GPU_IS_LOST.code)
        return gpu

    def _field(self, attribute: str) -> Callable[..., Any]:
        def call(handle: Any, *args: Any) -> Any:
            return _answer(getattr(self._gpu(handle), attribute))

        return call

    # lifecycle
    def nvmlInit(self) -> None:
        if self.library_missing:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    # identity
    def nvmlDeviceGetName(self, h: int) -> Any:
        return _answer(self._gpu(h).name)

    def nvmlDeviceGetUUID(self, h: int) -> Any:
        return _answer(self._gpu(h).uuid)

    def nvmlDeviceGetSerial(self, h: int) -> Any:
        return _answer(self._gpu(h).serial)

    def nvmlDeviceGetPciInfo(self, h: int) -> Any:
        return SimpleNamespace(busId=self._gpu(h).bus_id)

    # fast fields
    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        gpu, memory = self._gpu(h).util
        return SimpleNamespace(gpu=gpu, memory=memory)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        used, total = self._gpu(h).memory
        return SimpleNamespace(used=used * MIB, total=total * MIB, free=(total - used) * MIB)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> Any:
        return _answer(self._gpu(h).temp)

    def nvmlDeviceGetFanSpeed(self, h: int) -> Any:
        return _answer(self._gpu(h).fan)

    def nvmlDeviceGetPowerUsage(self, h: int) -> Any:
        return _answer(self._gpu(h).power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> Any:
        return _answer(self._gpu(h).limit_mw)

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> Any:
        return _answer(self._gpu(h).energy_mj)

    def nvmlDeviceGetClockInfo(self, h: int, clock: int) -> Any:
        gpu = self._gpu(h)
        return _answer(gpu.sm_clock if clock == pynvml.NVML_CLOCK_SM else gpu.mem_clock)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: int) -> Any:
        return _answer(self._gpu(h).clock_reasons)

    def nvmlDeviceGetPerformanceState(self, h: int) -> Any:
        return _answer(self._gpu(h).pstate)

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: int) -> Any:
        return _answer(self._gpu(h).pcie[0])

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: int) -> Any:
        return _answer(self._gpu(h).pcie[1])

    def nvmlDeviceGetPcieThroughput(self, h: int, counter: int) -> Any:
        tx, rx = self._gpu(h).pcie_kbs
        return _answer(tx if counter == pynvml.NVML_PCIE_UTIL_TX_BYTES else rx)

    # slow fields
    def nvmlDeviceGetTotalEccErrors(self, h: int, kind: int, scope: int) -> Any:
        return _answer(self._gpu(h).ecc)

    def nvmlDeviceGetRetiredPages(self, h: int, cause: int) -> Any:
        return _answer(self._gpu(h).retired_pages)

    def nvmlDeviceGetRemappedRows(self, h: int) -> Any:
        return _answer(self._gpu(h).remapped_rows)

    def nvmlDeviceGetNvLinkState(self, h: int, link: int) -> Any:
        links = _answer(self._gpu(h).nvlinks)
        if link >= len(links):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return links[link]

    def nvmlDeviceGetNvLinkErrorCounter(self, h: int, link: int, counter: int) -> Any:
        return self._gpu(h).nvlink_errors

    def nvmlDeviceGetMigMode(self, h: int) -> Any:
        return _answer(self._gpu(h).mig)

    def nvmlDeviceGetMaxMigDeviceCount(self, h: int) -> int:
        return 0

    # processes
    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> Any:
        return [SimpleNamespace(pid=pid, usedGpuMemory=None if mib is None else mib * MIB)
                for pid, mib in self._gpu(h).processes]  # fmt: skip

    def nvmlDeviceGetProcessUtilization(self, h: int, last_seen: int) -> Any:
        self.process_utilisation_since.append(last_seen)
        samples = [s for s in self._gpu(h).process_samples if s[1] > last_seen]
        if not samples:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return [SimpleNamespace(pid=p, timeStamp=t, smUtil=sm, memUtil=0) for p, t, sm in samples]

    # XID events
    def nvmlEventSetCreate(self) -> str:
        return "event-set"

    def nvmlDeviceRegisterEvents(self, h: int, types: int, event_set: Any) -> None:
        self._gpu(h)

    def raise_xid(self, index: int, code: int) -> None:
        """The driver reports an XID on GPU ``index``."""
        with self.xid_queue:
            self.xid_events.append((index, code))
            self.xid_queue.notify_all()

    def nvmlEventSetWait_v2(self, event_set: Any, timeout_ms: int) -> Any:
        # Blocks like the real call: until an event arrives or the timeout passes.
        with self.xid_queue:
            self.xid_waits += 1
            self.xid_queue.notify_all()
            if not self.xid_events and self.events_end:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)
            if not self.xid_events:
                self.xid_queue.wait(timeout_ms / 1000)
            if not self.xid_events:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)
            index, code = self.xid_events.pop(0)
        return SimpleNamespace(device=index, eventData=code, eventType=8)

    def nvmlEventSetFree(self, event_set: Any) -> None:
        pass
