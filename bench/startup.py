"""Time from starting ``watchfloor demo`` to its first full frame (target < 1.0 s).

The first frame is the overview with the heat grid and the stalled job drawn.
Run: ``.venv/bin/python bench/startup.py [--runs N]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from terminal import PtyProgram


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", default="120x40")
    args = parser.parse_args()
    columns, lines = map(int, args.size.split("x"))
    watchfloor = shutil.which("watchfloor") or str(Path(sys.executable).parent / "watchfloor")
    times = []
    for _ in range(args.runs):
        program = PtyProgram([watchfloor, "demo"], columns, lines)
        try:
            times.append(program.wait_for(b"node01", b"STALLED", b"Sources"))
            program.send(b"q")
            program.process.wait(timeout=30)
        finally:
            program.stop()
    print(f"watchfloor demo, start to first frame at {args.size} over {args.runs} runs:")
    print(f"  median {statistics.median(times):.3f} s   min {min(times):.3f} s   "
          f"max {max(times):.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
