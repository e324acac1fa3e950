"""Model integrity: real files hashed with a budget, changes found within two steps."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path

from watchfloor_security.integrity import IntegritySource, ModelTree

MIB = 1 << 20


def _models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    (root / "llama").mkdir(parents=True)
    (root / "llama" / "model-00001.safetensors").write_bytes(b"\x01" * 4096)
    (root / "llama" / "config.json").write_text('{"layers": 80}')
    (root / "llama" / "README.md").write_text("not watched")
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # coarse clocks


def test_one_changed_byte_is_an_event_naming_the_file_within_two_steps(tmp_path: Path) -> None:
    root = _models(tmp_path)
    weights = root / "llama" / "model-00001.safetensors"
    tree = ModelTree([str(root)])
    tree.step()
    summary, events = tree.report()
    assert (summary["files"], summary["verified"], events) == (2, 2, [])  # README not watched
    before = _sha(weights)
    _flip_one_byte(weights)
    tree.step()
    _, events = tree.report()
    assert len(events) == 1
    event = events[0]
    assert event["change"] == "modified" and event["file"] == str(weights)
    assert (event["old_sha256"], event["new_sha256"]) == (before, _sha(weights))
    assert event["model"] == "llama" and event["severity"] == "critical"


def test_added_and_removed_files_are_events(tmp_path: Path) -> None:
    root = _models(tmp_path)
    tree = ModelTree([str(root)])
    tree.step()
    extra = root / "llama" / "adapter.safetensors"
    extra.write_bytes(b"lora")
    (root / "llama" / "config.json").unlink()
    tree.step()
    _, events = tree.report()
    changes = {(e["change"], Path(e["file"]).name) for e in events}
    assert changes == {("added", "adapter.safetensors"), ("removed", "config.json")}
    added = next(e for e in events if e["change"] == "added")
    assert added["new_sha256"] == _sha(extra) and added["old_sha256"] is None


def test_a_big_file_is_hashed_within_the_budget_and_resumed(tmp_path: Path) -> None:
    root = _models(tmp_path)
    big = root / "llama" / "model-00002.safetensors"
    with open(big, "wb") as handle:
        handle.truncate(40 * MIB)  # sparse: reads as zeros
    tree = ModelTree([str(root)], budget_bytes=16 * MIB)
    steps = 0
    while tree.report()[0].get("pending_bytes", 1):
        tree.step()
        steps += 1
        assert tree.hashed_last_step <= 16 * MIB
        assert steps < 10
    assert steps == 3  # 40 MiB at 16 MiB a step, plus the small files
    assert tree.records[str(big)].sha256 == hashlib.sha256(bytes(40 * MIB)).hexdigest()


def test_a_change_jumps_ahead_of_a_half_hashed_big_file(tmp_path: Path) -> None:
    root = _models(tmp_path)
    weights = root / "llama" / "model-00001.safetensors"
    tree = ModelTree([str(root)], budget_bytes=8 * MIB)
    tree.step()  # the small files: baseline
    big = root / "llama" / "model-00009.safetensors"
    with open(big, "wb") as handle:
        handle.truncate(64 * MIB)
    tree.step()  # starts on the big new file
    _flip_one_byte(weights)
    tree.step()
    _, events = tree.report()
    assert [Path(e["file"]).name for e in events] == ["model-00001.safetensors"]
    assert tree.report()[0]["pending_bytes"] > 0  # the big one is still being read


def test_a_change_that_kept_size_and_mtime_is_caught_on_reverification(tmp_path: Path) -> None:
    root = _models(tmp_path)
    weights = root / "llama" / "model-00001.safetensors"
    now = [1000.0]
    tree = ModelTree([str(root)], reverify_seconds=3600, clock=lambda: now[0])
    tree.step()
    stat = weights.stat()
    data = bytearray(weights.read_bytes())
    data[7] ^= 1
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the tamperer hides it
    tree.step()
    assert tree.report()[1] == []  # not yet due
    now[0] += 3600
    tree.step()
    assert [e["change"] for e in tree.report()[1]] == ["modified"]


def test_the_manifest_finds_changes_made_while_the_watcher_was_down(tmp_path: Path) -> None:
    root = _models(tmp_path)
    manifest = tmp_path / "manifest.json"
    ModelTree([str(root)], manifest=manifest).step()
    assert manifest.exists()
    _flip_one_byte(root / "llama" / "model-00001.safetensors")
    (root / "llama" / "new.bin").write_bytes(b"x")
    tree = ModelTree([str(root)], manifest=manifest)
    tree.step()
    changes = sorted((e["change"], Path(e["file"]).name) for e in tree.report()[1])
    assert changes == [("added", "new.bin"), ("modified", "model-00001.safetensors")]


def test_symlinks_and_special_files_are_not_followed(tmp_path: Path) -> None:
    root = _models(tmp_path)
    (root / "llama" / "zeros.bin").symlink_to("/dev/zero")
    (root / "loop").symlink_to(root)
    tree = ModelTree([str(root)])
    tree.step()
    assert tree.report()[0]["files"] == 2


async def test_a_poll_never_waits_for_hashing(tmp_path: Path) -> None:
    root = _models(tmp_path)
    tree = ModelTree([str(root)])
    release = threading.Event()
    started = threading.Event()
    real_step = tree.step

    def slow_step() -> None:  # stands in for hashing a 20 GB tree
        started.set()
        release.wait(timeout=30)
        real_step()

    tree.step = slow_step  # type: ignore[method-assign]
    source = IntegritySource(tree, interval=1.0, node="n1")
    first = await source.poll()
    await asyncio.to_thread(started.wait, 10)
    second = await source.poll()  # the step is still running: report what is known
    assert first.entities[0].attrs["integrity"]["verified"] == 0
    assert second.entities[0].ref == "node/n1"
    release.set()
    await source.settle()
    third = await source.poll()
    assert third.entities[0].attrs["integrity"]["verified"] == 2
    await source.close()


class _SwapsInAFifo(ModelTree):
    """The walk saw a regular file; a FIFO takes its place before it is opened."""

    def _walk(self) -> tuple[dict[str, tuple[int, int]], int]:
        found, skipped = super()._walk()
        for path in found:
            if path.endswith(".safetensors"):
                os.remove(path)
                os.mkfifo(path)
        return found, skipped


def test_a_fifo_swapped_in_mid_hash_is_refused_not_read_forever(tmp_path: Path) -> None:
    root = _models(tmp_path)
    tree = _SwapsInAFifo([str(root)])
    step = threading.Thread(target=tree.step, daemon=True)
    step.start()
    step.join(timeout=20)
    assert not step.is_alive(), "hashing blocked on a FIFO"
    events = tree.report()[1]
    assert [(e["change"], e["file"].rsplit("/", 1)[-1]) for e in events] == [
        ("unreadable", "model-00001.safetensors")
    ]
    assert events[0]["reason"] == "replaced by a FIFO (not a regular file)"


UNREADABLE_SCRIPT = """
import json, os, sys
from watchfloor_security.integrity import ModelTree
root = sys.argv[1]
os.makedirs(os.path.join(root, "llama"))
weights = os.path.join(root, "llama", "model.safetensors")
with open(weights, "wb") as handle:
    handle.write(b"\\x01" * 4096)
