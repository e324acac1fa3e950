"""Entities, refs and the metric vocabulary.

Everything the console shows has a *ref*: a short path such as ``gpu/node01/3``
that names it for navigation, JSON output and drill-down links between plugins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from operator import attrgetter
from typing import Any

ENTITY_KINDS: tuple[str, ...] = ("node", "gpu", "port", "link", "switch", "job", "event", "path")
"""The console's own kinds of entity; the first path segment of every ref.

Plugins add their own kinds (``Plugin.entity_kinds``); :func:`entity_kinds` lists both."""
VIEW_KINDS: tuple[str, ...] = ("path",)
"""Refs that name a view rather than a stored entity (``path/4711``: that job's paths)."""
KIND_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""What a plugin's entity kind looks like: ``pdu``, ``cooling-loop``."""
METRIC_PATTERN = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9_.]+")
"""What a metric name looks like: ``<kind>.<quantity>`` (``pdu.power``)."""

_plugin_kinds: dict[str, str] = {}
"""Entity kinds declared by plugins, and which plugin declared each."""


def entity_kinds() -> tuple[str, ...]:
    """Every kind a ref may name: the console's own, then those plugins declared."""
    return ENTITY_KINDS + tuple(_plugin_kinds)


def declare_entity_kinds(kinds: Iterable[str], owner: str) -> None:
    """Let :func:`make_ref` build refs of these kinds (called when a Plugin is made).

    Raises ValueError for a malformed name, one of the console's own kinds, or a
    kind another plugin already declared.
    """
    for kind in kinds:
        if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
            raise ValueError(
                f"entity kind {kind!r} must be lowercase letters, digits and '-' "
                "(starting with a letter, at most 32)"
            )
        if kind in ENTITY_KINDS:
            raise ValueError(
                f"entity kind {kind!r} is one of the console's own: declare only new kinds"
            )
        other = _plugin_kinds.setdefault(kind, owner)
        if other != owner:
            raise ValueError(f"entity kind {kind!r} is already declared by plugin {other!r}")


def make_ref(kind: str, *parts: object) -> str:
    """Build a ref such as ``gpu/node01/3`` from its kind and parts."""
    if kind not in ENTITY_KINDS and kind not in _plugin_kinds:
        hint = (
            ""
            if not KIND_PATTERN.fullmatch(kind)
            else " (a plugin declares its own kinds in Plugin(entity_kinds=...))"
        )
        raise ValueError(f"unknown entity kind {kind!r}{hint}")
    return "/".join([kind, *(str(part) for part in parts)])


def ref_kind(ref: str) -> str:
    """The entity kind of a ref (``gpu`` for ``gpu/node01/3``)."""
    return ref.split("/", 1)[0]


def port_ref(owner: str, port: str) -> str:
    """Ref of a port on a node or switch."""
    return make_ref("port", owner, port)


def link_ref(a_port: str, b_port: str) -> str:
    """Ref of a link between two port refs (``link/node01/mlx5_0:1~leaf01/p1``)."""
    strip = len("port/")
    return f"link/{a_port[strip:]}~{b_port[strip:]}"


def normalize_ref(text: str, default_kind: str) -> str:
    """Accept a bare id (``4711``) or a full ref (``job/4711``) for one kind."""
    text = text.strip()
    kind = ref_kind(text)
    if "/" in text and (kind in ENTITY_KINDS or kind in _plugin_kinds):
        return text
    return make_ref(default_kind, text)


@dataclass(slots=True)
class Entity:
    """One thing the console shows: a node, GPU, port, link, switch, job or event."""

    ref: str
    """Unique ref; its first segment is the kind."""
    name: str
    """Short human name (shown as plain text, never as markup)."""
    parent: str | None = None
    """Ref of the entity this one belongs to (a GPU's node, a port's node or switch)."""
    attrs: dict[str, Any] = field(default_factory=dict)
    """Slow-changing facts: model, UUID, speed, job state, member refs."""

    @property
    def kind(self) -> str:
        """The entity kind, from the ref."""
        return ref_kind(self.ref)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One quantity in the vocabulary: its internal name, unit and nature."""

    name: str
    """Internal name, e.g. ``gpu.power``."""
    unit: str
    """Unit of the stored value (for counters: of the raw count)."""
    description: str
    """One line for tooltips and the plugin docs."""
    counter: bool = False
    """Monotonic counter: stored raw, its history kept as a per-second rate."""
    timed: bool = False
    """History keeps each point's time (for onsets: when did this job stall?)."""
    label: str = ""
    """A few words a person reads on screen (``back-pressure (xmit_wait)``); the name
    is shown where there is none (see :func:`metric_label`)."""


