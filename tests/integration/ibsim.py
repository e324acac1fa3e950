"""A real InfiniBand fabric on one machine: ibsim + opensm, and the real tools against it.

``ibsim`` simulates the switches and HCAs of a net file; ``opensm`` (the real
subnet manager) gives them LIDs; ``ibnetdiscover``/``perfquery`` run under
``LD_PRELOAD=libumad2sim.so``, which turns their umad calls into messages to the
simulator. The simulator listens on abstract unix sockets named by
``IBSIM_SOCKNAME``: each fabric gets its own name, so parallel runs never meet.

The tools are reached through wrapper scripts (the ``ibnetdiscover``/``perfquery``
options of ``type: infiniband`` point at them), so Python itself never loads the
preload library. Console commands (``PerformanceSet``, ``Unlink``, ``ReLink``) go to
ibsim's stdin, a fifo this helper keeps open.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

UMAD2SIM = Path("/usr/lib/x86_64-linux-gnu/umad2sim/libumad2sim.so")


def find_umad2sim() -> Path:
    """The preload library (Debian's libumad2sim0 puts it under the multiarch dir)."""
    if UMAD2SIM.exists():
        return UMAD2SIM
    found = list(Path("/usr/lib").glob("*/umad2sim/libumad2sim.so"))
    if not found:
        raise RuntimeError("libumad2sim.so not found: run tests/system-deps.sh")
    return found[0]


def host_name(index: int) -> str:
    return f"gpu{index:02d}"


def hca_description(index: int) -> str:
    """Hosts alternate between the two naming habits: ``gpu01 mlx5_0`` and ``gpu02 HCA-1``."""
    return f"{host_name(index)} {'mlx5_0' if index % 2 else 'HCA-1'}"


UNNAMED_HCA = "MT4129 ConnectX7 Mellanox Technologies"
"""What an HCA whose host never set its node description calls itself."""


def leaf_spine_net(leaves: int, spines: int, hosts_per_leaf: int, unnamed: bool = False) -> str:
    """An ibsim net file: ``leafNN`` with hosts below and one uplink to each ``spineNN``.

    Leaf ports 1..hosts_per_leaf go to hosts, the next ``spines`` ports up; with
    ``unnamed``, one more HCA on the last leaf's last port, described as no host."""
    leaf_ports = hosts_per_leaf + spines + (1 if unnamed else 0)
    records: list[str] = []
    for s in range(1, spines + 1):
        lines = [f'Switch {max(leaves, 2)} "spine{s:02d}"']
        lines += [
            f'[{leaf}] "leaf{leaf:02d}"[{hosts_per_leaf + s}]' for leaf in range(1, leaves + 1)
        ]
        records.append("\n".join(lines))
    for leaf in range(1, leaves + 1):
        lines = [f'Switch {leaf_ports} "leaf{leaf:02d}"']
        for h in range(1, hosts_per_leaf + 1):
            index = (leaf - 1) * hosts_per_leaf + h
            lines.append(f'[{h}] "{hca_description(index)}"[1]')
        lines += [f'[{hosts_per_leaf + s}] "spine{s:02d}"[{leaf}]' for s in range(1, spines + 1)]
        if unnamed and leaf == leaves:
            lines.append(f'[{leaf_ports}] "{UNNAMED_HCA}"[1]')
        records.append("\n".join(lines))
    for leaf in range(1, leaves + 1):
        for h in range(1, hosts_per_leaf + 1):
            index = (leaf - 1) * hosts_per_leaf + h
            records.append(f'Hca 1 "{hca_description(index)}"\n[1] "leaf{leaf:02d}"[{h}]')
    if unnamed:
        records.append(f'Hca 1 "{UNNAMED_HCA}"\n[1] "leaf{leaves:02d}"[{leaf_ports}]')
    return "\n\n".join(records) + "\n"


@dataclass
class SimFabric:
    """A running ibsim + opensm; stop() ends both."""

    directory: Path
    sockname: str
    bin: Path
    """Holds the ``ibnetdiscover`` and ``perfquery`` wrappers."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _control: int = -1

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "IBSIM_SOCKNAME": self.sockname}

    def command(self, line: str) -> None:
        """One line to ibsim's console (``Unlink "leaf02"[7]``)."""
        os.write(self._control, (line + "\n").encode())

    def tool(self, name: str, *args: str, timeout: float = 20.0) -> str:
        result = subprocess.run(
            [str(self.bin / name), *args], env=self.env, capture_output=True, timeout=timeout
        )
        return result.stdout.decode("utf-8", "replace")

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
        """Poll ``ibnetdiscover --ports`` until ``check(output)`` holds (no sleeps as waits)."""
        deadline = time.monotonic() + timeout
        output = ""
        while time.monotonic() < deadline:
            output = self.tool("ibnetdiscover", "--ports")
            if check(output):
                return output
            time.sleep(0.2)
        raise AssertionError(f"fabric never showed {what}; last ibnetdiscover:\n{output[-2000:]}")

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Poll ``check()`` until it holds, with a deadline."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        if self._control >= 0:
            os.close(self._control)
            self._control = -1


def start_fabric(directory: Path, net: str) -> SimFabric:
    """ibsim on ``net``, then opensm; returns once every port has a LID."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "net").write_text(net)
    preload = find_umad2sim()
    sockname = f"wf-ibsim-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("ibnetdiscover", "perfquery"):
        real = shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") or tool
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nLD_PRELOAD={preload} exec {real} "$@"\n')
        wrapper.chmod(0o755)
    fifo = directory / "ibsim.ctl"
    os.mkfifo(fifo)
    control = os.open(fifo, os.O_RDWR)  # read-write: never blocks, never sees EOF
    fabric = SimFabric(directory, sockname, bin_dir, _control=control)
    env = fabric.env
    try:
        # A writer (``control``) is open already, so this read-only open does not block.
        reader = os.open(fifo, os.O_RDONLY)
        try:
            with open(directory / "ibsim.log", "wb") as log:
                fabric.processes.append(
                    subprocess.Popen(
                        ["ibsim", "-s", str(directory / "net")],
                        stdin=reader,
                        stdout=log,
                        stderr=log,
                        env=env,
                        start_new_session=True,
                    )
                )
        finally:
            os.close(reader)
        deadline = time.monotonic() + 20
        while sockname not in Path("/proc/net/unix").read_text():
            if fabric.processes[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ibsim did not start: {(directory / 'ibsim.log').read_text()}")
            time.sleep(0.05)
        cache = directory / "opensm-cache"
        cache.mkdir()
        with open(directory / "opensm.out", "wb") as log:
            fabric.processes.append(
                subprocess.Popen(
                    ["opensm", "-f", str(directory / "opensm.log")],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env={**env, "OSM_CACHE_DIR": str(cache), "LD_PRELOAD": str(preload)},
                    start_new_session=True,
                )
            )
        fabric.wait_for(_all_lids_given, "LIDs from opensm")
    except BaseException:
        fabric.stop()
        raise
    return fabric


def _all_lids_given(output: str) -> bool:
    lines = [line.split() for line in output.splitlines() if line.strip()]
    return bool(lines) and all(len(parts) > 1 and parts[1] != "0" for parts in lines)
