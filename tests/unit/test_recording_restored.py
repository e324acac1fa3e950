"""Entities a seek restores: their attrs decoded from the recorded body when first read,
and each reader (equality, ``msgspec``, ``dataclasses``, a pane's edit) meeting what a
decoded :class:`Entity` would give."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import msgspec
import pytest

from console.core.model import Entity
from console.recording import Recording
from console.recording.restored import RestoredEntity, restored_entities
from tests.unit.test_recording import demo_engine, recorded_states

GPU = Entity("gpu/n1/0", "GPU 0", "node/n1", {
    "model": "NVIDIA H100 80GB HBM3", "health": "ok", "throttle": [],
    "processes": [{"pid": 47654, "user": "mlteam", "slurm_job": "4711", "sm_share": 36}],
})  # fmt: skip
NODE = Entity("node/n1", "n1")


def _restored(*entities: Entity) -> list[Entity]:
    return restored_entities([msgspec.msgpack.encode(entity) for entity in entities])


def _undecoded(entity: Entity) -> bool:
    return Entity.__dict__["attrs"].__get__(entity).__class__ is bytes


def test_a_restored_entity_is_what_its_recorded_entity_was_to_every_reader() -> None:
    gpu, node = _restored(GPU, NODE)
    assert isinstance(gpu, RestoredEntity) and _undecoded(gpu)
    assert (gpu.ref, gpu.name, gpu.parent, gpu.kind) == ("gpu/n1/0", "GPU 0", "node/n1", "gpu")
    assert _undecoded(gpu)  # ref, name and parent read without the attrs
    assert gpu == GPU and gpu != NODE and node == NODE
    assert GPU == gpu  # noqa: SIM300 - the Entity's side first: its own __eq__ declines
    assert {"x": gpu} == {"x": GPU}
    for encode in (msgspec.json.encode, msgspec.msgpack.encode):
        assert encode(_restored(GPU)[0]) == encode(GPU)  # (read through, not the bytes)
    assert dataclasses.asdict(_restored(GPU)[0]) == dataclasses.asdict(GPU)
    assert json.loads(msgspec.json.encode(node))["attrs"] == {}


def test_restored_attrs_are_decoded_once_and_kept_as_any_entity_s_are() -> None:
    (gpu,) = _restored(GPU)
    attrs = gpu.attrs
    assert attrs == GPU.attrs and not _undecoded(gpu)
    assert gpu.attrs is attrs  # decoded once
    gpu.attrs["health"] = "degraded"  # an analysis editing in place
    assert gpu.attrs["health"] == "degraded"
    gpu.attrs = {"health": "ok"}
    assert gpu.attrs == {"health": "ok"}
    moved = dataclasses.replace(gpu, parent="node/n2")
    assert moved.attrs == {"health": "ok"} and moved.parent == "node/n2"


def test_attrs_the_seek_could_not_see_were_damaged_say_so_as_plain_text() -> None:
    """The seek's decoder skips the attrs whole: a string that is no UTF-8 passes it,
    and the reader of the attrs meets a plain note, not an exception."""
    body = msgspec.msgpack.encode(GPU).replace(b"mlteam", b"ml\xff\xfeam")
    (gpu,) = restored_entities([body])
    assert gpu.name == "GPU 0"
    assert list(gpu.attrs) == ["damaged"]
    assert gpu.attrs["damaged"].startswith("recorded attrs unreadable: ")


def test_a_seek_decodes_no_attrs_and_each_reads_back_as_live(tmp_path: Path) -> None:
    live = recorded_states(demo_engine(), tmp_path / "rec", 13, keyframe_every=10)
    when = max(live)
    with Recording(tmp_path / "rec") as recording:
        store = recording.at(when).store
        gpus = store.of_kind("gpu")
        assert gpus and all(map(_undecoded, gpus))
        assert {gpu.ref: gpu.attrs for gpu in gpus} == {
            ref: entity.attrs for ref, entity in live[when]["entities"].items()
            if entity.kind == "gpu"
        }  # fmt: skip


def test_attrs_nested_near_the_decoders_depth_read_deep_in_a_pane_say_so() -> None:
    """The decoder's depth counts its caller's stack: attrs the seek's thread skipped
    whole can be too deep for a pane's draw, far down the UI's stack."""
    nested = {"model": "H100", "k": 0}
    for _ in range(950):
        nested["k"] = [nested["k"]]
    (gpu,) = _restored(Entity("gpu/n1/0", "GPU 0", "node/n1", nested))

    def read_at_depth(depth: int) -> dict[str, object]:
        return read_at_depth(depth - 1) if depth else gpu.attrs

    assert list(read_at_depth(300)) == ["damaged"]


def test_a_rewind_reads_in_its_thread_the_attrs_of_the_kinds_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``RewindReader.load(attrs_of=...)``: every entity of those kinds has its attrs
    decoded before the moment is handed over, the others are left as recorded."""
    from console.ui import rewind

    live = recorded_states(demo_engine(), tmp_path / "rec", 13, keyframe_every=10)
    monkeypatch.setattr(rewind, "WARM_ENTITIES", 0)  # one seek: every entity restored
    reader = rewind.RewindReader(tmp_path / "rec")
    store = reader.load(max(live), attrs_of=("gpu",)).store
    assert store.of_kind("gpu") and not any(map(_undecoded, store.of_kind("gpu")))
    assert all(map(_undecoded, store.of_kind("node")))
    reader.close()
