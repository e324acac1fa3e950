"""Seeks in a recording: this tree's reader against another's, in one process, in turn.

On a 2-core machine others use, two benchmark runs minutes apart differ by more than
a change to the reader does; here both readers seek to the same seconds one after the
other, in the same minute. The recording is ``bench/recording.py``'s (``--cycles``
real cycles at ``--nodes``, a keyframe every 10 s); its real frames, not copies, so
what one seek can reuse from the last (entities no frame changed) is what a rewind
meets. Printed, CPU per seek for each reader: random seconds (each after the last,
as a rewind jumping), one interval stepped second by second, and the first seek of a
fresh open (``explain --at``; the process's schema caches cleared before each).

Run: ``.venv/bin/python bench/seek_ab.py --baseline OTHER_TREE [--nodes 1000]``
(OTHER_TREE: a checkout whose ``console/recording/reader.py`` is the one to compare;
the rest of the package is this tree's). ``--whole``: each tree's whole package (its
store too), each in a process of its own, the two taking turns seek by seek (random
seconds after ``Recording.prepare``, then fresh opens: the first seek).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

PANE_KINDS = ("node", "gpu", "port", "link", "switch", "job")


def worker(path: Path) -> None:
    """Seeks as the parent asks (``seek TIME``, ``first TIME`` or ``read TIME``, a line
    each), the CPU of each answered (this process's package: its tree's, ``--worker
    TREE``); ``read``: then also the CPU of what the panes read first from the moment's
    store, each kind in order (``of_kind``) and every GPU's attrs (the GPU, power and
    security panes read them all)."""
    from console.recording import reader

    assert Path(reader.__file__).is_relative_to(sys.argv[2]), reader.__file__
    recording = reader.Recording(path)
    recording.prepare()
    held: Any = None
    print("ready", flush=True)
    for line in sys.stdin:
        kind, when = line.split()
        if kind in ("seek", "read"):
            began = time.process_time()
            held = recording.at(float(when))  # the last one freed as a rewind frees it
            if kind == "read":
                seek, began = time.process_time() - began, time.process_time()
                for entity_kind in PANE_KINDS:
                    held.store.of_kind(entity_kind)
                for gpu in held.store.of_kind("gpu"):
                    gpu.attrs.get("health")
                print(f"{seek:.6f} {time.process_time() - began:.6f}", flush=True)
                continue
        else:
            held = None
            gc.collect()
            for name in ("_marks_kept", "_pairs_kept", "_refs_kept"):  # a fresh process's
                getattr(reader, name).clear()
            with reader.Recording(path) as fresh:
                began = time.process_time()
                held = fresh.at(float(when))
        print(f"{time.process_time() - began:.6f}", flush=True)
    del held


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:  # a tree's own package alone
    sys.path.insert(0, sys.argv[2])
    worker(Path(sys.argv[3]))
    sys.exit()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import recording as recording_bench  # noqa: E402

from console.core.garbage import young_collections_rarer  # noqa: E402
from console.recording import reader as this_reader  # noqa: E402


def load_reader(tree: Path) -> ModuleType:
    """The other tree's reader module, beside this one."""
    spec = importlib.util.spec_from_file_location(
        "baseline_reader", tree / "console" / "recording" / "reader.py"
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"{tree}: no console/recording/reader.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_reader"] = module
    spec.loader.exec_module(module)
    return module


def summary(cpu: list[float]) -> str:
    cpu = sorted(cpu)
    p95 = cpu[max(0, round(0.95 * len(cpu)) - 1)]
    return f"p50 {statistics.median(cpu) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"


def compare(path: Path, readers: dict[str, ModuleType], seeks: int) -> None:
    with this_reader.Recording(path) as recording:
        times = recording.times()
        keyframes = [when for when in times if recording.keyframe_at(when) == when]
    rng = random.Random(18)
    randoms = [rng.choice(times) for _ in range(seeks)]
    stepped = [when for when in times if keyframes[-2] <= when < keyframes[-1]]
    results: dict[str, dict[str, list[float]]] = {name: {} for name in readers}
    open_ = {name: module.Recording(path) for name, module in readers.items()}
    for recording in open_.values():
        recording.prepare()
    held: dict[str, Any] = {}
    for part, seconds in (("random seconds", randoms), ("stepping", stepped)):
        for number, when in enumerate(seconds):
            names = list(readers) if number % 2 else list(readers)[::-1]
            for name in names:
                began = time.process_time()
                held[name] = open_[name].at(when)  # the last one freed as a rewind frees it
                results[name].setdefault(part, []).append(time.process_time() - began)
    for recording in open_.values():
        recording.close()
    held.clear()
    for number, when in enumerate(randoms[:8]):
        names = list(readers) if number % 2 else list(readers)[::-1]
        for name in names:
            for module in readers.values():  # a fresh process's schema caches
                module._marks_kept.clear()
                module._pairs_kept.clear()
                module._refs_kept.clear()
            with readers[name].Recording(path) as recording:
                began = time.process_time()
                moment = recording.at(when)
                results[name].setdefault("first seek", []).append(time.process_time() - began)
                del moment
    for part in ("random seconds", "stepping", "first seek"):
        line = "; ".join(f"{name} {summary(results[name][part])}" for name in readers)
        print(f"{part} ({len(results['this'][part])} seeks), CPU: {line}")


def compare_whole(path: Path, trees: dict[str, Path], seeks: int) -> None:
    """Each tree's whole package in a process of its own, taking turns."""
    with this_reader.Recording(path) as recording:
        times = recording.times()
    rng = random.Random(18)
    plan = [("seek", rng.choice(times)) for _ in range(seeks)]
    plan += [("first", rng.choice(times)) for _ in range(8)]
    workers = {
        name: subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tree), str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for name, tree in trees.items()
    }  # fmt: skip
    for process in workers.values():
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise SystemExit("a worker did not start")
    results: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for number, (kind, when) in enumerate(plan):
        for name in list(trees) if number % 2 else list(trees)[::-1]:
            process = workers[name]
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f"{kind} {when}\n")
            process.stdin.flush()
            results[name].setdefault(kind, []).append(float(process.stdout.readline()))
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    for kind, part in (("seek", "random seconds"), ("first", "first seek")):
        line = "; ".join(f"{name} {summary(results[name][kind])}" for name in trees)
        print(f"{part} ({len(results['this'][kind])} seeks, whole trees), CPU: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other tree")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--seeks", type=int, default=30, help="random seconds")
    parser.add_argument("--whole", action="store_true", help="whole trees, a process each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, young_collections_rarer():
        recording_bench.run(args.nodes, args.cycles, Path(workdir), False, 0, True)
        if args.whole:
            here = Path(__file__).resolve().parent.parent
            trees = {"baseline": args.baseline.resolve(), "this": here}
            compare_whole(Path(workdir) / "recording", trees, args.seeks)
        else:
            readers = {"baseline": load_reader(args.baseline), "this": this_reader}
            compare(Path(workdir) / "recording", readers, args.seeks)


if __name__ == "__main__":
    main()
