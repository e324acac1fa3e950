"""``wall:`` in the config, and wall mode's and serve's bad input: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import ConfigError, WallConfig, parse_config
from console.runtime import load_registry
from console.wall import default_panes, pane_names
from tests.integration.test_cli import run

REGISTRY = load_registry()
NAMES = pane_names(REGISTRY)


def test_wall_options_and_pane_names() -> None:
    config = parse_config("wall:\n  panes: [overview, gpu, jobs]\n  dwell: 10\n  hold: 0\n",
                          "c.yaml", REGISTRY.source_types, NAMES)  # fmt: skip
    assert config.wall == WallConfig(panes=("overview", "gpu", "jobs"), dwell=10.0, hold=0.0)
    assert NAMES["gpu"] == NAMES["gpus"] == "gpus"  # a pane by its id or the kind it opens
    panes = default_panes(REGISTRY)  # the overview, then every plugin pane with a key
    assert panes[0] == "overview"
    assert sorted(panes[1:]) == ["fabric", "gpus", "jobs", "power", "security"]
    assert parse_config("", "c.yaml", REGISTRY.source_types).wall == WallConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wall:\n  panes: [overview, gpu, weather]\n", "c.yaml:2: wall.panes: unknown pane "
         "'weather' (known: "),
        ("wall:\n  panes: []\n", "c.yaml:2: wall: 'panes' must be a non-empty list"),
        ("wall:\n  dwell: 0\n", "c.yaml:2: wall: 'dwell' must be a positive number"),
        ("wall:\n  hold: -1\n", "c.yaml:2: wall: 'hold' must be a non-negative number"),
        ("wall:\n\n  dwel: 5\n", "c.yaml:3: wall: unknown key 'dwel' (allowed: panes, dwell"),
        ("wall: [overview]\n", "c.yaml:1: wall must be a mapping"),
    ],
)  # fmt: skip
def test_wall_mistakes_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml", REGISTRY.source_types, NAMES)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (("--wall", "--demo", "--config", "{dir}/c.yaml"), "wall:\n  panes: [nope]\n",
         "c.yaml:2: wall.panes: unknown pane 'nope'"),
        (("demo", "--wall", "--dwell", "0"), None, "--dwell must be a positive number"),
        (("serve", "--host", "0.0.0.0"), None, "refusing to serve on 0.0.0.0 without --public"),
        (("serve", "--demo", "--port", "70000"), None, "--port must be 0 to 65535"),
    ],
)  # fmt: skip
def test_bad_input_gives_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
    result = run(*(a.format(dir=tmp_path) for a in args))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