def _spec(
    name: str,
    unit: str,
    description: str,
    counter: bool = False,
    timed: bool = False,
    label: str = "",
) -> MetricSpec:
    return MetricSpec(name, unit, description, counter, timed, label)


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        _spec("gpu.util", "%", "SM utilisation"),
        _spec("gpu.mem_util", "%", "memory controller utilisation"),
        _spec("gpu.mem_used", "MiB", "framebuffer memory used"),
        _spec("gpu.mem_total", "MiB", "framebuffer memory total"),
        _spec("gpu.temp", "°C", "GPU core temperature"),
        _spec("gpu.power", "W", "power draw"),
        _spec("gpu.power_limit", "W", "enforced power limit"),
        _spec("gpu.energy", "J", "total energy since driver load", counter=True),
        _spec("gpu.sm_clock", "MHz", "SM clock"),
        _spec("gpu.mem_clock", "MHz", "memory clock"),
        _spec("gpu.fan", "%", "fan speed"),
        _spec("gpu.energy_total", "J", "energy used since the console started"),
        _spec("gpu.energy_today", "J", "energy used today (local time)"),
        _spec("gpu.pcie_tx", "B/s", "PCIe transmit throughput"),
        _spec("gpu.pcie_rx", "B/s", "PCIe receive throughput"),
        _spec("gpu.ecc_corrected_volatile", "errors", "corrected ECC errors since driver load"),
        _spec("gpu.ecc_uncorrected_volatile", "errors", "uncorrected ECC errors since load"),
        _spec("gpu.ecc_corrected_aggregate", "errors", "corrected ECC errors, lifetime"),
        _spec("gpu.ecc_uncorrected_aggregate", "errors", "uncorrected ECC errors, lifetime"),
        _spec("gpu.retired_pages_sbe", "pages", "pages retired for single-bit errors"),
        _spec("gpu.retired_pages_dbe", "pages", "pages retired for double-bit errors"),
        _spec("gpu.remapped_correctable", "rows", "rows remapped for correctable errors"),
        _spec("gpu.remapped_uncorrectable", "rows", "rows remapped for uncorrectable errors"),
        _spec(
            "gpu.nvlink_errors", "errors", "NVLink CRC, replay and recovery errors", counter=True
        ),
        _spec("gpu.xid", "", "code of the last XID error"),
        _spec("node.cpu_util", "%", "host CPU utilisation"),
        _spec("node.mem_used", "B", "host memory used"),
        _spec("node.mem_total", "B", "host memory total"),
        _spec("node.load1", "", "1-minute load average"),
        _spec("node.temp_max", "°C", "hottest hwmon sensor"),
        _spec("node.cpu_energy", "J", "RAPL package energy", counter=True),
        _spec("node.dram_energy", "J", "RAPL DRAM energy", counter=True),
        _spec("port.tx_bytes", "B", "bytes transmitted", counter=True),
        _spec("port.rx_bytes", "B", "bytes received", counter=True),
        _spec("port.xmit_wait", "ticks", "InfiniBand port_xmit_wait", counter=True),
        _spec("port.pfc_pause_rx", "frames", "PFC pause frames received", counter=True),
        _spec("port.ecn_marked", "packets", "ECN-marked packets", counter=True),
        _spec("port.cnp_sent", "packets", "congestion notification packets sent", counter=True),
        _spec("port.symbol_errors", "errors", "symbol errors", counter=True),
        _spec("port.discards", "packets", "transmit discards", counter=True),
        _spec("port.tx_packets", "packets", "packets transmitted", counter=True),
        _spec("port.rx_packets", "packets", "packets received", counter=True),
        _spec("port.rx_errors", "errors", "receive errors", counter=True),
        _spec("port.tx_errors", "errors", "transmit errors", counter=True),
        _spec("port.rx_drops", "packets", "receive drops", counter=True),
        _spec("port.tx_drops", "packets", "transmit drops", counter=True),
        _spec("port.link_downed", "events", "times the link went down", counter=True),
        _spec("port.rx_discards", "packets", "receive discards", counter=True),
        _spec("port.link_error_recovery", "events", "link error recoveries", counter=True),
        _spec("port.carrier_changes", "events", "carrier (link up/down) changes", counter=True),
        _spec(
            "port.cnp_handled", "packets", "congestion notification packets handled", counter=True
        ),
        _spec(
            "port.rx_remote_physical_errors",
            "errors",
            "packets marked bad upstream (EBP)",
            counter=True,
        ),
        _spec("port.link_integrity_errors", "errors", "local link integrity errors", counter=True),
        _spec("port.buffer_overrun", "errors", "excessive buffer overrun errors", counter=True),
        # mlx5 hw_counters that mean RDMA retransmission (the fabric lost or reordered data)
        _spec("port.out_of_sequence", "packets", "out-of-sequence packets received", counter=True),
        _spec("port.packet_seq_err", "errors", "packet sequence errors (NAKs)", counter=True),
        _spec("port.local_ack_timeout", "errors", "local ACK timeouts", counter=True),
        _spec("port.rnr_nak_retry", "errors", "receiver-not-ready NAK retries", counter=True),
        _spec("port.retransmits", "packets", "RoCE adaptive retransmissions", counter=True),
        _spec("port.req_cqe_errors", "errors", "requester completion errors", counter=True),
        _spec("link.util", "%", "utilisation, busier direction"),
        _spec("link.util_ab", "%", "utilisation, a→b"),
        _spec("link.util_ba", "%", "utilisation, b→a"),
        _spec("link.score", "", "congestion score, 0 (fine) to 1 (saturated and back-pressured)"),
        _spec("job.throughput", "samples/s", "throughput the job reports", timed=True),
        _spec("job.gpu_util", "%", "mean SM utilisation over the job's GPUs", timed=True),
        # Inference servers (vLLM's /metrics, through the prometheus plugin).
        _spec("job.requests_running", "requests", "requests being served"),
        _spec("job.requests_waiting", "requests", "requests queued"),
        _spec("job.kv_cache_usage", "%", "KV-cache blocks in use"),
        _spec("job.prompt_tokens", "tokens", "prompt (prefill) tokens processed", counter=True),
        _spec("job.generation_tokens", "tokens", "tokens generated", counter=True),
        _spec("job.ttft", "s", "mean time to first token since the last poll"),
    )
}
"""The metric vocabulary: one name and unit per quantity (plugins add theirs)."""

