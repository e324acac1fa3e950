"""``/dev/zero``, a FIFO or a huge file as any configured file: refused by name, at
once, and the command still ends (issue 14.9). Real processes, real FIFOs."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from console.core.safe_file import UnsafeFile, read_bytes, read_text_async, read_token
from tests.integration.test_cli import run


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def test_the_helper_refuses_devices_fifos_directories_and_big_files(
    tmp_path: Path, fifo: Path
) -> None:
    for path, why in ((Path("/dev/zero"), "a character device"), (fifo, "a FIFO"),
                      (tmp_path, "a directory")):  # fmt: skip
        with pytest.raises(UnsafeFile, match=f"{path}: refused: {why}, not a regular file"):
            read_bytes(path)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(UnsafeFile, match="2,000 bytes, over 1,000"):
        read_bytes(big, limit=1000)
    (tmp_path / "link").symlink_to(big)  # a symlink to a regular file is fine
    assert read_bytes(tmp_path / "link") == b"x" * 2000
    with pytest.raises(UnsafeFile, match="token file is empty"):
        (tmp_path / "empty").write_text("\n")
        read_token(tmp_path / "empty")


async def test_a_stuck_read_is_abandoned_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from console.core import safe_file

    release = threading.Event()

    def stuck(path: object, limit: int, errors: str) -> str:  # a read on a hung mount
        release.wait(10)
        return ""

    monkeypatch.setattr(safe_file, "read_text", stuck)
    started = asyncio.get_running_loop().time()
    with pytest.raises(UnsafeFile, match=r"read timed out after 0\.2s"):
        await read_text_async("/mnt/hung/jobs.yaml", timeout=0.2)
    assert asyncio.get_running_loop().time() - started < 5
    release.set()


@pytest.mark.parametrize("target", ["/dev/zero", "FIFO"])
def test_snapshot_ends_with_a_named_refusal_for_every_file_option(
    tmp_path: Path, fifo: Path, target: str
) -> None:
    bad = str(fifo) if target == "FIFO" else target
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n"
        "  - type: sim\n"
        f"  - type: jobs-file\n    path: {bad}\n"
        f"  - type: exporter\n    url: file://{bad}\n"
        f"  - type: agent\n    url: http://127.0.0.1:9\n    token_file: {bad}\n"
        f"topology: {bad}\n"
    )
    done = run("snapshot", "--config", str(config), "--format", "json")
    assert done.returncode == 0, done.stderr
    sources = {s["type"]: s for s in json.loads(done.stdout)["sources"]}
    kind = "a FIFO" if target == "FIFO" else "a character device"
    for name in ("jobs-file", "exporter", "topology", "agent"):
        assert sources[name]["status"] == "failed", sources[name]
        assert f"{bad}: refused: {kind}, not a regular file" in sources[name]["reason"], name
    assert sources["sim"]["status"] == "ok"  # the rest goes on


@pytest.mark.parametrize("target", ["/dev/zero", "FIFO"])
def test_a_config_or_token_file_that_is_no_file_is_one_line_and_exit_2(
    fifo: Path, target: str
) -> None:
    bad = str(fifo) if target == "FIFO" else target
    done = run("snapshot", "--config", bad)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
    agent = run("agent", "--listen", "127.0.0.1:0", "--token-file", bad)
    assert agent.returncode == 2, agent.stderr
    assert f"token file {bad}: refused" in agent.stderr and "Traceback" not in agent.stderr
