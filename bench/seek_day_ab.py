"""Seeks to random seconds of two 24 h recordings, each tree's own, taking turns.

``bench/recording.py --day --keep DIR`` run from each tree makes that tree's simulated
24 h recording (``DIR/day``) in its own format; here each tree's whole package seeks in
its own recording, in a process of its own (``bench/seek_ab.py``'s worker: prepared, as
a live console's rewind is), the two answering the same second one after the other. On
a 2-core machine others use, two benchmark runs minutes apart differ by more than a
change does; turn by turn, both meet the same load. The seconds are those the day
recordings hold real frames for (``bench/recording.py``'s windows: the same seed), each
0 to 9 frames after its keyframe. Printed: CPU per seek, mean, p50, p95 and most.

Run: ``.venv/bin/python bench/seek_day_ab.py TREE_A DAY_A TREE_B DAY_B [--seeks 200]``
``--then-read``: after each seek, the CPU of what panes read first from its store (each
kind in order, every GPU's attrs) too, and of the two together: what a rewind key costs
before its pane draws, the seek in a thread and the reads on the UI's loop.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).resolve().parent / "seek_ab.py"
EVERY = 10  # bench/recording.py's keyframe interval
WINDOWS = 20  # bench/recording.py's default --seeks: the windows of real frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("tree_a", "day_a", "tree_b", "day_b"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--seeks", type=int, default=200)
    parser.add_argument("--then-read", action="store_true")
    args = parser.parse_args()
    with sqlite3.connect(args.day_a / "frames.sqlite") as db:
        first = db.execute("SELECT min(time) FROM frames").fetchone()[0]
    starts = sorted(random.Random(18).sample(range(1, 86_400 // EVERY - 1), WINDOWS))
    rng = random.Random(11)
    plan = [first + EVERY * rng.choice(starts) + rng.randrange(EVERY) for _ in range(args.seeks)]
    sides = {"A": (args.tree_a, args.day_a), "B": (args.tree_b, args.day_b)}
    workers = {
        name: subprocess.Popen(
            [sys.executable, str(WORKER), "--worker", str(tree.resolve()), str(day)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for name, (tree, day) in sides.items()
    }  # fmt: skip
    for process in workers.values():
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise SystemExit("a worker did not start")
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    reads: dict[str, list[float]] = {name: [] for name in sides}
    command = "read" if args.then_read else "seek"
    for number, when in enumerate(plan):
        for name in list(sides) if number % 2 else list(sides)[::-1]:
            process = workers[name]
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f"{command} {when}\n")
            process.stdin.flush()
            answer = [float(part) for part in process.stdout.readline().split()]
            cpu[name].append(answer[0])
            reads[name].extend(answer[1:])
    for process in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    for name, (tree, _day) in sides.items():
        print(f"{name} {tree}: {len(cpu[name])} seeks, CPU {_figures(cpu[name])}")
        if reads[name]:
            both = list(map(sum, zip(cpu[name], reads[name], strict=True)))
            print(f"  then the panes' first reads: {_figures(reads[name])}; "
                  f"seek and reads: {_figures(both)}")  # fmt: skip


def _figures(seconds: list[float]) -> str:
    spent = sorted(seconds)
    p95 = spent[max(0, round(0.95 * len(spent)) - 1)]
    mean, p50 = statistics.mean(spent) * 1000, statistics.median(spent) * 1000
    return f"mean {mean:.0f} ms, p50 {p50:.0f}, p95 {p95 * 1000:.0f}, most {spent[-1] * 1000:.0f}"


if __name__ == "__main__":
    main()