LABELS: dict[str, str] = {
    "gpu.util": "SM utilisation",
    "gpu.mem_util": "memory utilisation",
    "gpu.mem_used": "memory used",
    "gpu.mem_total": "memory total",
    "gpu.temp": "temperature",
    "gpu.power": "power",
    "gpu.power_limit": "power limit",
    "gpu.energy": "energy",
    "gpu.sm_clock": "SM clock",
    "gpu.mem_clock": "memory clock",
    "gpu.fan": "fan",
    "gpu.energy_total": "energy (session)",
    "gpu.energy_today": "energy today",
    "gpu.pcie_tx": "PCIe transmit",
    "gpu.pcie_rx": "PCIe receive",
    "gpu.ecc_corrected_volatile": "ECC corrected",
    "gpu.ecc_uncorrected_volatile": "ECC uncorrected",
    "gpu.ecc_corrected_aggregate": "ECC corrected, lifetime",
    "gpu.ecc_uncorrected_aggregate": "ECC uncorrected, lifetime",
    "gpu.retired_pages_sbe": "retired pages (SBE)",
    "gpu.retired_pages_dbe": "retired pages (DBE)",
    "gpu.remapped_correctable": "remapped rows",
    "gpu.remapped_uncorrectable": "remapped rows, uncorr.",
    "gpu.nvlink_errors": "NVLink errors",
    "gpu.xid": "last XID",
    "node.cpu_util": "CPU utilisation",
    "node.mem_used": "memory used",
    "node.mem_total": "memory total",
    "node.load1": "load (1 min)",
    "node.temp_max": "hottest sensor",
    "node.cpu_energy": "CPU energy",
    "node.dram_energy": "DRAM energy",
    "port.tx_bytes": "transmitted",
    "port.rx_bytes": "received",
    "port.xmit_wait": "back-pressure (xmit_wait)",
    "port.pfc_pause_rx": "PFC pauses received",
    "port.ecn_marked": "ECN-marked",
    "port.cnp_sent": "CNPs sent",
    "port.symbol_errors": "symbol errors",
    "port.discards": "transmit discards",
    "port.tx_packets": "packets sent",
    "port.rx_packets": "packets received",
    "port.rx_errors": "receive errors",
    "port.tx_errors": "transmit errors",
    "port.rx_drops": "receive drops",
    "port.tx_drops": "transmit drops",
    "port.link_downed": "link down events",
    "port.rx_discards": "receive discards",
    "port.link_error_recovery": "link recoveries",
    "port.carrier_changes": "carrier changes",
    "port.cnp_handled": "CNPs handled",
    "port.rx_remote_physical_errors": "bad packets from upstream",
    "port.link_integrity_errors": "integrity errors",
    "port.buffer_overrun": "buffer overruns",
    "port.out_of_sequence": "out of sequence",
    "port.packet_seq_err": "sequence errors (NAKs)",
    "port.local_ack_timeout": "ACK timeouts",
    "port.rnr_nak_retry": "RNR NAK retries",
    "port.retransmits": "retransmissions",
    "port.req_cqe_errors": "completion errors",
    "link.util": "utilisation",
    "link.util_ab": "utilisation a→b",
    "link.util_ba": "utilisation b→a",
    "link.score": "congestion score",
    "job.throughput": "throughput",
    "job.gpu_util": "GPU utilisation",
    "job.requests_running": "requests running",
    "job.requests_waiting": "requests queued",
    "job.kv_cache_usage": "KV cache in use",
    "job.prompt_tokens": "prompt tokens",
    "job.generation_tokens": "tokens generated",
    "job.ttft": "time to first token",
}
"""What the screens call each quantity of the console's own (a plugin sets ``label``)."""
METRICS.update(
    {name: replace(spec, label=LABELS[name]) for name, spec in METRICS.items() if name in LABELS}
)


