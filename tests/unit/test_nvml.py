"""The NVML source against recorded device behaviour (no GPU on this machine)."""

from __future__ import annotations

import threading

import pytest

from console.api import SourceDisabled, clock_event_words, xid_meaning
from console.core.engine import Engine
from console.core.store import Store
from tests.fakes.fake_nvml import NOT_SUPPORTED, FakeGpu, FakeNvml
from watchfloor_gpu.nvml import NvmlReader, NvmlSource


def _reader(*gpus: FakeGpu, **kw: object) -> tuple[NvmlReader, FakeNvml]:
    fake = FakeNvml(list(gpus), **kw)  # type: ignore[arg-type]
    reader = NvmlReader(fake, "gpu01")  # type: ignore[arg-type]
    fake.nvmlInit()
    return reader, fake


def _values(batch, ref: str) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    return {s.metric: s.value for s in batch.samples if s.ref == ref}


def _attrs(batch, ref: str) -> dict:  # type: ignore[no-untyped-def]
    return next(e.attrs for e in batch.entities if e.ref == ref)


def test_h100_under_load_reads_as_recorded() -> None:
    reader, _ = _reader(FakeGpu())
    batch = reader.collect()
    values = _values(batch, "gpu/gpu01/0")
    assert values["gpu.util"] == 100.0 and values["gpu.mem_util"] == 11.0
    assert (values["gpu.mem_used"], values["gpu.mem_total"]) == (19818.0, 81559.0)
    assert values["gpu.temp"] == 59.0
    assert values["gpu.power"] == pytest.approx(588.39)
    assert values["gpu.power_limit"] == 700.0
    assert values["gpu.energy"] == 4_512_000.0
    assert (values["gpu.sm_clock"], values["gpu.mem_clock"]) == (1980.0, 2619.0)
    assert values["gpu.pcie_tx"] == 3092 * 1024.0
    assert values["gpu.fan"] is None  # "N/A" on an SXM part: not available, not 0
    assert values["gpu.retired_pages_sbe"] is None  # H100 remaps rows instead
    assert values["gpu.remapped_uncorrectable"] == 0.0
    assert values["gpu.ecc_uncorrected_volatile"] == 0.0
    assert values["gpu.nvlink_errors"] is None
    attrs = _attrs(batch, "gpu/gpu01/0")
    assert attrs["model"] == "NVIDIA H100 80GB HBM3"
    assert attrs["pci_bus_id"] == "00000000:00:09.0"
    assert attrs["pstate"] == "P0" and attrs["pcie"] == "Gen5 x16"
    assert attrs["throttle"] == [] and attrs["throttled"] is False
    assert attrs["nvlink"] is None and attrs["mig"] is None
    assert attrs["health"] == "ok"
    assert [(p["pid"], p["gpu_mem_mib"]) for p in attrs["processes"]] == [
        (11327, 2566.0), (11328, 1542.0), (11345, 15690.0)
    ]  # fmt: skip


def test_every_unsupported_field_is_not_available_never_zero() -> None:
    everything_na = FakeGpu(
        temp=NOT_SUPPORTED, power_mw=NOT_SUPPORTED, limit_mw=NOT_SUPPORTED,
        energy_mj=NOT_SUPPORTED, sm_clock=NOT_SUPPORTED, mem_clock=NOT_SUPPORTED,
        clock_reasons=NOT_SUPPORTED, pstate=NOT_SUPPORTED, pcie=(NOT_SUPPORTED, 16),
        pcie_kbs=(NOT_SUPPORTED, NOT_SUPPORTED), ecc=NOT_SUPPORTED,
        remapped_rows=NOT_SUPPORTED, mig=NOT_SUPPORTED, serial=NOT_SUPPORTED,
    )  # fmt: skip
    reader, _ = _reader(everything_na)
    batch = reader.collect()
    values = _values(batch, "gpu/gpu01/0")
    for metric in (
        "gpu.temp",
        "gpu.power",
        "gpu.power_limit",
        "gpu.energy",
        "gpu.sm_clock",
        "gpu.pcie_tx",
        "gpu.ecc_corrected_volatile",
        "gpu.remapped_correctable",
    ):
        assert values[metric] is None, metric  # fmt: skip
    attrs = _attrs(batch, "gpu/gpu01/0")
    assert attrs["throttle"] is None and attrs["pstate"] is None and attrs["pcie"] is None
    assert attrs["serial"] is None and attrs["remap_pending"] is None


def test_throttle_reasons_are_decoded_to_words() -> None:
    reader, _ = _reader(FakeGpu(clock_reasons=0x4 | 0x40, sm_clock=1410))
    attrs = _attrs(reader.collect(), "gpu/gpu01/0")
    assert attrs["throttle"] == ["software power cap", "hardware thermal slowdown"]
    assert attrs["throttled"] is True
    assert clock_event_words(0x1) == ["idle"]
    assert clock_event_words(0x1000) == ["other (0x1000)"]


