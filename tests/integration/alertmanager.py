"""A real Alertmanager (Debian ``prometheus-alertmanager``) on loopback, and
``watchfloor watch`` as a process, for the alerting tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.agents import free_port
from tests.waiting import wait_for

ALERTMANAGER = shutil.which("prometheus-alertmanager")
READY_WITHIN = 60.0
AM_CONFIG = """\
route:
  receiver: watchfloor-tests
  group_wait: 1s
receivers:
  - name: watchfloor-tests
"""


class Alertmanager:
    """One Alertmanager process; ``kill9`` and ``start`` again keep its port and storage."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (directory / "am.yml").write_text(AM_CONFIG)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert ALERTMANAGER is not None
        self.process = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={self.directory / 'am.yml'}",
             f"--storage.path={self.directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=(self.directory / "am.log").open("ab"),
        )  # fmt: skip
        wait_for(self.ready, READY_WITHIN, "Alertmanager ready")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def alerts(self, cluster: str, name: str | None = None) -> list[dict[str, Any]]:
        """Active alerts of one test's cluster label (each test uses its own)."""
        query = f'cluster="{cluster}"'
        url = f"{self.url}/api/v2/alerts?filter={urllib.request.quote(query)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            found: list[dict[str, Any]] = json.load(response)
        return [a for a in found if name is None or a["labels"].get("alertname") == name]

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Watch:
    """``watchfloor watch --config F`` as a process."""

    def __init__(self, config: Path, *extra: str) -> None:
        env = {**os.environ, "XDG_STATE_HOME": str(config.parent / "state")}
        self.log = config.parent / f"watch-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "watch", "--config", str(config),
             "--listen", "127.0.0.1:0", *extra],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        line = wait_for(self._metrics_line, 60, "watch printed its metrics URL")
        self.metrics_url = line.split("metrics at ", 1)[1].strip()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _metrics_line(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"watch exited {self.process.returncode}: {self.output()}")
        return next((ln for ln in self.output().splitlines() if "metrics at " in ln), None)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return response.read().decode()  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal it and wait; its exit status and everything it printed."""
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode, self.output()


def watch_config(
    path: Path, am_url: str | None, cluster: str, scenario: str = "congested-link",
    resend: float = 30.0, extra: str = "",
) -> Path:  # fmt: skip
    """A config: the simulator at 0.3 s, alerting to ``am_url`` under ``cluster``."""
    am = f"  alertmanager: [{am_url}]\n" if am_url else ""
    path.write_text(
        "interval: 0.3\n"
        f"sources:\n  - type: sim\n    scenario: {scenario}\n"
        "alerting:\n"
        f"{am}"
        f"  cluster: {cluster}\n"
        f"  resend: {resend}s\n"
        f"  state_file: {path.parent / 'alerts.json'}\n"
        '  runbooks: {default: "https://runbooks.example/{kind}"}\n'
        "  rules:\n    - match: job-stalled\n      for: 1s\n"
        f"{extra}"
    )
    return path