def metric_label(metric: str) -> str:
    """The words for a metric on screen: its label, else its name."""
    spec = METRICS.get(metric)
    return spec.label if spec is not None and spec.label else metric


PROMETHEUS_UNITS: dict[str, tuple[str, float]] = {
    # vocabulary unit → (Prometheus unit suffix, factor to the base unit)
    "%": ("percent", 1.0),
    "W": ("watts", 1.0),
    "J": ("joules", 1.0),
    "°C": ("celsius", 1.0),
    "MHz": ("hertz", 1e6),
    "MiB": ("bytes", 1024.0 * 1024.0),
    "B": ("bytes", 1.0),
    "B/s": ("bytes_per_second", 1.0),
}


def prometheus_name(metric: str) -> tuple[str, float]:
    """``gpu.mem_used`` → (``watchfloor_gpu_mem_used_bytes``, 1048576): the name the agent
    exposes a metric under (before ``_total`` on counters), and the factor to base units."""
    spec = METRICS.get(metric)
    base = "watchfloor_" + "".join(c if c.isalnum() else "_" for c in metric)
    suffix, factor = PROMETHEUS_UNITS.get(spec.unit if spec else "", ("", 1.0))
    if suffix and not base.endswith(suffix):
        base = f"{base}_{suffix}"
    return base, factor


COUNTER_METRICS: set[str] = {name for name, spec in METRICS.items() if spec.counter}
"""Counter metrics, kept as a set: the store checks every sample against it."""
TIMED_METRICS: set[str] = {name for name, spec in METRICS.items() if spec.timed}
"""Metrics whose history keeps each point's time."""


