"""``watchfloor demo`` as a real process on a pseudo-terminal: it draws (what its collector
process collects), then quits on q, and the collector with it."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import psutil

from tests.integration.pty_quit import wait_reading


def test_demo_draws_the_overview_and_quits_on_q() -> None:
    main, secondary = pty.openpty()
    env = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent", "TERM": "xterm-256color",
           "COLUMNS": "100", "LINES": "30"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "demo"],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"node01" not in seen or b"STALLED" not in seen:
            assert time.monotonic() < deadline, seen[-2000:]
            ready, _, _ = select.select([main], [], [], deadline - time.monotonic())
            if ready:
                seen += os.read(main, 65536)
        collectors = psutil.Process(process.pid).children()
        assert [" ".join(c.cmdline()[2:4]) for c in collectors] == ["console.cli collector"]
        os.write(main, b"q")
        seen += wait_reading(process, main)
        assert process.returncode == 0
        _gone, alive = psutil.wait_procs(collectors, timeout=30)
        assert not alive  # the collector stops with the console that started it
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        os.close(main)
    assert b"Traceback" not in seen
