"""A plugin installed with pip into a fresh virtual environment: the scaffold of
``watchfloor plugin new`` and the example under examples/.

The fresh venv reaches Watchfloor and its dependencies through a ``.pth`` file
pointing at this interpreter's site-packages, and pip runs with ``--no-deps
--no-build-isolation --no-index``: a real build and install of the plugin's
wheel, offline, in seconds, here and on CI alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PDU


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment that sees Watchfloor as installed (and nothing else new)."""
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   timeout=120)  # fmt: skip
    python = root / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    site = Path(purelib.stdout.strip())
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir, not a bare path: our site's own .pth files (the editable install) must run.
    (site / "watchfloor-under-test.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return root


def _pip_install(venv: Path, project: Path) -> None:
    result = _run(
        venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index",
        "--no-build-isolation", "--no-cache-dir", "--disable-pip-version-check", project,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _plugins(venv: Path) -> dict[str, list[str]]:
    """``watchfloor plugins`` in the venv: each plugin's row and the lines under it."""
    result = _run(venv / "bin" / "python", "-m", "console.cli", "plugins")
    assert result.returncode == 0, result.stderr
    rows: dict[str, list[str]] = {}
    current = ""
    for line in result.stdout.splitlines()[1:]:
        if line.startswith(" "):
            rows[current].append(line.strip())
        else:
            current = line.split()[0]
            rows[current] = [line]
    return rows


def test_a_scaffolded_plugin_installs_loads_and_passes_its_tests(
    venv: Path, tmp_path: Path
) -> None:
    made = _run(venv / "bin" / "python", "-m", "console.cli", "plugin", "new", "demo-pane",
                "--dir", tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    project = tmp_path / "demo-pane"
    assert made.stdout.startswith(f"created {project}/ (plugin demo-pane, ")
    assert _run(sys.executable, "-m", "ruff", "check", "-q", project).returncode == 0

    _pip_install(venv, project)
    rows = _plugins(venv)
    assert rows["demo-pane"][0].split()[:3] == ["demo-pane", "0.1.0", "loaded"]
    assert rows["demo-pane"][1] == (
        "provides: pane demo-pane [d] (opens demo-pane), source demo-pane, kind demo-pane, "
        "command demo-pane"
    )

    tested = _run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  cwd=project)  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "4 passed" in tested.stdout

    again = _run(venv / "bin" / "python", "-m", "console.cli", "plugin", "new", "demo-pane",
                 "--dir", tmp_path)  # fmt: skip
    assert again.returncode == 2
    assert again.stderr == (
        f"watchfloor: {project} already exists: choose another name or remove it\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    taken = _run(venv / "bin" / "python", "-m", "console.cli", "plugin", "new", "demo-pane",
                 "--dir", elsewhere)  # fmt: skip
    assert (taken.returncode, taken.stderr) == (2, "watchfloor: 'demo-pane' is already an "
            "installed plugin (from watchfloor-demo-pane): choose another name\n")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Demo", "'Demo' is not a plugin name: use lowercase letters, digits and '-'"),
        ("demo_pane", "'demo_pane' is not a plugin name"),
        ("9lives", "'9lives' is not a plugin name"),
        ("jobs", "'jobs' is taken by Watchfloor itself: choose another name"),
        ("node", "'node' is taken by Watchfloor itself"),
    ],
)
def test_a_bad_name_is_refused_in_one_line(name: str, reason: str, tmp_path: Path) -> None:
    result = _run(sys.executable, "-m", "console.cli", "plugin", "new", name, "--dir", tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"watchfloor: {reason}") and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_pip_install_of_the_example_makes_it_appear(venv: Path, tmp_path: Path) -> None:
    # A copy: an in-tree build would leave build/ and *.egg-info in examples/.
    project = tmp_path / "watchfloor-pdu"
    shutil.copytree(EXAMPLE_PDU, project, ignore=shutil.ignore_patterns("__pycache__"))
    _pip_install(venv, project)
    rows = _plugins(venv)
    assert rows["pdu"][0].split()[:3] == ["pdu", "0.1.0", "loaded"]
    assert rows["pdu"][1].startswith("provides: pane pdu [u] (opens pdu, pdu-outlet), source pdu")
    fake = venv / "bin" / "watchfloor-pdu-fake"
    assert fake.exists()  # its console script was installed too
