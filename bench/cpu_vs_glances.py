"""CPU used by ``watchfloor demo`` against ``glances``, side by side in the same minute.

Both run at a 1 s refresh on terminals of the same size for the same wall time;
CPU is user+system time of each process tree, read with psutil.
Target: watchfloor uses at most half of glances' CPU.

Run: ``.venv/bin/pip install glances && .venv/bin/python bench/cpu_vs_glances.py``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from terminal import PtyProgram


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children."""
    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="120x40")
    args = parser.parse_args()
    columns, lines = map(int, args.size.split("x"))
    binaries = Path(sys.executable).parent
    watchfloor = shutil.which("watchfloor") or str(binaries / "watchfloor")
    glances = shutil.which("glances") or str(binaries / "glances")
    if not Path(glances).exists():
        sys.exit("glances is not installed: pip install glances")
    programs = {
        "watchfloor demo": PtyProgram([watchfloor, "demo", "--interval", "1"], columns, lines),
        "glances -t 1": PtyProgram([glances, "-t", "1"], columns, lines),
    }
    try:
        programs["watchfloor demo"].wait_for(b"node01", b"STALLED")
        programs["glances -t 1"].wait_for(b"CPU", b"MEM")
        start = {name: cpu_seconds(p.process.pid) for name, p in programs.items()}
        sent = {name: p.bytes_written for name, p in programs.items()}
        time.sleep(args.seconds)  # the measurement window itself
        used = {name: cpu_seconds(p.process.pid) - start[name] for name, p in programs.items()}
        out = {name: p.bytes_written - sent[name] for name, p in programs.items()}
    finally:
        for program in programs.values():
            program.stop()
    print(f"{args.seconds:.0f} s side by side at {args.size}, 1 s refresh:")
    for name in programs:
        share = used[name] / args.seconds * 100
        print(f"  {name:<16} CPU {used[name]:6.2f} s ({share:5.1f}% of a core)   "
              f"output {out[name] / args.seconds / 1024:6.1f} KiB/s")  # fmt: skip
    ratio = used["watchfloor demo"] / max(used["glances -t 1"], 1e-9)
    print(f"  watchfloor / glances CPU ratio: {ratio:.2f} (target <= 0.50)")


if __name__ == "__main__":
    main()
