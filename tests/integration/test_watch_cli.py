"""``watchfloor watch`` as a process: one-line errors, reloads, clean stops."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.alertmanager import Watch, watch_config
from tests.waiting import wait_for

WITHIN = 30.0


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli", "watch", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_bad_alerting_section_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("alerting:\n  rules:\n    - match: job-stalled\n      for: a while\n")
    result = _run("--config", str(config), "--listen", "none")
    assert result.returncode == 2
    assert result.stderr == (f"watchfloor: {config}:4: alerting: 'for' must be a duration "
                             "(30s, 2m, 1h), not 'a while'\n")  # fmt: skip
    assert result.stdout == ""


def test_a_taken_metrics_port_is_one_line(tmp_path: Path) -> None:
    config = watch_config(tmp_path / "config.yaml", None, "port")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _run("--config", str(config), "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"watchfloor: cannot listen on 127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_bad_new_config_is_reported_and_the_running_one_kept(tmp_path: Path) -> None:
    config = watch_config(tmp_path / "config.yaml", None, "reload")
    watch = Watch(config)
    try:
        wait_for(lambda: 'kind="job-stalled"' in watch.metrics(), WITHIN, "stall in /metrics")
        good = config.read_text()
        config.write_text(good + "  bogus: 1\n")
        line = wait_for(lambda: next((ln for ln in watch.output().splitlines()
                                      if "config not reloaded" in ln), None),
                        WITHIN, "the bad config reported")  # fmt: skip
        assert line.endswith("alerting: unknown key 'bogus' (allowed: alertmanager, token_file, "
                             "tls_ca, cluster, resend, state_file, console_url, runbooks, "
                             "webhook, rules, inhibit)")  # fmt: skip
        assert f"{config}:" in line
        assert watch.process.poll() is None  # still running the old config
        assert 'kind="job-stalled"' in watch.metrics()
        config.write_text(good.replace("congested-link", "healthy"))
        wait_for(lambda: "config reloaded" in watch.output(), WITHIN, "the good config loaded")
        wait_for(lambda: 'kind="job-stalled"' not in watch.metrics(), WITHIN, "healthy now")
        watch.process.send_signal(signal.SIGHUP)  # systemctl reload
        wait_for(lambda: watch.output().count("config reloaded") == 2, WITHIN, "SIGHUP reload")
    finally:
        status, output = watch.stop()
    assert status == 0, output
    assert "Traceback" not in output
    # Each generation recorded (the flight recorder passed from one engine to the next).
    assert "not recording" not in output
    recording = tmp_path / "state" / "watchfloor" / "recording"
    assert recording.is_dir() and any(recording.iterdir())


def test_metrics_on_loopback_refuse_a_foreign_host(tmp_path: Path) -> None:
    """DNS rebinding: a page whose name points at 127.0.0.1 must not read the findings."""
    config = watch_config(tmp_path / "config.yaml", None, "host")
    watch = Watch(config)
    try:
        wait_for(lambda: 'kind="job-stalled"' in watch.metrics(), WITHIN, "stall in /metrics")
        request = urllib.request.Request(watch.metrics_url, headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 421
        by_name = watch.metrics_url.replace("127.0.0.1", "localhost")
        with urllib.request.urlopen(by_name, timeout=5) as answered:
            assert b"watchfloor_finding" in answered.read()
    finally:
        watch.stop()
