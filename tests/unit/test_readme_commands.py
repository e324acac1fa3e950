"""README's first screen and CI agree: CI runs README's test command verbatim."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README has no sh block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_ci_runs_readme_test_command_verbatim() -> None:
    install, tests = _readme_commands()
    assert install.endswith("watchfloor demo")
    assert tests.startswith("tests/system-deps.sh && ")
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_system_deps_names_what_to_install_when_not_root(tmp_path: Path) -> None:
    """Without root and with no program on PATH, the script fails naming the packages."""
    result = subprocess.run(
        ["/bin/sh", str(ROOT / "tests" / "system-deps.sh")],
        env={"PATH": str(tmp_path)},  # empty: every program is missing, no sudo
        capture_output=True,
        text=True,
        user=65534 if _is_root() else None,
    )
    assert result.returncode == 1
    assert "apt-get install -y --no-install-recommends" in result.stderr
    for package in (
        "chromium",
        "slurm-wlm",
        "ibsim-utils",
        "prometheus-alertmanager",
        "python3-venv",
    ):
        assert package in result.stderr


def _is_root() -> bool:
    import os

    return os.geteuid() == 0
