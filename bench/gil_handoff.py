"""How long a thread that reads a pipe waits for the GIL beside a busy thread.

The terminal's input thread is such a reader (select, read, select again for the rest
of an escape sequence), and the UI's thread merging a large fleet is such a busy one:
each system call gives the GIL up, and taking it back waits up to Python's switch
interval. Prints p50, p95 and the worst of 300 messages, from written to read and
parsed, at each interval given (``console.ui.pauses`` sets 1 ms in a live console).

    python bench/gil_handoff.py --intervals 0.005 0.001
"""

from __future__ import annotations

import argparse
import os
import selectors
import sys
import threading
import time


def handoff(interval: float, messages: int = 300) -> list[float]:
    """Milliseconds from each message written (by another process's stand-in: a thread
    that writes between sleeps) to read and parsed, with the main thread busy."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    read_end, write_end = os.pipe()
    took: list[float] = []
    done = threading.Event()

    def reader() -> None:
        selector = selectors.DefaultSelector()
        selector.register(read_end, selectors.EVENT_READ)
        while not done.is_set():
            for _ready in selector.select(0.1):
                sent = float(os.read(read_end, 64).decode())
                selector.select(0.0)  # an escape sequence's rest
                took.append((time.perf_counter() - sent) * 1000)

    def writer() -> None:
        for _ in range(messages):
            time.sleep(0.02)
            os.write(write_end, repr(time.perf_counter()).encode())
        done.set()

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    busy = 0
    while not done.is_set():  # the UI's thread merging: pure Python, holding the GIL
        for step in range(1000):
            busy += step
    for thread in threads:
        thread.join()
    os.close(read_end)
    os.close(write_end)
    sys.setswitchinterval(saved)
    return sorted(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.005, 0.001])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    for interval in args.intervals:
        took = handoff(interval)
        print(f"switch_interval_ms={interval * 1000:g} p50_ms={took[len(took) // 2]:.2f} "
              f"p95_ms={took[int(len(took) * 0.95)]:.2f} max_ms={took[-1]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
