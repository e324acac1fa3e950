"""Bytes per second each pane writes to the terminal at a 1 s refresh.

What a slow SSH link carries: ``watchfloor demo --interval 1`` runs on a real
pseudo-terminal; for each pane the bench presses its key (from the overview),
lets the first full paint pass, then counts the bytes written over a window.
Target: under 5 KB/s on every pane (issue 15).

Run: ``.venv/bin/python bench/pane_bytes.py [--size 120x40] [--seconds 20] [--panes g,f]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from terminal import PtyProgram

PANES = {"overview": b"", "gpus": b"g", "fabric": b"f", "jobs": b"j", "power": b"p",
         "security": b"s"}  # fmt: skip
SETTLE = 3.0
"""Seconds after opening a pane before counting: the first paint is not the steady rate."""


def measure(watchfloor: str, key: bytes, columns: int, lines: int, seconds: float) -> float:
    """Bytes per second one pane writes in its steady state."""
    program = PtyProgram([watchfloor, "demo", "--interval", "1"], columns, lines)
    try:
        program.wait_for(b"node01", b"STALLED")
        if key:
            program.send(key)
        time.sleep(SETTLE)  # the pane's first full paint
        before = program.bytes_written
        time.sleep(seconds)  # the measurement window itself
        return (program.bytes_written - before) / seconds
    finally:
        program.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--panes", default=",".join(PANES))
    args = parser.parse_args()
    columns, lines = map(int, args.size.split("x"))
    binaries = Path(sys.executable).parent
    watchfloor = shutil.which("watchfloor", path=str(binaries)) or "watchfloor"
    print(f"terminal output per pane at {args.size}, 1 s refresh, {args.seconds:.0f} s windows:")
    for name in args.panes.split(","):
        rate = measure(watchfloor, PANES[name], columns, lines, args.seconds)
        mark = "ok" if rate < 5000 else "OVER 5 KB/s"
        print(f"  {name:<10} {rate / 1000:6.2f} KB/s   {mark}", flush=True)


if __name__ == "__main__":
    main()
