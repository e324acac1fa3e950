"""A plain wheel ships the plugins and themes, and no generic top-level names."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contents(tmp_path: Path) -> None:
    # Build from a clean copy: setuptools reuses a build/ folder left in the tree.
    source = tmp_path / "src"
    common = shutil.ignore_patterns(".venv", "build", ".git", "*.egg-info", "__pycache__")

    def ignore(folder: str, names: list[str]) -> set[str]:
        # Top-level bench/, tests/ and examples/ stay out; the plugin template's tests/ ships.
        top = {"bench", "tests", "examples"} if Path(folder) == ROOT else set()
        return set(common(folder, names)) | (top & set(names))

    shutil.copytree(ROOT, source, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    wheel = next(tmp_path.glob("watchfloor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {"console", "watchfloor_gpu", "watchfloor_jobs", "watchfloor_fabric"} <= top
    assert not {"plugins", "themes", "tests"} & top
    for theme in ("dark", "light", "high-contrast", "ansi"):
        assert f"console/themes/{theme}.yaml" in names
    # `watchfloor plugin new` works from a plain install: its templates ship.
    template = {n for n in names if n.startswith("console/plugin_template/")}
    assert {"console/plugin_template/pyproject.toml.tmpl",
            "console/plugin_template/{{package}}/pane.py.tmpl",
            "console/plugin_template/tests/test_plugin.py.tmpl"} <= template  # fmt: skip
    # Every package of the console ships (a new one not listed in pyproject.toml would not).
    for init in (ROOT / "console").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[watchfloor.plugins]" in text
    for plugin in ("gpu = watchfloor_gpu:plugin", "jobs = watchfloor_jobs:plugin"):
        assert plugin in text
