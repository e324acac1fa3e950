"""Config files: the fixed shape, and mistakes reported as file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.config import ConfigError, load_config, parse_config
from console.core.runtime import load_registry

SOURCE_TYPES = load_registry().source_types


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/etc/wf.yaml", SOURCE_TYPES)
    return str(info.value)


def test_a_valid_config() -> None:
    config = parse_config(
        "interval: 2\ntheme: light\nsources:\n  - type: sim\n    scenario: healthy\n"
        "    seed: 7\n  - type: nvml\ntopology: topo.yaml\n",
        "/etc/wf.yaml",
        SOURCE_TYPES,
    )
    assert config.interval == 2.0
    assert config.theme == "light"
    assert [s.type for s in config.sources] == ["sim", "nvml"]
    sim = config.sources[0]
    assert sim.options == {
        "scenario": "healthy", "seed": 7, "nodes": 4, "gpus_per_node": 8, "scope": "all",
        "onset": None,
    }  # fmt: skip
    assert sim.line == 4
    assert config.topology == Path("/etc/topo.yaml")


def test_empty_file_is_an_empty_config() -> None:
    assert parse_config("", "x.yaml", SOURCE_TYPES).sources == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval: 1\nrefresh: 2\n", "/etc/wf.yaml:2: unknown key 'refresh'"),
        ("interval: fast\n", "/etc/wf.yaml:1: 'interval' must be a positive number, not 'fast'"),
        ("interval: -1\n", "/etc/wf.yaml:1: 'interval' must be a positive number"),
        ("interval: yes\n", "/etc/wf.yaml:1: 'interval' must be a positive number, not True"),
        ("sources:\n  - type: sim\n  - type: telepathy\n",
         "/etc/wf.yaml:3: sources[1]: unknown source type 'telepathy'"),
        ("sources:\n  - type: sim\n    sed: 4\n", "/etc/wf.yaml:3: sources[0]: unknown key 'sed'"),
        ("sources:\n  - type: sim\n    seed: many\n",
         "/etc/wf.yaml:3: sources[0]: 'seed' must be an integer, not 'many'"),
        ("sources:\n  - scenario: healthy\n", "/etc/wf.yaml:2: sources[0]: missing 'type'"),
        ("sources: sim\n", "/etc/wf.yaml:1: 'sources' must be a list"),
        ("theme: [a]\n", "/etc/wf.yaml:1: 'theme' must be a string"),
        ("interval: 1\ninterval: 2\n", "/etc/wf.yaml:2: config: duplicate key 'interval'"),
        ("sources:\n  - type: sim\n   bad: [\n", "/etc/wf.yaml:3: not valid YAML"),
        ("- just\n- a list\n", "/etc/wf.yaml:1: config must be a mapping"),
    ],
)  # fmt: skip
def test_mistakes_name_the_file_and_line(text: str, expected: str) -> None:
    assert _error(text).startswith(expected)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml", SOURCE_TYPES)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(binary, SOURCE_TYPES)


def test_thresholds_are_validated_and_applied() -> None:
    from console.analysis.thresholds import THRESHOLDS, configure

    config = parse_config("thresholds:\n  link_hot_util: 80\n  stall_seconds: 5\n", "t.yaml",
                          SOURCE_TYPES)  # fmt: skip
    assert config.thresholds == {"link_hot_util": 80.0, "stall_seconds": 5.0}
    try:
        configure(config.thresholds)
        assert (THRESHOLDS.link_hot_util, THRESHOLDS.stall_ratio) == (80.0, 0.6)
    finally:
        configure({})
    assert THRESHOLDS.link_hot_util == 90.0
    for text, message in (
        ("thresholds:\n  link_hot: 80\n", "t.yaml:2: thresholds: unknown key 'link_hot'"),
        ("thresholds:\n  stall_ratio: high\n", "t.yaml:2: thresholds: 'stall_ratio' must be"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(text, "t.yaml", SOURCE_TYPES)
        assert str(info.value).startswith(message)


BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=False)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOMB + "interval: *i\n", "aliases expand past 100,000 values"),
        ("interval: !!python/object/apply:os.system [true]\n",
         "/etc/wf.yaml:1: could not determine a constructor for the tag"),
        ("interval: " + "[" * 3000 + "]" * 3000 + "\n", "/etc/wf.yaml:1: nested"),
        ("interval: " + "[" * 80 + "]" * 80 + "\n", "nested deeper than 64 levels"),
    ],
)  # fmt: skip
def test_yaml_bombs_tags_and_depth_are_one_line_errors(text: str, expected: str) -> None:
    import time

    started = time.monotonic()
    message = _error(text)
    assert expected in message and "\n" not in message
    assert len(message) < 400  # a user's value is shown bounded, never expanded
    assert time.monotonic() - started < 5


def test_a_long_value_is_shown_bounded_in_the_error() -> None:
    message = _error("interval: [" + ", ".join(["x" * 50] * 5000) + "]\n")
    assert "'interval' must be a positive number" in message and len(message) < 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval: 1.0e-300\n", "/etc/wf.yaml:1: 'interval' must be a positive number, not 1e"),
        ("sources:\n  - type: exposure\n    interval: 1.0e-300\n",
         "/etc/wf.yaml:3: sources[0]: 'interval' must be seconds between 0.01 and 86400"),
        ("sources:\n  - type: agent\n    url: http://a:1\n    timeout: -5\n",
         "/etc/wf.yaml:4: sources[0]: 'timeout' must be seconds between"),
    ],
)  # fmt: skip
def test_absurd_intervals_and_timeouts_are_refused(text: str, expected: str) -> None:
    assert _error(text).startswith(expected)