def declare_metrics(specs: Iterable[MetricSpec], owner: str) -> None:
    """Add a plugin's metrics to the vocabulary (called when a Plugin is made).

    Declaring a name again with the same spec is fine; with another unit or
    nature it is a ValueError naming both.
    """
    for spec in specs:
        if not isinstance(spec, MetricSpec):
            raise ValueError(f"metrics must be MetricSpec objects, not {type(spec).__name__}")
        if not METRIC_PATTERN.fullmatch(spec.name):
            raise ValueError(f"metric {spec.name!r} must be named <kind>.<quantity> (pdu.power)")
        known = METRICS.get(spec.name)
        if known is not None and (known.unit, known.counter) != (spec.unit, spec.counter):
            raise ValueError(
                f"metric {spec.name!r} is already declared with unit {known.unit!r}"
                f"{' (counter)' if known.counter else ''}"
            )
        METRICS[spec.name] = spec
        if spec.counter:
            COUNTER_METRICS.add(spec.name)
        if spec.timed:
            TIMED_METRICS.add(spec.name)


@dataclass(slots=True)
class Sample:
    """One reading of one metric of one entity."""

    ref: str
    metric: str
    value: float | None
    """``None`` means *not available* on this device: never 0, never an exception."""
    time: float | None = None
    """Seconds since the epoch when the reading was taken; the batch time if ``None``."""


@dataclass(slots=True)
class Column:
    """Readings of one metric for many entities: the same data as one :class:`Sample`
    each, without an object per reading (a fleet's sources send hundreds of
    thousands a poll, and the checks and the store then decide per metric, once)."""

    metric: str
    refs: list[str]
    """The entities, one per reading (a ref may repeat: its points in time order)."""
    values: list[float | None]
    """One per ref; ``None`` means *not available*, as in :attr:`Sample.value`."""
    times: list[float | None] | None = None
    """One per ref when readings have their own times (``None`` there, or no list at
    all: the batch time), as in :attr:`Sample.time`."""

    def __len__(self) -> int:
        return len(self.refs)


_REFS = attrgetter("refs")


@dataclass(slots=True)
class Batch:
    """What one poll of a source returns."""

    entities: list[Entity] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    time: float | None = None
    """When the readings were taken (a simulator sets its own clock); now if ``None``."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Source-specific facts for headless output (the simulator's injected faults)."""
    removed: list[str] = field(default_factory=list)
    """Refs that are gone: only a source that mirrors another store (``Source.mirror``)
    says so; the others' entities expire when they stop being reported."""
    columns: list[Column] = field(default_factory=list)
    """Readings by metric, the same as samples but cheaper at fleet size; the store
    applies ``samples`` first, then the columns in order (last field: a plugin that
    passes the others by position keeps working)."""

    def reading_count(self) -> int:
        """How many readings the batch carries (samples and columns together)."""
        # The refs' lengths, not len(column): a Python __len__ a column, 34 a poll.
        return len(self.samples) + sum(map(len, map(_REFS, self.columns)))

    def as_samples(self) -> list[Sample]:
        """Every reading as a :class:`Sample`, samples then columns (the order the store
        applies them): an object each, for tests and small batches."""
        return self.samples + [
            Sample(ref, column.metric, value, time)
            for column in self.columns
            for ref, value, time in zip(
                column.refs, column.values, column.times or [None] * len(column), strict=True
            )
        ]


SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
"""Finding severities, least to most severe."""


@dataclass(slots=True)
class Finding:
    """Something analysis noticed, pointing at an entity."""

    ref: str
    """The entity the finding is about."""
    kind: str
    """Short machine name: ``link-congested``, ``job-stalled``, ``gpu-hot``."""
    severity: str
    title: str
    """One line for lists."""
    since: float | None = None
    """When the condition started (seconds since the epoch), where known."""
    evidence: list[str] = field(default_factory=list)
    """Plain-text lines that justify the finding."""
    related: list[str] = field(default_factory=list)
    """Refs of other entities involved (the jobs on a hot link)."""

    def to_json(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)
