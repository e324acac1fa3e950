"""Local GPUs through NVML (pynvml), off the event loop.

A machine without the NVML library disables this source with a one-line reason;
a field the device does not support is ``None`` (not available), never 0.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from console.api import Batch, Entity, Sample, Source, SourceContext, SourceDisabled, make_ref

try:
    import pynvml
except ImportError:  # the binding itself is missing
    pynvml = None


def _read(call: Callable[..., Any], *args: Any) -> Any:
    """One NVML call; ``None`` where the device does not support it."""
    try:
        return call(*args)
    except pynvml.NVMLError:
        return None


class NvmlSource(Source):
    """Every GPU on this machine."""

    type = "nvml"

    def __init__(self, interval: float) -> None:
        self.name = "nvml"
        self.interval = interval
        self.timeout = max(2.0, interval * 2)
        self.node = socket.gethostname().split(".")[0]
        """This machine's short host name (GPU refs are ``gpu/<node>/<index>``)."""
        self._started = False

    def _start(self) -> None:
        if pynvml is None:
            raise SourceDisabled("pynvml is not installed")
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError_LibraryNotFound:
            raise SourceDisabled(
                "no NVML library (libnvidia-ml.so): no NVIDIA driver here"
            ) from None
        except pynvml.NVMLError as exc:
            raise SourceDisabled(f"NVML did not start: {exc}") from None
        self._started = True

    def _collect(self) -> Batch:
        if not self._started:
            self._start()
        node_ref = make_ref("node", self.node)
        entities = [Entity(node_ref, self.node)]
        samples: list[Sample] = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            ref = make_ref("gpu", self.node, index)
            pci = _read(pynvml.nvmlDeviceGetPciInfo, handle)
            entities.append(
                Entity(
                    ref,
                    f"GPU {index}",
                    parent=node_ref,
                    attrs={
                        "index": index,
                        "model": _read(pynvml.nvmlDeviceGetName, handle),
                        "uuid": _read(pynvml.nvmlDeviceGetUUID, handle),
                        "pci_bus_id": getattr(pci, "busId", None),
                    },
                )
            )
            util = _read(pynvml.nvmlDeviceGetUtilizationRates, handle)
            memory = _read(pynvml.nvmlDeviceGetMemoryInfo, handle)
            power = _read(pynvml.nvmlDeviceGetPowerUsage, handle)
            limit = _read(pynvml.nvmlDeviceGetEnforcedPowerLimit, handle)
            energy = _read(pynvml.nvmlDeviceGetTotalEnergyConsumption, handle)
            temp = _read(pynvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU)
            sm = _read(pynvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_SM)
            mem_clock = _read(pynvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_MEM)
            fan = _read(pynvml.nvmlDeviceGetFanSpeed, handle)
            mib = 1024 * 1024
            samples += [
                Sample(ref, "gpu.util", None if util is None else float(util.gpu)),
                Sample(ref, "gpu.mem_util", None if util is None else float(util.memory)),
                Sample(ref, "gpu.mem_used", None if memory is None else memory.used / mib),
                Sample(ref, "gpu.mem_total", None if memory is None else memory.total / mib),
                Sample(ref, "gpu.temp", None if temp is None else float(temp)),
                Sample(ref, "gpu.power", None if power is None else power / 1000),
                Sample(ref, "gpu.power_limit", None if limit is None else limit / 1000),
                Sample(ref, "gpu.energy", None if energy is None else energy / 1000),
                Sample(ref, "gpu.sm_clock", None if sm is None else float(sm)),
                Sample(ref, "gpu.mem_clock", None if mem_clock is None else float(mem_clock)),
                Sample(ref, "gpu.fan", None if fan is None else float(fan)),
            ]
        return Batch(entities=entities, samples=samples)

    async def poll(self) -> Batch:
        return await asyncio.to_thread(self._collect)

    async def close(self) -> None:
        if self._started:
            await asyncio.to_thread(pynvml.nvmlShutdown)
            self._started = False


def make_nvml_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: nvml``."""
    return [NvmlSource(context.interval)]
