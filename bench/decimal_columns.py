"""A column of short decimals written by the recorder, against the same column as floats.

``codec.pack_decimals`` writes a gauge sent with one or two decimals as integers (a
keyframe's, then a later frame's as their difference from the keyframe's);
``codec.pack_floats`` writes the same values as float64 XORed against the keyframe's,
the peer every column is compared with. Timed in turn in one process (best of
``--repeat``), as a ratio to the floats; then the reader's side, integers back to
floats.

Run: ``.venv/bin/python bench/decimal_columns.py [--values 200000] [--repeat 9]``
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.recording.codec import (
    decimal_floats,
    float_bytes,
    pack_decimals,
    pack_floats,
    unpack_decimals,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(7)
    keyframe = [round(rng.uniform(60, 700), 1) for _ in range(args.values)]
    later = [round(value + rng.uniform(-5, 5), 1) for value in keyframe]
    key_raw, later_raw = float_bytes(keyframe), float_bytes(later)
    first = pack_decimals(keyframe, 1, key_raw)
    then = pack_decimals(later, 1, later_raw, first[1]) if first else None
    assert first is not None and then is not None
    ints = unpack_decimals(first[0])
    steps: dict[str, Callable[[], object]] = {
        "floats, a later frame's (the peer)": lambda: pack_floats(later_raw, key_raw),
        "decimals, a keyframe's": lambda: pack_decimals(keyframe, 1, key_raw),
        "decimals, a later frame's": lambda: pack_decimals(later, 1, later_raw, first[1]),
        "read: a keyframe's decimals": lambda: decimal_floats(unpack_decimals(first[0]), 1),
        "read: a later frame's decimals": lambda: decimal_floats(unpack_decimals(then[0], ints), 1),
    }
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(args.repeat):  # in turn: a busy moment slows all of them alike
        for name, step in steps.items():
            began = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - began)
    peer = best["floats, a later frame's (the peer)"]
    print(f"{args.values:,} values, best of {args.repeat}")
    for name, seconds in best.items():
        print(f"  {name}: {seconds * 1000:.1f} ms ({seconds / peer:.1f}x the floats)")


if __name__ == "__main__":
    main()