tree = ModelTree([root])
tree.step()
info = os.stat(weights)
with open(weights, "r+b") as handle:
    handle.write(b"tampered")
os.utime(weights, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
os.chmod(weights, 0)
tree.step()
tree.step()
print(json.dumps(tree.report()[1]))
"""


def test_tamper_then_chmod_000_is_a_finding_with_its_reason(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    # As the shipped unit runs it, without any read override: as root (CI), the
    # process gives up the capabilities that let root read a mode-000 file.
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    command = [*(drop if os.geteuid() == 0 else []), sys.executable, "-c", UNREADABLE_SCRIPT]
    done = subprocess.run(
        [*command, str(tmp_path / "models")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    assert [e["change"] for e in events] == ["unreadable"]  # once, not once a step
    assert events[0]["reason"].startswith("permission denied")
    assert events[0]["old_sha256"] == hashlib.sha256(b"\x01" * 4096).hexdigest()


async def test_a_watched_path_that_is_no_directory_is_the_sources_reason(tmp_path: Path) -> None:
    from console.core.engine import Engine
    from console.core.store import Store

    tree = ModelTree([str(tmp_path / "no-such-models")])
    source = IntegritySource(tree, 1.0, node="n1")
    engine = Engine(Store(), [source])
    await engine.collect()  # starts the scan
    await source.settle()
    await engine.collect()  # reports how it went
    status = engine.statuses()[0]
    assert status.status in ("failed", "stale")
    assert f"watched path {tmp_path / 'no-such-models'} is not a directory" in status.reason