def test_a_gpu_that_falls_off_the_bus_is_lost_and_the_others_go_on() -> None:
    healthy, failing = FakeGpu(), FakeGpu(uuid="GPU-1")
    reader, _ = _reader(healthy, failing)
    reader.collect()
    failing.lost = True  # NVML_ERROR_GPU_IS_LOST from now on
    batch = reader.collect()
    lost = _attrs(batch, "gpu/gpu01/1")
    assert lost["health"].startswith("lost: ")
    assert lost["uuid"] == "GPU-1"  # identity read before it went is kept
    assert all(v is None for v in _values(batch, "gpu/gpu01/1").values())
    assert _values(batch, "gpu/gpu01/0")["gpu.util"] == 100.0


def test_xid_events_are_recorded_with_time_and_meaning() -> None:
    reader, fake = _reader(FakeGpu(), FakeGpu(), events_end=True)
    fake.raise_xid(1, 79)
    reader._watch_xids("event-set")  # returns once the queued event is delivered
    batch = reader.collect()
    assert _values(batch, "gpu/gpu01/1")["gpu.xid"] == 79.0
    attrs = _attrs(batch, "gpu/gpu01/1")
    assert attrs["last_xid"]["meaning"] == "GPU has fallen off the bus"
    assert attrs["health"] == "XID 79: GPU has fallen off the bus"
    assert _values(batch, "gpu/gpu01/0")["gpu.xid"] is None
    assert xid_meaning(1234) == "see NVIDIA's XID catalogue"


def test_process_utilisation_carries_the_last_seen_timestamp() -> None:
    gpu = FakeGpu(process_samples=[(11345, 1_000, 97), (11327, 900, 2)])
    reader, fake = _reader(gpu)
    first = _attrs(reader.collect(), "gpu/gpu01/0")
    shares = {p["pid"]: p["sm_share"] for p in first["processes"]}
    assert shares == {11327: 2.0, 11328: None, 11345: 97.0}
    gpu.processes = [(11345, 15690)]  # the memhogs exited
    second = _attrs(reader.collect(), "gpu/gpu01/0")
    assert fake.process_utilisation_since == [0, 1_000]
    assert [(p["pid"], p["sm_share"]) for p in second["processes"]] == [(11345, 97.0)]


def test_slow_fields_are_cached_between_slow_reads() -> None:
    gpu = FakeGpu(ecc=0)
    reader, _ = _reader(gpu)
    now = [0.0]
    reader.clock = lambda: now[0]
    reader.collect()
    gpu.ecc = 5
    now[0] = 10.0
    assert _values(reader.collect(), "gpu/gpu01/0")["gpu.ecc_corrected_volatile"] == 0.0
    now[0] = 31.0
    assert _values(reader.collect(), "gpu/gpu01/0")["gpu.ecc_corrected_volatile"] == 5.0


async def test_no_library_disables_the_source_with_a_reason() -> None:
    source = NvmlSource(1.0, nvml=FakeNvml([], library_missing=True))  # type: ignore[arg-type]
    engine = Engine(Store(), [source])
    await engine.collect(1)
    status = engine.statuses()[0]
    assert (status.status, status.reason) == (
        "disabled", "no NVML library (libnvidia-ml.so): no NVIDIA driver here"
    )  # fmt: skip
    with pytest.raises(SourceDisabled):
        NvmlSource(1.0, nvml=FakeNvml([], library_missing=True))._collect()  # type: ignore[arg-type]


async def test_a_collection_never_starts_beside_a_hung_one() -> None:
    source = NvmlSource(1.0, nvml=FakeNvml([FakeGpu()]))  # type: ignore[arg-type]
    held = source._busy.acquire()  # a previous collection stuck in the driver
    assert held
    try:
        with pytest.raises(RuntimeError, match="still running"):
            source._collect()
    finally:
        source._busy.release()
    batch = await source.poll()
    assert len([e for e in batch.entities if e.kind == "gpu"]) == 1
    await source.close()


def test_xid_watcher_thread_starts_and_stops() -> None:
    reader, _ = _reader(FakeGpu())
    reader._start_xid_thread()
    assert isinstance(reader._xid_thread, threading.Thread) and reader._xid_thread.is_alive()
    reader.stop()
    assert not reader._xid_thread.is_alive()


def test_a_gpu_process_is_tied_to_its_slurm_job() -> None:
    import os
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE, env={**os.environ, "SLURM_JOB_ID": "4711"},
    )  # fmt: skip
    try:
        reader, _ = _reader(FakeGpu(processes=[(child.pid, 1024), (os.getpid(), 10)]))
        processes = _attrs(reader.collect(), "gpu/gpu01/0")["processes"]
        jobs = {p["pid"]: p["slurm_job"] for p in processes}
        assert jobs[child.pid] == "4711"
        assert jobs[os.getpid()] == os.environ.get("SLURM_JOB_ID")
        assert next(p for p in processes if p["pid"] == child.pid)["user"] != "?"
    finally:
        child.communicate(b"")
