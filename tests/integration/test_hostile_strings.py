"""Hostile strings from a real (lying) agent and a jobs file, through the real console.

The console runs as a process on a pseudo-terminal, so the test reads the very
bytes a terminal would get: no escape sequence from a remote string is among
them, and the markup shows literally. ``snapshot --format text`` is checked the
same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import yaml
from aiohttp import web

from console.agent.wire import encode
from console.core.model import Entity
from tests.hostile import CORPUS, FORBIDDEN, SHOWN
from tests.integration.agents import raw_app, serving

# A hostname cannot hold '/', but it can hold everything else.
HOSTNAME = "\x1b[31;1mANSIRED\x1b]52;c;SE9TVElMRQ==\x07CLIPBOARD\u202e[b]HOST"


def _document() -> dict[str, object]:
    node = f"node/{HOSTNAME}"
    processes = [{"pid": 100 + i, "user": "[b]mallory", "command": text}
                 for i, text in enumerate(CORPUS)]  # fmt: skip
    entities = [
        Entity(node, HOSTNAME, attrs={"listening": [{"addr": "0.0.0.0", "port": 8888,
                                                     "process": CORPUS[3]}]}),
        Entity(f"gpu/{HOSTNAME}/0", "GPU 0", node, attrs={"processes": processes}),
    ]  # fmt: skip
    return encode(HOSTNAME, None, entities, [(f"gpu/{HOSTNAME}/0", "gpu.util", 50.0)], [])


def _config(tmp_path: Path, url: str) -> Path:
    jobs = [{"id": str(60 + i), "name": text, "user": text, "nodes": ["n1"]}
            for i, text in enumerate(CORPUS)]  # fmt: skip
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(jobs))
    config = {
        # The hostile document as a snapshot (raw_app serves no stream; the stream's
        # frames go through the same checks: test_agent_stream.py).
        "sources": [
            {"type": "agent", "url": url, "stream": False},
            {"type": "jobs-file", "path": "jobs.yaml"},
        ]
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run_tui(config: Path, keys: bytes, until: bytes) -> bytes:
    """Start the console on a pty, wait for ``until`` after each key, return all output."""
    main, secondary = pty.openpty()
    os.set_blocking(main, False)
    env = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent", "TERM": "xterm-256color",
           "COLUMNS": "200", "LINES": "60"}  # fmt: skip
    import fcntl
    import struct
    import termios

    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--config", str(config)],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True,
    )  # fmt: skip
    os.close(secondary)
    output = bytearray()

    def read_until(needle: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        start = len(output)
        while needle not in output[start:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never appeared")
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    output.extend(os.read(main, 65536))
                except OSError:
                    break

    try:
        read_until(b"ANSIRED")  # the hostile node and its findings are drawn
        for key in keys:
            os.write(main, bytes([key]))
            read_until(until)
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.close(main)
    return bytes(output)


async def test_hostile_strings_never_reach_the_terminal_as_escapes(tmp_path: Path) -> None:
    document = _document()

    async def snapshot(request: web.Request) -> web.Response:
        return web.json_response(document)

    async with serving(raw_app(snapshot)) as url:
        config = _config(tmp_path, url)
        # The security pane, the jobs pane: every hostile string on screen somewhere.
        tui = await asyncio.to_thread(_run_tui, config, b"s", b"unknown process on GPU 0")
        jobs = await asyncio.to_thread(_run_tui, config, b"j", b"REDMARKUP")
        text = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "console.cli", "snapshot", "--config", str(config),
             "--format", "text"],
            capture_output=True, env={**os.environ, "XDG_CONFIG_HOME": "/nonexistent"},
            timeout=120,
        )  # fmt: skip
    for output in (tui, jobs):
        for forbidden in FORBIDDEN:
            assert forbidden not in output, forbidden
    assert b"security-unknown-process" not in tui  # kinds are not shown raw; titles are
    assert b"[red]REDMARKUP[/red]" in jobs
    assert text.returncode == 0, text.stderr
    printed = text.stdout.decode()
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", printed)
    for shown in SHOWN:
        assert shown in printed, shown
    assert "unknown process on ANSIREDCLIPBOARD[b]HOST GPU 0" in printed
    assert json.dumps(HOSTNAME)[1:-1] not in printed
