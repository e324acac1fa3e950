"""docs/plugins.md stays true: its reference names every public name of the plugin
API, and its tutorial, followed file by file, gives a plugin that loads at each
step, prints what the page says it prints, passes its tests and shows its pane."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import console.api
import console.testing
from tests.conftest import dist_info_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
FILE_BLOCK = re.compile(r"^```\w+ file=(\S+)\n(.*?)^```[ \t]*$", re.M | re.S)
"""A code block the reader saves as a file: ```python file=watchfloor_cdu/pane.py"""


def reference() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("\n## Reference") :]


@pytest.mark.parametrize(
    "name", sorted({*console.api.__all__, *console.testing.__all__}, key=str.lower)
)
def test_the_reference_names_every_public_name(name: str) -> None:
    assert re.search(rf"`{re.escape(name)}[`( \[,]", reference()), (
        f"docs/plugins.md: the Reference does not describe {name}"
    )


def tutorial_files() -> list[tuple[str, str]]:
    """(path, content) of every file the tutorial has the reader write, in order."""
    return FILE_BLOCK.findall(DOC.read_text(encoding="utf-8"))


def doc_lines(prefix: str) -> list[str]:
    """Lines of the page (in its text blocks) that start with ``prefix``."""
    return [line.rstrip() for line in DOC.read_text().splitlines() if line.startswith(prefix)]


def _run(args: list[str], cwd: Path, path: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent",
           "PYTHONPATH": os.pathsep.join(str(p) for p in path)}  # fmt: skip
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def watchfloor(*args: str, cwd: Path, path: list[Path]) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "console.cli", *args], cwd, path)


def test_the_tutorial_works_step_by_step(tmp_path: Path) -> None:
    project, site = tmp_path / "watchfloor-cdu", tmp_path / "site"
    files = tutorial_files()
    assert [p for p, _ in files if p.endswith("__init__.py")] == ["watchfloor_cdu/__init__.py"] * 4
    versions = 0
    for path, text in files:
        target = project / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if path == "pyproject.toml":
            dist_info_for(project, site)  # what `pip install -e .` records
        if path.endswith("__init__.py"):  # each version of the plugin loads
            versions += 1
            check = "import watchfloor_cdu, console.api as a; assert isinstance(watchfloor_cdu.plugin, a.Plugin)"  # noqa: E501
            loaded = _run([sys.executable, "-c", check], project, [project])
            assert loaded.returncode == 0, f"version {versions}: {loaded.stderr}"
        if versions == 1 and path.endswith("__init__.py"):
            listed = watchfloor("plugins", cwd=project, path=[site, project]).stdout.splitlines()
            row = next(line for line in listed if line.startswith("cdu "))
            assert row.rstrip() in doc_lines("cdu ")
            assert listed[listed.index(row) + 1] == "  provides: nothing"

    # Step 3: the config error, and one collection, exactly as the page shows them.
    config = (project / "config.yaml").read_text()
    (project / "bad.yaml").write_text(config.replace("warn_c: 45", "warn_c: hot"))
    bad = watchfloor("snapshot", "--config", "bad.yaml", cwd=project, path=[site, project])
    assert bad.returncode == 2
    (shown,) = doc_lines("watchfloor: config.yaml:4:")
    assert bad.stderr.strip() == shown.replace("config.yaml", "bad.yaml")
    snapshot = watchfloor("snapshot", "--config", "config.yaml", cwd=project, path=[site, project])
    assert snapshot.returncode == 0, snapshot.stderr
    printed = [line.rstrip() for line in snapshot.stdout.splitlines()]
    for line in ["CDU (2)", *doc_lines("  cdu/cdu-a"), *doc_lines("  cdu:cdu.json")]:
        assert line in printed, f"the page shows {line!r}; watchfloor printed:\n{snapshot.stdout}"

    # The finished plugin: what `watchfloor plugins` says it provides.
    listed = watchfloor("plugins", cwd=project, path=[site, project]).stdout.splitlines()
    row = next(line for line in listed if line.startswith("cdu "))
    assert row.split()[:3] == ["cdu", "0.1.0", "loaded"]
    assert listed[listed.index(row) + 1] == (
        "  provides: pane cdu [c] (opens cdu), source cdu, kind cdu, command cdu"
    )

    # Step 8: the tutorial's own tests pass.
    tested = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project,
                  [site, project])  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "5 passed" in tested.stdout


async def test_the_tutorial_pane_finding_command_and_theme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "watchfloor-cdu"
    for path, text in tutorial_files():  # the last version of each file
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(project))
    from watchfloor_cdu import plugin  # type: ignore[import-not-found]

    from console.ui.app import WatchfloorApp
    from console.ui.themes_loader import load_themes

    sources = console.testing.sources_from_yaml(
        plugin, (project / "config.yaml").read_text(), base_dir=project
    )
    registry = console.testing.registry_for(plugin, builtins=True)
    app = WatchfloorApp(
        registry, sources, theme_name="cooling", live=False,
        themes=load_themes((project / "themes",)), clock=lambda: 1_700_000_000.0,
    )  # fmt: skip
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.theme == "cooling" and app.theme_variables["cdu-hot"] == "#ff4fd8"
        findings = app.screen.query_one("#findings")
        (line,) = doc_lines("`CDU cdu-a2: return")
        title = line.split("`")[1]  # as the page quotes it
        assert findings.get_row("cdu/cdu-a2")[1].plain == title  # type: ignore[attr-defined]
        await pilot.press("enter")  # the finding opens the CDU
        assert app.crumbs() == ["Overview", "cdu/cdu-a2"]
        assert app.screen.pane.failure == ""  # type: ignore[attr-defined]
        await pilot.press("escape", "c")
        assert app.crumbs() == ["Overview", "CDUs"]
        await pilot.press("escape", "colon", *"cdu a1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.crumbs() == ["Overview", "cdu/cdu-a1"]
