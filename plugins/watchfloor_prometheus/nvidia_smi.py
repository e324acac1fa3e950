"""utkuozdemir/nvidia_gpu_exporter (``nvidia_smi_*``) mapped onto ``gpu/<node>/<index>``.

Many sites run this exporter (it wraps ``nvidia-smi --query-gpu``) instead of
dcgm-exporter. Its per-GPU series carry only ``uuid``; ``nvidia_smi_gpu_info``
carries the index, model, driver and PCI address, so readings join on the UUID.
Its units are base units: percentages are ratios (0-1), memory is bytes, clocks
are hertz; the table scales them to the vocabulary's %, MiB and MHz. The node is
named as for every exporter (``node`` option, then ``hostname``, then the URL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from console.api import clock_event_words, is_throttled, make_ref, pstate_name
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, node_namer, ref_part
from watchfloor_prometheus.mapping import clean as plain

MIB = 1024.0 * 1024.0

FIELDS: dict[str, tuple[str, float]] = {
    # exporter series → (metric, factor to the vocabulary's unit)
    "nvidia_smi_utilization_gpu_ratio": ("gpu.util", 100.0),
    "nvidia_smi_utilization_memory_ratio": ("gpu.mem_util", 100.0),
    "nvidia_smi_memory_used_bytes": ("gpu.mem_used", 1 / MIB),
    "nvidia_smi_memory_total_bytes": ("gpu.mem_total", 1 / MIB),
    "nvidia_smi_temperature_gpu": ("gpu.temp", 1.0),
    "nvidia_smi_power_draw_watts": ("gpu.power", 1.0),
    "nvidia_smi_enforced_power_limit_watts": ("gpu.power_limit", 1.0),
    "nvidia_smi_clocks_current_sm_clock_hz": ("gpu.sm_clock", 1e-6),
    "nvidia_smi_clocks_current_memory_clock_hz": ("gpu.mem_clock", 1e-6),
    "nvidia_smi_fan_speed_ratio": ("gpu.fan", 100.0),
    "nvidia_smi_energy_joules_total": ("gpu.energy", 1.0),  # NVML backend only
    "nvidia_smi_pcie_throughput_tx_bytes_per_second": ("gpu.pcie_tx", 1.0),
    "nvidia_smi_pcie_throughput_rx_bytes_per_second": ("gpu.pcie_rx", 1.0),
    "nvidia_smi_ecc_errors_corrected_volatile_total": ("gpu.ecc_corrected_volatile", 1.0),
    "nvidia_smi_ecc_errors_uncorrected_volatile_total": ("gpu.ecc_uncorrected_volatile", 1.0),
    "nvidia_smi_ecc_errors_corrected_aggregate_total": ("gpu.ecc_corrected_aggregate", 1.0),
    "nvidia_smi_ecc_errors_uncorrected_aggregate_total": ("gpu.ecc_uncorrected_aggregate", 1.0),
    "nvidia_smi_retired_pages_single_bit_ecc_count": ("gpu.retired_pages_sbe", 1.0),
    "nvidia_smi_retired_pages_double_bit_count": ("gpu.retired_pages_dbe", 1.0),
    "nvidia_smi_remapped_rows_correctable": ("gpu.remapped_correctable", 1.0),
    "nvidia_smi_remapped_rows_uncorrectable": ("gpu.remapped_uncorrectable", 1.0),
}
"""Series that are one metric of the vocabulary each."""

DESCRIBING = frozenset({
    "nvidia_smi_gpu_info", "nvidia_smi_index", "nvidia_smi_pstate",
    "nvidia_smi_clocks_event_reasons_active", "nvidia_smi_gpu_recovery_action",
    "nvidia_smi_remapped_rows_failure",
})  # fmt: skip
"""Series read into the GPU's attributes."""

RECOVERY_ACTIONS = {1: "GPU reset", 2: "node reboot", 3: "drain P2P", 4: "drain and reset"}
"""``gpu_recovery_action``: what the driver asks for (0 is none)."""


class NvidiaSmiTable:
    """nvidia_gpu_exporter's GPU series."""

    name = "nvidia-smi"
    names = "|".join(sorted(set(FIELDS) | DESCRIBING))
    """Only the series mapped: the exporter's other fields never cross the wire."""
    keep: tuple[str, ...] = (
        "hostname", "instance", "uuid", "index", "name", "driver_version", "pci_bus_id",
        "serial", "vbios_version",
    )  # fmt: skip
    identity: tuple[str, ...] = (
        "index", "name", "driver_version", "pci_bus_id", "serial", "vbios_version",
    )  # fmt: skip
    """What only describes a GPU (on ``gpu_info``): (node, uuid) tells readings apart."""

    def recognises(self, name: str) -> bool:
        return name.startswith("nvidia_smi_")

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        node_of = node_namer(scope, ("hostname",))
        readings: dict[tuple[str, str], dict[str, float]] = {}
        info: dict[tuple[str, str], Mapping[str, str]] = {}
        for name, labels, value in series:
            uuid = labels.get("uuid")
            node = node_of(labels)
            if not uuid or not node or value != value:
                continue  # the exporter's own health series carry no uuid
            key = (node, uuid)
            if name == "nvidia_smi_gpu_info":
                info[key] = labels
            elif name in FIELDS or name in DESCRIBING:
                readings.setdefault(key, {})[name] = value
        for key in readings.keys() | info.keys():
            self._emit(key, readings.get(key, {}), info.get(key, {}), out)

    @staticmethod
    def _emit(
        key: tuple[str, str], values: dict[str, float], labels: Mapping[str, str], out: Builder
    ) -> None:
        node, uuid = key
        index = labels.get("index") or ""
        if not index.isdecimal() and "nvidia_smi_index" in values:
            index = str(int(values["nvidia_smi_index"]))
        part = ref_part(index or uuid)
        ref = make_ref("gpu", node, part)
        entity = out.entity(ref, f"GPU {part}", out.node(node))
        for name, value in values.items():
            spec = FIELDS.get(name)
            if spec is not None:
                out.put(ref, spec[0], value * spec[1])
        attrs: dict[str, Any] = {
            "index": int(index) if index.isdecimal() else part,
            "uuid": plain(uuid, 64) or None,
            "model": plain(labels.get("name", ""), 64) or None,
            "driver": plain(labels.get("driver_version", ""), 64) or None,
            "pci_bus_id": plain(labels.get("pci_bus_id", ""), 32) or None,
            "health": "ok",
        }
        if labels.get("serial"):
            attrs["serial"] = plain(labels["serial"], 64)
        if "nvidia_smi_pstate" in values:
            attrs["pstate"] = pstate_name(int(values["nvidia_smi_pstate"]))
        reasons = values.get("nvidia_smi_clocks_event_reasons_active")
        if reasons is not None:
            attrs["throttle"] = clock_event_words(int(reasons))
            attrs["throttled"] = is_throttled(int(reasons))
        if values.get("nvidia_smi_remapped_rows_failure"):
            attrs["remap_failure"] = True
        action = int(values.get("nvidia_smi_gpu_recovery_action") or 0)
        if action:
            attrs["health"] = f"driver asks for {RECOVERY_ACTIONS.get(action, str(action))}"
        entity.attrs.update(attrs)


TABLE = NvidiaSmiTable()
"""The nvidia_gpu_exporter table."""
