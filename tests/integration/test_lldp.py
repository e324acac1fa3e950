"""LLDP neighbours from a real lldpd: two network namespaces joined by a veth pair.

The "host" namespace runs lldpd and is read through lldpcli; the "switch"
namespace runs lldpd under the system name ``leaf07``. Needs root (``ip netns``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from watchfloor_host.lldp import parse_neighbours
from watchfloor_host.source import HostSource

SYS = FIXTURES / "node_exporter" / "sys" / "sys"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def _until_ok(argv: list[str], timeout: float = 20.0) -> None:
    """Run ``argv`` until it succeeds (lldpd answers once it has started)."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(argv, capture_output=True, timeout=20)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{argv} kept failing: {result.stderr!r}")
        time.sleep(0.1)


@pytest.fixture
def veth_pair() -> Iterator[tuple[str, str, str]]:
    """(lldpcli command line of the host side, host interface, switch interface)."""
    # lldpcli drops to the _lldpd user: its socket's directory must be reachable by it
    # (pytest's own temporary directories are root-only).
    tmp_path = Path(tempfile.mkdtemp(prefix="wf-lldp-"))
    tmp_path.chmod(0o711)
    tag = uuid.uuid4().hex[:6]
    host_ns, switch_ns = f"wfh{tag}", f"wfs{tag}"
    host_if, switch_if = f"wfh{tag}", f"wfs{tag}"
    daemons: list[subprocess.Popen[bytes]] = []
    _ip("netns", "add", host_ns)
    try:
        _ip("netns", "add", switch_ns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", switch_if)
        for ns, interface in ((host_ns, host_if), (switch_ns, switch_if)):
            _ip("link", "set", interface, "netns", ns)
            _ip("-n", ns, "link", "set", interface, "up")
            sock = tmp_path / f"{ns}.sock"
            name = "leaf07" if ns == switch_ns else "gpu01"
            # lldpd sends nothing until its start-up lldpcli has read this file and said
            # "resume", so its first LLDPDU already carries the name. Set by lldpcli after
            # the start, the machine's own hostname could reach the other side first and
            # stay there for the neighbour's whole TTL (red in CI: "vm").
            config = tmp_path / f"{ns}.conf"
            config.write_text(f"configure system hostname {name}\nconfigure lldp tx-interval 1\n")
            daemons.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, "lldpd", "-d", "-u", str(sock),
                 "-p", str(tmp_path / f"{ns}.pid"), "-I", interface, "-O", str(config)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            ))  # fmt: skip
            _until_ok(["ip", "netns", "exec", ns, "lldpcli", "-u", str(sock), "show", "chassis"])
        yield (
            f"ip netns exec {host_ns} lldpcli -u {tmp_path / f'{host_ns}.sock'}",
            host_if,
            switch_if,
        )
    finally:
        for daemon in daemons:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=10)
        for ns in (host_ns, switch_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_host_source_reports_the_switch_port_lldpd_heard(
    veth_pair: tuple[str, str, str],
) -> None:
    command, host_if, switch_if = veth_pair
    source = HostSource(1.0, str(SYS), node="gpu01", lldpcli=command)
    link = f"link/gpu01/{host_if}~leaf07/{switch_if}"
    deadline = time.monotonic() + 30
    while True:  # until lldpd has heard a neighbour on the veth: the first must be leaf07
        batch = source.collect()
        refs = {e.ref: e for e in batch.entities}
        heard = sorted(r for r in refs if r.startswith(f"link/gpu01/{host_if}~"))
        if heard or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert heard == [link]
    assert refs[link].attrs["a"] == f"port/gpu01/{host_if}"
    assert refs[link].attrs["b"] == f"port/leaf07/{switch_if}"
    assert refs[f"port/leaf07/{switch_if}"].parent == "switch/leaf07"
    assert "switch/leaf07" in refs


def test_lldpcli_json_of_one_and_of_several_interfaces_parses() -> None:
    one = (FIXTURES / "lldp" / "lldpcli-one-neighbour.json").read_text()
    [neighbour] = parse_neighbours(one)
    assert (neighbour.interface, neighbour.system, neighbour.port) == (
        "wfi16va", "leaf07", "wfi16vb")  # fmt: skip
    document = json.loads(one)
    first = document["lldp"]["interface"]
    eth9 = {"chassis": {"spine": {}}, "port": {"id": {"type": "ifname", "value": "Ethernet1/9"}}}
    document["lldp"]["interface"] = [first, {"eth9": eth9}]
    several = json.dumps(document)
    names = [(n.interface, n.system, n.port) for n in parse_neighbours(several)]
    assert names == [("wfi16va", "leaf07", "wfi16vb"), ("eth9", "spine", "Ethernet1/9")]
