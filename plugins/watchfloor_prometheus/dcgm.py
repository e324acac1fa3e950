"""NVIDIA dcgm-exporter (``DCGM_FI_*``) mapped onto ``gpu/<node>/<index>``.

- Node: ``Hostname`` (dcgm-exporter before 4.x) or ``hostname`` (after the rename),
  unless the config names it; refs match what NVML and the agents report.
- MIG: one physical GPU has a series per GPU instance (``GPU_I_ID``) carrying the
  same ``gpu``/``UUID``. They are told apart by (UUID, instance): the GPU keeps its
  device-wide readings once, and each instance's memory and activity go to the
  GPU's ``mig`` list (the same shape the NVML source uses).
- A series repeated per pod (time-slicing) is one reading, not another GPU.
- DCGM's "no data" sentinels (int32/int64 blanks, FP64 blank) are *not available*.
- ``DCGM_FI_DEV_XID_ERRORS`` is the code of the last XID, not a count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.api import (
    Entity,
    clock_event_words,
    is_throttled,
    make_ref,
    pstate_name,
    xid_meaning,
)
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, NameValues, Scope, node_namer, ref_part
from watchfloor_prometheus.mapping import clean as plain

INT32_BLANK = 2147483632.0
"""DCGM_INT32_BLANK (0x7ffffff0); up to 0x7fffffff are the other int32 sentinels."""
INT64_BLANK = 9223372036854775792.0
"""DCGM_INT64_BLANK (0x7ffffffffffffff0) as a float (2**63: floats cannot tell them apart)."""
FP64_BLANK = 140737488355328.0
"""DCGM_FP64_BLANK (2**47); the FP64 not-found/not-supported sentinels are above it."""

# DCGM field → (metric, scale, type of the DCGM field: "i" integer, "f" float).
FIELDS: dict[str, tuple[str, float, str]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("gpu.util", 1.0, "i"),
    "DCGM_FI_DEV_MEM_COPY_UTIL": ("gpu.mem_util", 1.0, "i"),
    "DCGM_FI_DEV_FB_USED": ("gpu.mem_used", 1.0, "i"),
    "DCGM_FI_DEV_GPU_TEMP": ("gpu.temp", 1.0, "i"),
    "DCGM_FI_DEV_POWER_USAGE": ("gpu.power", 1.0, "f"),
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": ("gpu.power_limit", 1.0, "f"),
    "DCGM_FI_DEV_ENFORCED_POWER_LIMIT": ("gpu.power_limit", 1.0, "f"),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("gpu.energy", 1e-3, "i"),  # mJ
    "DCGM_FI_DEV_SM_CLOCK": ("gpu.sm_clock", 1.0, "i"),
    "DCGM_FI_DEV_MEM_CLOCK": ("gpu.mem_clock", 1.0, "i"),
    "DCGM_FI_DEV_FAN_SPEED": ("gpu.fan", 1.0, "i"),
    "DCGM_FI_PROF_PCIE_TX_BYTES": ("gpu.pcie_tx", 1.0, "i"),  # bytes per second
    "DCGM_FI_PROF_PCIE_RX_BYTES": ("gpu.pcie_rx", 1.0, "i"),
    "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": ("gpu.ecc_corrected_volatile", 1.0, "i"),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": ("gpu.ecc_uncorrected_volatile", 1.0, "i"),
    "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL": ("gpu.ecc_corrected_aggregate", 1.0, "i"),
    "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL": ("gpu.ecc_uncorrected_aggregate", 1.0, "i"),
    "DCGM_FI_DEV_RETIRED_SBE": ("gpu.retired_pages_sbe", 1.0, "i"),
    "DCGM_FI_DEV_RETIRED_DBE": ("gpu.retired_pages_dbe", 1.0, "i"),
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": ("gpu.remapped_correctable", 1.0, "i"),
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": ("gpu.remapped_uncorrectable", 1.0, "i"),
}
"""DCGM fields that are one metric of the vocabulary each."""

OTHER_FIELDS: dict[str, str] = {
    "DCGM_FI_DEV_FB_FREE": "i",
    "DCGM_FI_DEV_FB_TOTAL": "i",
    "DCGM_FI_DEV_FB_RESERVED": "i",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "f",  # ratio; the utilisation a MIG instance has
    "DCGM_FI_DEV_XID_ERRORS": "i",
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": "i",
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": "i",
    "DCGM_FI_DEV_PSTATE": "i",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": "i",
    "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL": "i",
    "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL": "i",
    "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL": "i",
}
"""DCGM fields read into attributes or combined into one metric."""

KINDS: dict[str, str] = {name: kind for name, (_, _, kind) in FIELDS.items()} | OTHER_FIELDS
NVLINK_ERRORS = (
    "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
    "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
    "DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL",
)
PER_INSTANCE = frozenset({
    "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_TOTAL",
    "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL",
})  # fmt: skip
"""Fields whose value differs per MIG instance (the rest are the whole device's)."""
NVLINK_FIELDS = frozenset(NVLINK_ERRORS)
DESCRIBED = frozenset({
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
    "DCGM_FI_DEV_PSTATE", "DCGM_FI_DEV_ROW_REMAP_FAILURE",
})  # fmt: skip


def blank(value: float, kind: str) -> bool:
    """True for DCGM's "no data" sentinels (and NaN)."""
    if value != value or value >= INT64_BLANK:
        return True
    if kind == "f":
        return value >= FP64_BLANK
    return INT32_BLANK <= value <= 2147483647.0


DEVICE_FIELDS: dict[str, tuple[str, float]] = {
    name: (metric, scale) for name, (metric, scale, _) in FIELDS.items() if name not in PER_INSTANCE
}
"""Fields read once per physical GPU: their metric and scale."""


@dataclass
class _Gpu:
    """One physical GPU while its series are read."""

    ref: str
    node: str
    index: str
    labels: Mapping[str, str]
    device: dict[str, float | None] = field(default_factory=dict)
    instances: dict[str, dict[str, float | None]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    pods: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _PlainGpu:
    """A GPU named by one label set of its own (no MIG instance, no pod): what its
    label set says, kept from refresh to refresh with that label set."""

    labels: Mapping[str, str]
    key: tuple[str, str]
    ref: str
    name: str
    node: str
    node_ref: str
    attrs: dict[str, Any]

    @classmethod
    def of(cls, labels: Mapping[str, str], node_of: Any) -> _PlainGpu | None:
        """As :meth:`DcgmTable._target` reads it; None where it is not a plain GPU."""
        named = None if labels.get("GPU_I_ID") or labels.get("pod") else _named(labels, node_of)
        if named is None:
            return None
        node, index, uuid = named
        part = ref_part(index or uuid)
        return cls(labels, (node, uuid or index), make_ref("gpu", node, part), f"GPU {part}",
                   node, make_ref("node", node), _label_attrs(part, labels, None))  # fmt: skip


@dataclass
class _PlainGpus:
    """The GPUs of a refresh, and each column with the GPU of each of its series
    (None: the GPUs in order, one series each)."""

    gpus: list[_PlainGpu] = field(default_factory=list)
    columns: list[tuple[NameValues, list[int] | None]] = field(default_factory=list)


class DcgmTable:
    """dcgm-exporter's GPU series."""

    name = "dcgm"
    names = "|".join(sorted(KINDS))
    """Only the fields mapped: a fleet's unmapped DCGM fields never cross the wire."""
    keep: tuple[str, ...] = (
        "Hostname", "hostname", "instance", "gpu", "UUID", "uuid", "pci_bus_id", "modelName",
        "GPU_I_ID", "GPU_I_PROFILE", "pod", "namespace", "container", "DCGM_FI_DRIVER_VERSION",
        "DCGM_FI_DEV_SERIAL",
    )  # fmt: skip
    identity: tuple[str, ...] = (
        "pci_bus_id", "modelName", "GPU_I_PROFILE", "pod", "namespace", "container",
        "DCGM_FI_DRIVER_VERSION", "DCGM_FI_DEV_SERIAL",
    )  # fmt: skip
    """What only describes a GPU: (node, gpu or UUID, GPU_I_ID) tell readings apart."""
    spare: tuple[str, ...] = ("UUID", "uuid")
    """Labels that tell readings apart only where ``gpu`` does not: the query source
    reads the values without them while the label sets read show them unneeded."""

    def recognises(self, name: str) -> bool:
        return name.startswith("DCGM_FI_")

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        node_of = node_namer(scope, ("Hostname", "hostname"))
        gpus: dict[tuple[str, str], _Gpu] = {}
        # Label sets repeat on every field of a GPU: resolve each one once, to the
        # dict its readings go in (None: no GPU named, a bare sample).
        targets: dict[int, dict[str, float | None] | None] = {}
        kind_of, target_of, low, high = KINDS.get, targets.get, -INT32_BLANK, INT32_BLANK
        for name, labels, value in series:
            values = target_of(id(labels), _UNSEEN)
            if values is _UNSEEN:  # (any DCGM field names a GPU, even one not mapped)
                values = targets[id(labels)] = self._target(labels, node_of, gpus)
            kind = kind_of(name)
            if values is None or kind is None:
                continue  # no GPU named (a bare sample), or a field not in the vocabulary
            # Most readings are small numbers: only the rest can be a sentinel (or NaN).
            if not low < value < high and blank(value, kind):
                values.setdefault(name, None)
            elif values.get(name) is None:
                values[name] = value
        xids: dict[str, tuple[int, float]] = scope.memory.setdefault("xid", {})
        for gpu in gpus.values():
            self._emit(gpu, out, xids, scope.time)

    def map_columns(self, columns: Sequence[NameValues], scope: Scope, out: Builder) -> bool:
        """:meth:`map` for the usual fleet, a column at a time (at 80,000 GPUs, per-series
        Python costs seconds): every label set names one GPU of its own, no MIG instance,
        no pod, no name twice for a GPU. False, having added nothing, for any other."""
        gpus = self._plain_gpus(columns, scope)
        if gpus is None:
            return False
        count = len(gpus.gpus)
        dense: dict[str, list[Any]] = {}
        """Each name's values in GPU order: :data:`_UNSEEN` where a GPU has none."""
        for column, slots in gpus.columns:
            kind = KINDS.get(column.name)
            if kind is None:
                continue  # a field not in the vocabulary (it still named its GPUs)
            values: list[Any] = column.values
            # Sentinels and NaN are rare: C-level passes find whether any is there.
            if values and not (min(values) > -INT32_BLANK and max(values) < INT32_BLANK
                               and math.isfinite(sum(values))):  # fmt: skip
                values = [None if blank(value, kind) else value for value in values]
            if slots is None and len(values) == count:
                dense[column.name] = values
            else:
                dense[column.name] = spread = [_UNSEEN] * count
                order = range(len(values)) if slots is None else slots  # None: a first few
                for slot, value in zip(order, values, strict=True):
                    spread[slot] = value
        self._emit_columns(gpus, dense, scope, out)
        return True

    def _plain_gpus(self, columns: Sequence[NameValues], scope: Scope) -> _PlainGpus | None:
        """The GPUs the columns name, in the order :meth:`map` meets them, with each
        column's GPU of each series; None where the fleet is not the usual one."""
        gpus = _PlainGpus()
        in_order: list[dict[str, str]] = []
        """The label sets of the GPUs in order: names usually list them alike."""
        keys: set[tuple[str, str]] = set()
        last = scope.memory.get("plain_order")
        if last is not None and columns and columns[0].labels == last[0]:
            in_order, gpus.gpus, keys = list(last[0]), list(last[1]), set(last[2])  # as before
        slot_of: dict[int, int] = {}
        for column in columns:
            if column.labels == in_order:  # the same objects (or equal label sets) in order
                gpus.columns.append((column, None))
                continue
            ids = list(map(id, column.labels))
            distinct = set(ids)
            if len(distinct) != len(ids):
                return None  # a GPU twice in one name's answer: map keeps the first
            if len(slot_of) != len(in_order):
                slot_of = {id(labels): slot for slot, labels in enumerate(in_order)}
            if not distinct.issubset(slot_of) and not self._add_gpus(
                column.labels, slot_of, keys, gpus, in_order, scope
            ):
                return None  # MIG, pods, no GPU named, or two label sets for one
            if column.labels == in_order:
                gpus.columns.append((column, None))
            else:
                gpus.columns.append((column, list(map(slot_of.__getitem__, ids))))
        if last is None or len(in_order) != len(last[0]) or in_order != last[0]:
            # Kept for the next refresh (the same label set objects while the identity stands).
            scope.memory["plain_order"] = (in_order, gpus.gpus, keys)
            scope.memory["plain_gpus"] = {id(gpu.labels): gpu for gpu in gpus.gpus}
        return gpus

    @staticmethod
    def _add_gpus(
        labels_of_series: list[dict[str, str]], slot_of: dict[int, int],
        keys: set[tuple[str, str]], gpus: _PlainGpus, in_order: list[dict[str, str]],
        scope: Scope,
    ) -> bool:  # fmt: skip
        """Add the GPUs these label sets name that are not in ``slot_of``; False where
        one is not a plain GPU of its own."""
        known: dict[int, _PlainGpu] = scope.memory.get("plain_gpus", {})
        node_of = node_namer(scope, ("Hostname", "hostname"))
        for labels in labels_of_series:
            if id(labels) in slot_of:
                continue
            gpu = known.get(id(labels))
            if gpu is None or gpu.labels is not labels:
                gpu = _PlainGpu.of(labels, node_of)
            if gpu is None or gpu.key in keys:
                return False
            keys.add(gpu.key)
            slot_of[id(labels)] = len(gpus.gpus)
            gpus.gpus.append(gpu)
            in_order.append(labels)
        return True

    @staticmethod
    def _emit_columns(
        gpus: _PlainGpus, dense: dict[str, list[Any]], scope: Scope, out: Builder
    ) -> None:
        """What :meth:`_emit` adds for each GPU, for all of them at once."""
        refs = [gpu.ref for gpu in gpus.gpus]
        for metric, names in _device_metrics(dense).items():
            if len(names) == 1:
                name, scale = names[0]
                values = dense[name]
                if scale != 1.0:
                    values = [v if v is None or v is _UNSEEN else v * scale for v in values]
            else:  # several fields, one metric: the first with a value, as _emit
                values = [_UNSEEN] * len(refs)
                for name, scale in names:
                    for slot, value in enumerate(dense[name]):
                        if value is not _UNSEEN and values[slot] in (_UNSEEN, None):
                            values[slot] = value if value is None else value * scale
            _put(out, metric, refs, values)
        none = [None] * len(refs)
        used = _known(dense.get("DCGM_FI_DEV_FB_USED"), none)
        if "DCGM_FI_DEV_FB_USED" in dense:
            _put(out, "gpu.mem_used", refs, dense["DCGM_FI_DEV_FB_USED"])
        free = _known(dense.get("DCGM_FI_DEV_FB_FREE"), none)
        reserved = _known(dense.get("DCGM_FI_DEV_FB_RESERVED"), none)
        total = _known(dense.get("DCGM_FI_DEV_FB_TOTAL"), none)
        _put(out, "gpu.mem_total", refs, [
            _UNSEEN if t is None and (u is None or f is None)
            else t if t is not None else u + f + (r or 0.0)
            for t, u, f, r in zip(total, used, free, reserved, strict=True)
        ])  # fmt: skip
        util = _known(dense.get("DCGM_FI_DEV_GPU_UTIL"), none)
        active = _known(dense.get("DCGM_FI_PROF_GR_ENGINE_ACTIVE"), none)
        out.column("gpu.util", refs, [u if u is not None else None if a is None else 100.0 * a
                                      for u, a in zip(util, active, strict=True)])  # fmt: skip
        links = [dense[name] for name in NVLINK_ERRORS if name in dense]
        if links:
            errors = [[v for v in values if v is not _UNSEEN and v is not None]
                      for values in zip(*links, strict=True)]  # fmt: skip
            _put(out, "gpu.nvlink_errors", refs, [float(sum(e)) if e else _UNSEEN for e in errors])
        attrs = [dict(gpu.attrs) for gpu in gpus.gpus]
        described = sorted(DESCRIBED.intersection(dense))
        wanted: set[int] = set()  # the GPUs whose readings say something (_describe)
        for name in described:
            if name == "DCGM_FI_DEV_ROW_REMAP_FAILURE":  # only a failure
                wanted.update(i for i, v in enumerate(dense[name]) if v and v is not _UNSEEN)
            else:
                wanted.update(i for i, v in enumerate(dense[name])
                              if v is not None and v is not _UNSEEN)  # fmt: skip
        for slot in sorted(wanted):
            device = {n: dense[n][slot] for n in described if dense[n][slot] is not _UNSEEN}
            DcgmTable._describe(device, attrs[slot])
        xid = dense.get("DCGM_FI_DEV_XID_ERRORS")
        if xid is not None:
            xids: dict[str, tuple[int, float]] = scope.memory.setdefault("xid", {})
            xid = [v if v is _UNSEEN or v is None or math.isfinite(v) else None for v in xid]
            _put(out, "gpu.xid", refs, [v if v is _UNSEEN else v or None for v in xid])
            for slot, value in enumerate(xid):
                if value is not _UNSEEN and value:
                    _last_xid(refs[slot], int(value), xids, scope.time, attrs[slot])
        entities = out.entities
        for gpu, gpu_attrs in zip(gpus.gpus, attrs, strict=True):
            if gpu.node_ref not in entities:
                entities[gpu.node_ref] = Entity(gpu.node_ref, gpu.node)
            entity = entities.get(gpu.ref)
            if entity is None:
                entities[gpu.ref] = Entity(gpu.ref, gpu.name, gpu.node_ref, gpu_attrs)
            else:
                entity.attrs.update(gpu_attrs)

    def _target(
        self, labels: Mapping[str, str], node_of: Any, gpus: dict[tuple[str, str], _Gpu]
    ) -> dict[str, float | None] | None:
        named = _named(labels, node_of)
        if named is None:
            return None
        node, index, uuid = named
        key = (node, uuid or index)
        gpu = gpus.get(key)
        if gpu is None:
            part = ref_part(index or uuid)
            gpu = gpus[key] = _Gpu(make_ref("gpu", node, part), node, part, labels)
        pod = labels.get("pod")
        if pod:
            gpu.pods.add(plain(f"{labels.get('namespace', '')}/{pod}".lstrip("/"), 120))
        instance = labels.get("GPU_I_ID")
        if not instance:
            return gpu.device
        instance = plain(instance, 16)
        gpu.profiles.setdefault(instance, plain(labels.get("GPU_I_PROFILE", ""), 32))
        return gpu.instances.setdefault(instance, {})

    def _emit(
        self, gpu: _Gpu, out: Builder, xids: dict[str, tuple[int, float]], now: float
    ) -> None:
        ref, index, labels, device = gpu.ref, gpu.index, gpu.labels, gpu.device
        entity = out.entity(ref, f"GPU {index}", out.node(gpu.node))
        if gpu.instances:
            # Device-wide readings: the whole-GPU series first, then any instance's copy.
            device = dict(device)
            for values in gpu.instances.values():
                for name, value in values.items():
                    if name not in PER_INSTANCE and device.get(name) is None:
                        device[name] = value
            whole = _sums(gpu.instances.values())
        else:
            whole = device
        readings = out.values  # Builder.put, inlined: about 15 readings per GPU
        get, fields = readings.get, DEVICE_FIELDS
        for name, value in device.items():
            spec = fields.get(name)
            if spec is not None:
                slot = (ref, spec[0])
                if get(slot) is None:
                    readings[slot] = None if value is None else value * spec[1]
        used, free = whole.get("DCGM_FI_DEV_FB_USED"), whole.get("DCGM_FI_DEV_FB_FREE")
        total = whole.get("DCGM_FI_DEV_FB_TOTAL")
        if total is None and used is not None and free is not None:
            total = used + free + (whole.get("DCGM_FI_DEV_FB_RESERVED") or 0.0)
        if "DCGM_FI_DEV_FB_USED" in whole and get((ref, "gpu.mem_used")) is None:
            readings[(ref, "gpu.mem_used")] = used
        if total is not None and get((ref, "gpu.mem_total")) is None:
            readings[(ref, "gpu.mem_total")] = total
        if get((ref, "gpu.util")) is None:
            util = gpu.device.get("DCGM_FI_DEV_GPU_UTIL")
            readings[(ref, "gpu.util")] = util if util is not None else _util(gpu)
        if not NVLINK_FIELDS.isdisjoint(device):
            errors = [device[name] for name in NVLINK_ERRORS if device.get(name) is not None]
            if errors:
                out.put(ref, "gpu.nvlink_errors", float(sum(errors)))  # type: ignore[arg-type]
        attrs = _label_attrs(index, labels, _mig(gpu) if gpu.instances else None)
        if gpu.pods:
            attrs["pods"] = sorted(gpu.pods)
        if not DESCRIBED.isdisjoint(device):  # the rarer fields read into attributes
            self._describe(device, attrs)
        if "DCGM_FI_DEV_XID_ERRORS" in device:
            xid = device["DCGM_FI_DEV_XID_ERRORS"]
            if xid is not None and not math.isfinite(xid):
                xid = None  # no XID is ±inf or NaN (a hostile or broken exporter)
            out.put(ref, "gpu.xid", xid or None)
            if xid:
                _last_xid(ref, int(xid), xids, now, attrs)
        entity.attrs.update(attrs)

    @staticmethod
    def _describe(device: Mapping[str, float | None], attrs: dict[str, Any]) -> None:
        """Throttle reasons, P-state, a row-remap failure: attributes from readings."""
        reasons = device.get("DCGM_FI_DEV_CLOCKS_EVENT_REASONS")
        if reasons is None:
            reasons = device.get("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")
        if reasons is not None:
            attrs["throttle"] = clock_event_words(int(reasons))
            attrs["throttled"] = is_throttled(int(reasons))
        pstate = device.get("DCGM_FI_DEV_PSTATE")
        if pstate is not None:
            attrs["pstate"] = pstate_name(int(pstate))
        if device.get("DCGM_FI_DEV_ROW_REMAP_FAILURE"):
            attrs["remap_failure"] = True


def _named(labels: Mapping[str, str], node_of: Any) -> tuple[str, str, str] | None:
    """(node, index, UUID) of the GPU a label set names (either of the last two may be
    empty); None where it names no GPU (a bare sample)."""
    index = labels.get("gpu")
    if not index:
        device = labels.get("device", "")
        index = device.removeprefix("nvidia") if device.startswith("nvidia") else ""
    uuid = labels.get("UUID") or labels.get("uuid") or ""
    node = node_of(labels)
    if not node or not (index or uuid):
        return None
    return node, index, uuid


def _label_attrs(index: str, labels: Mapping[str, str], mig: Any) -> dict[str, Any]:
    """A GPU's attributes from its labels (as plain text)."""
    model = labels.get("modelName") or labels.get("DCGM_FI_DEV_NAME")
    uuid = labels.get("UUID") or labels.get("uuid")
    bus = labels.get("pci_bus_id")
    attrs: dict[str, Any] = {
        "index": int(index) if index.isdecimal() else index,
        "model": plain(model, 64) or None if model else None,
        "uuid": plain(uuid, 64) or None if uuid else None,
        "pci_bus_id": plain(bus, 32) or None if bus else None,
        "health": "ok",
        "mig": mig,
    }
    if labels.get("DCGM_FI_DEV_SERIAL"):
        attrs["serial"] = plain(labels["DCGM_FI_DEV_SERIAL"], 64)
    if labels.get("DCGM_FI_DRIVER_VERSION"):
        attrs["driver"] = plain(labels["DCGM_FI_DRIVER_VERSION"], 64)
    return attrs


def _device_metrics(dense: Mapping[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """The device fields among these names, by metric, in the order they came."""
    by_metric: dict[str, list[tuple[str, float]]] = {}
    for name in dense:
        spec = DEVICE_FIELDS.get(name)
        if spec is not None:
            by_metric.setdefault(spec[0], []).append((name, spec[1]))
    return by_metric


def _last_xid(
    ref: str, code: int, xids: dict[str, tuple[int, float]], now: float, attrs: dict[str, Any]
) -> None:
    """The last XID's attributes; the exporter says which XID came last, not when: the
    first poll that saw it."""
    if xids.get(ref, (None,))[0] != code:
        xids[ref] = (code, now)
    since = xids[ref][1]
    attrs["last_xid"] = {"code": code, "time": since, "meaning": xid_meaning(code)}
    attrs["health"] = f"XID {code}: {xid_meaning(code)}"


def _known(values: list[Any] | None, none: list[None]) -> list[Any]:
    """A dense column with None for the GPUs it has no value for."""
    if values is None:
        return none
    return [None if value is _UNSEEN else value for value in values]


def _put(out: Builder, metric: str, refs: list[str], values: list[Any]) -> None:
    """A dense column's readings, leaving out the GPUs it has none for."""
    if _UNSEEN in values:
        kept = [i for i, value in enumerate(values) if value is not _UNSEEN]
        refs, values = [refs[i] for i in kept], [values[i] for i in kept]
    out.column(metric, refs, values)


def _sums(instances: Any) -> dict[str, float | None]:
    total: dict[str, float | None] = {}
    for values in instances:
        for name in ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED",
                     "DCGM_FI_DEV_FB_TOTAL"):  # fmt: skip
            value = values.get(name)
            if value is not None:
                total[name] = (total.get(name) or 0.0) + value
    return total


def _util(gpu: _Gpu) -> float | None:
    """SM utilisation; a MIG GPU's is the mean graphics activity of its instances."""
    util = gpu.device.get("DCGM_FI_DEV_GPU_UTIL")
    if util is not None:
        return util
    active = [
        values["DCGM_FI_PROF_GR_ENGINE_ACTIVE"]
        for values in (gpu.device, *gpu.instances.values())
        if values.get("DCGM_FI_PROF_GR_ENGINE_ACTIVE") is not None
    ]
    if active:
        return 100.0 * sum(active) / len(active)  # type: ignore[arg-type]
    if gpu.instances:
        utils = [v["DCGM_FI_DEV_GPU_UTIL"] for v in gpu.instances.values()
                 if v.get("DCGM_FI_DEV_GPU_UTIL") is not None]  # fmt: skip
        return sum(utils) / len(utils) if utils else None  # type: ignore[arg-type]
    return None


def _mig(gpu: _Gpu) -> list[dict[str, Any]]:
    instances = []
    for instance in sorted(gpu.instances, key=lambda i: (len(i), i)):
        values = gpu.instances[instance]
        used, free = values.get("DCGM_FI_DEV_FB_USED"), values.get("DCGM_FI_DEV_FB_FREE")
        total = values.get("DCGM_FI_DEV_FB_TOTAL")
        if total is None and used is not None and free is not None:
            total = used + free + (values.get("DCGM_FI_DEV_FB_RESERVED") or 0.0)
        active = values.get("DCGM_FI_PROF_GR_ENGINE_ACTIVE")
        instances.append({
            "gpu_instance": int(instance) if instance.isdecimal() else instance,
            "profile": gpu.profiles.get(instance) or None,
            "mem_used_mib": used,
            "mem_total_mib": total,
            "util": None if active is None else 100.0 * active,
        })  # fmt: skip
    return instances


_UNSEEN: Any = object()

TABLE = DcgmTable()
"""The dcgm-exporter table."""
