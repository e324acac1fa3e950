"""Plugin discovery: built-ins through entry points, faulty plugins contained."""

from __future__ import annotations

from pathlib import Path

from console.core.plugins import discover
from console.core.runtime import load_registry, probe_plugins

BUILT_INS = {"fabric", "gpu", "host", "jobs", "power", "prometheus", "security"}


def test_built_in_plugins_are_found_through_entry_points() -> None:
    records = {r.name: r for r in discover()}
    assert set(records) >= BUILT_INS
    for name in BUILT_INS:
        assert records[name].status == "loaded", records[name].reason
        assert records[name].origin.startswith(f"watchfloor_{name}:")
    registry = load_registry()
    assert {p.id for p in registry.panes} >= {"gpus", "jobs", "fabric"}
    assert registry.pane_for("gpu") is not None and registry.pane_for("job") is not None
    assert {"sim", "nvml"} <= set(registry.source_types)


async def test_faulty_plugins_are_reported_and_the_rest_load(with_faulty_plugins: Path) -> None:
    records = {r.name: r for r in discover()}
    assert records["broken"].status == "failed"
    assert records["broken"].reason == "import failed: ImportError: No module named 'frobnicate'"
    assert records["oldapi"].status == "failed"
    assert records["oldapi"].reason == (
        "needs plugin API 99, but watchfloor 0.1.0 provides API 1: upgrade watchfloor, "
        "or install a release of the plugin made for API 1"
    )
    assert records["invalid"].status == "failed"
    assert records["invalid"].reason == (
        "invalid plugin: plugin 'invalid': entity kind 'gpu' is one of the console's own: "
        "declare only new kinds"
    )
    assert records["hanging"].status == "loaded"
    assert records["hanging"].distribution == "wf-hanging-source"
    assert {n for n, r in records.items() if r.status == "loaded"} >= BUILT_INS
    await probe_plugins(list(records.values()))
    assert records["hanging"].status == "failed"
    assert records["hanging"].reason == "source hang failed: timed out after 0.5s"
    assert records["raising"].status == "failed"
    assert records["raising"].reason == (
        "source raising failed: RuntimeError: sensor bus 3 not responding"
    )
    assert records["baddata"].status == "failed"
    assert records["baddata"].reason == (
        "source notabatch failed: bad data: poll returned dict, not a console.api.Batch; "
        "source badsample failed: bad data: samples[0] (node/bad01 node.load1): "
        "value '12 W' is not a number (or None)"
    )
    assert records["gpu"].status == "loaded"  # its NVML source is merely disabled here
    assert all(note.startswith("source nvml disabled") for note in records["gpu"].notes)
    for name in ("brokenpane", "slowpane"):  # pane faults show only when the pane is drawn
        assert records[name].status == "loaded", records[name].reason


def test_built_in_plugins_import_only_console_api() -> None:
    plugins = Path(__file__).resolve().parents[2] / "plugins"
    for path in plugins.rglob("*.py"):
        own = path.relative_to(plugins).parts[0]  # a plugin may import itself, no other
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("from console", "import console")):
                assert stripped.startswith("from console.api import"), f"{path}: {stripped}"
            if stripped.startswith(("from watchfloor_", "import watchfloor_")):
                assert stripped.split()[1].split(".")[0] == own, f"{path}: {stripped}"


def test_importing_the_plugin_api_does_not_import_textual() -> None:
    import subprocess
    import sys

    code = "import sys, console.api; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_loading_every_plugin_does_not_import_textual() -> None:
    import subprocess
    import sys

    code = ("import sys; from console.core.runtime import load_registry; load_registry(); "
            "print('textual' in sys.modules, 'aiohttp' in sys.modules)")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False False"  # the agent and snapshot stay light
