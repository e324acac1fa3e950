"""``demo --agents``: real agent processes on loopback, one per simulated node."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from console.sim.cluster import build_topology

START_TIMEOUT = 30.0
"""Seconds an agent may take to say where it listens."""


@dataclass
class LocalAgents:
    """Agent processes started for a demo, and the URLs they listen on."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    """Node name → agent URL."""

    def stop(self) -> None:
        """Terminate every agent (kill any that does not stop within 5 s)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _read_url(process: subprocess.Popen[bytes], node: str) -> str:
    """The URL an agent prints on its first line (``node02 http://127.0.0.1:40399``)."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or process.poll() is not None:
            raise RuntimeError(f"the agent for {node} did not start")
        ready, _, _ = select.select([process.stdout], [], [], left)
        if ready:
            byte = os.read(process.stdout.fileno(), 1)
            if not byte:
                raise RuntimeError(f"the agent for {node} exited before listening")
            line += byte
    name, url = line.decode().split()
    if name != node:
        raise RuntimeError(f"expected the agent for {node}, got {name}")
    return url


@contextlib.contextmanager
def sim_agents(scenario: str, seed: int, nodes: int, interval: float) -> Iterator[LocalAgents]:
    """Start one ``watchfloor agent --sim NODE`` per compute node on free loopback ports."""
    agents = LocalAgents()
    try:
        for node in build_topology(nodes).nodes:
            process = subprocess.Popen(
                [sys.executable, "-m", "console.cli", "agent", "--sim", node,
                 "--listen", "127.0.0.1:0", "--scenario", scenario, "--seed", str(seed),
                 "--nodes", str(nodes), "--interval", str(interval)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            agents.processes.append(process)
        for node, process in zip(build_topology(nodes).nodes, agents.processes, strict=True):
            agents.urls[node] = _read_url(process, node)
        yield agents
    finally:
        agents.stop()
