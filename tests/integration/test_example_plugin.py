"""The example third-party plugin (examples/watchfloor-pdu), installed the way pip
installs it: discovered with no change to Watchfloor, its source polls a real
HTTP server, its pane opens under Pilot, and its own test suite passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from console.core.config import load_config
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_sources, load_registry
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable
from tests.conftest import EXAMPLE_PDU, frozen_clock


def test_the_example_is_discovered_with_what_it_provides(with_example_plugin: Path) -> None:
    records = {r.name: r for r in discover()}
    pdu = records["pdu"]
    assert (pdu.status, pdu.version, pdu.distribution) == ("loaded", "0.1.0", "watchfloor-pdu")
    registry = load_registry(list(records.values()))
    assert registry.provides("pdu") == (
        "pane pdu [u] (opens pdu, pdu-outlet), source pdu, kind pdu, kind pdu-outlet, command pdu"
    )
    assert pdu.notes == []  # no clash with the built-ins


def test_watchfloor_plugins_lists_the_example(with_example_plugin: Path) -> None:
    path = os.pathsep.join([str(with_example_plugin), str(EXAMPLE_PDU)])
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "plugins"], capture_output=True, text=True,
        timeout=120, env={**os.environ, "PYTHONPATH": path, "XDG_CONFIG_HOME": "/nonexistent"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.startswith("pdu "))
    assert row.split()[:3] == ["pdu", "0.1.0", "loaded"]
    assert lines[lines.index(row) + 1].startswith(
        "  provides: pane pdu [u] (opens pdu, pdu-outlet)"
    )


async def test_the_example_polls_a_pdu_and_its_pane_opens(
    with_example_plugin: Path, tmp_path: Path
) -> None:
    from watchfloor_pdu.fake import FakePdus, serving  # type: ignore[import-not-found]

    state = FakePdus(nodes=["node01", "node02", "node03", "node04"], overload={"rack01-pdu-b"})
    async with serving(state) as url:
        config_file = tmp_path / "config.yaml"
        config_file.write_text(f"sources:\n  - type: pdu\n    url: {url}/pdus\n")
        registry = load_registry()  # real discovery: the built-ins and the example
        config = load_config(config_file, registry.source_types)
        sources = build_sources(config, registry, DemoOptions(), local=False)
        app = WatchfloorApp(registry, sources, live=False, clock=frozen_clock)
        async with app.run_test(size=(120, 40)) as pilot:
            statuses = {s.name: (s.status, s.reason) for s in app.sources()}
            assert statuses["pdu:127.0.0.1"] == ("ok", "")
            findings = app.screen.query_one("#findings", EntityTable)
            assert findings.get_row("pdu/rack01-pdu-b")[1].plain == (
                "PDU rack01-pdu-b at 97% of its 17.3 kW rating"
            )
            await pilot.press("u")
            assert app.crumbs() == ["Overview", "PDUs"]
            table = app.screen.query_one(EntityTable)
            assert table.row_count == 4 and table.selected_ref == "pdu/rack01-pdu-b"
            assert not app.screen.query_one("PluginBanner").display  # its source is fine
            await pilot.press("escape")
            app.open("pdu-outlet/rack01-pdu-b/3")  # drill-down by ref, as goto does
            await pilot.pause()
            assert type(app.screen.pane).__name__ == "OutletDetail"  # type: ignore[attr-defined]


def test_the_example_s_own_tests_pass(with_example_plugin: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(with_example_plugin), str(EXAMPLE_PDU)]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE_PDU, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def test_snapshot_shows_the_example_s_entities_and_findings(
    with_example_plugin: Path, tmp_path: Path
) -> None:
    import json

    fixture = EXAMPLE_PDU / "tests" / "fixtures" / "rack07-pdu-a.json"
    config = tmp_path / "config.yaml"
    config.write_text(f"sources:\n  - type: pdu\n    url: file://{fixture}\n")
    env = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent",
           "PYTHONPATH": os.pathsep.join([str(with_example_plugin), str(EXAMPLE_PDU)])}  # fmt: skip
    command = [sys.executable, "-m", "console.cli", "snapshot", "--config", str(config)]
    result = subprocess.run([*command, "--format", "json"], capture_output=True, text=True,
                            timeout=120, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (pdu,) = document["entities"]["pdu"]
    assert pdu["ref"] == "pdu/rack07-pdu-a" and pdu["metrics"]["pdu.load"] == 86.0
    assert len(document["entities"]["pdu-outlet"]) == 4
    # (This machine's own sources may add findings of their own: an open port.)
    assert [(f["ref"], f["severity"]) for f in document["findings"]
            if f["ref"].startswith("pdu")] == [("pdu/rack07-pdu-a", "warning")]  # fmt: skip
    text = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env).stdout
    assert "PDU (1)\n  pdu/rack07-pdu-a" in text
