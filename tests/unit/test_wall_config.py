"""``wall:`` in the config (wall mode's and serve's bad flags are in test_cli)."""

from __future__ import annotations

import pytest

from console.core.config import ConfigError, WallConfig, parse_config
from console.core.runtime import load_registry
from console.ui.wall_rules import default_panes, pane_names

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
