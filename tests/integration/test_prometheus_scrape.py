"""A real Prometheus server scrapes an agent (Debian's ``prometheus``; .ci/run installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.agents import free_port, start_agent

PROMETHEUS = shutil.which("prometheus")


def _query(port: int, expression: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.request.quote(expression)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]  # type: ignore[no-any-return]


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian package 'prometheus' not installed")
def test_prometheus_scrapes_the_agent_as_up(tmp_path: Path) -> None:
    agent, url = start_agent("--sim", "node02", "--listen", "127.0.0.1:0")
    port = free_port()
    target = url.split("://", 1)[1]
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: watchfloor\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    server = subprocess.Popen(
        [PROMETHEUS or "prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        up: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            try:
                up = _query(port, 'up{job="watchfloor"}')
            except OSError:
                up = []  # not listening yet
            if up and up[0]["value"][1] == "1":  # type: ignore[index]
                break
            time.sleep(0.5)  # Prometheus scrapes on its own clock: poll its API
        assert up and up[0]["value"][1] == "1", up  # type: ignore[index]
        gpus = _query(port, 'watchfloor_gpu_util_percent{node="node02"}')
        assert sorted(int(g["metric"]["gpu"]) for g in gpus) == list(range(8))  # type: ignore[index]
    finally:
        server.terminate()
        server.wait()
        agent.terminate()
        agent.wait()
