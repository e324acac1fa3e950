"""No garbage-collection pause while someone types.

The UI mirrors a large fleet: at 1,000 nodes the store holds about a million
objects, and each full pass of Python's cyclic collector walks them all (0.3 to
0.7 s on a shared 2-core machine, measured with bench/keys.py). The automatic
passes came every few seconds, so a key often waited for one. Here the automatic
full pass is off; young generations are still collected as usual (cheap), and a
full pass runs at a quiet moment every few minutes, so memory still comes back.

While a key is answered (from the press until its pane is drawn) no collection runs
at all: a young generation's pass costs 5 to 50 ms when a merge has just left tens of
thousands of new objects (timed in the UI process at 1,000 nodes), and one landing
in a key's tenth of a second was the most of its outliers. The pass runs right after
the frame, when the garbage of the key is collected with the rest.

While started, the GIL also changes hands after 1 ms instead of Python's 5: the
terminal's input thread takes it back after each of its system calls (select, read, the
wait for the rest of an escape sequence) while the UI's thread merges, and each wait
was up to a switch interval (``bench/gil_handoff.py``: a reader of a pipe beside a busy
thread took 10-12 ms at the 95th percentile and up to 28 ms; at 1 ms, 0.1-1.1 and 5).
"""

from __future__ import annotations

import gc
import sys
import time

from console.collector.gate import INPUT_GATE

FULL_EVERY = 300.0
"""Seconds between full collections."""
QUIET_FOR = 2.0
"""A full collection waits until no key has been pressed for this long."""
NEVER = 1_000_000_000
"""A gen-2 threshold no run reaches."""
SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the GIL while another waits for it (Python's default: 0.005)."""


class QuietCollector:
    """While started, automatic full collections are off; :meth:`tick` runs them when
    input is quiet."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._saved: tuple[int, int, int] | None = None
        self._saved_switch = sys.getswitchinterval()
        self._held = False
        """Whether :meth:`hold` turned the collector off (and :meth:`release` turns it on)."""
        self.full_passes = 0
        """Full collections run so far."""

    def start(self) -> None:
        """Turn the automatic full pass off (for this process, until :meth:`stop`)."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            gc.set_threshold(self._saved[0], self._saved[1], NEVER)
            self._saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL, self._saved_switch))

    def hold(self) -> None:
        """A key is being answered: no collection until :meth:`release` (started only;
        a collector someone else turned off is left to them)."""
        if self._saved is not None and not self._held and gc.isenabled():
            gc.disable()
            self._held = True

    def release(self) -> None:
        """The key's answer is drawn: collections run again (a due one at once)."""
        if self._held:
            gc.enable()
            self._held = False

    def stop(self) -> None:
        """Put the thresholds back as they were."""
        self.release()
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            sys.setswitchinterval(self._saved_switch)
            self._saved = None

    def tick(self) -> None:
        """Call often (each redraw tick): runs a due full collection if input is quiet."""
        now = time.monotonic()
        if self._saved is None:
            return
        if now - self._last >= FULL_EVERY and INPUT_GATE.quiet_for(QUIET_FOR):
            gc.collect()
            self._last = time.monotonic()
            self.full_passes += 1
