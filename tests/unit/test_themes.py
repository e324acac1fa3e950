"""Theme files: validated on load, bad ones reported once, fallback to the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.ui.themes_loader import (
    DEFAULT_THEME,
    ROLE_DEFAULTS,
    load_themes,
    parse_theme,
    resolve_theme,
    user_theme_dir,
)

SHIPPED = ("ansi", "dark", "high-contrast", "light", "wall")


def test_every_shipped_theme_loads_and_sets_every_role() -> None:
    themes = load_themes()
    assert themes.errors == []
    assert sorted(themes.themes) == list(SHIPPED)
    for theme in themes.themes.values():
        assert set(ROLE_DEFAULTS) <= set(theme.variables), theme.name
    assert themes.themes["ansi"].ansi is True
    assert themes.themes["light"].dark is False


def test_bad_colours_and_keys_are_all_collected() -> None:
    theme, errors = parse_theme(
        "name: broken\nprimary: not-a-colour\nbackgroud: '#000'\nvariables:\n  gpu-hot: 12\n",
        "themes/broken.yaml",
    )
    assert theme is None
    assert errors == [
        "themes/broken.yaml: primary: 'not-a-colour' is not a colour",
        "themes/broken.yaml: unknown key 'backgroud'",
        "themes/broken.yaml: variables.gpu-hot: colour must be a string, not 12",
    ]


def test_a_bad_theme_file_gives_a_notice_and_the_default_is_used(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nprimary: '#zzz'\n")
    themes = load_themes((tmp_path,))
    name, notices = resolve_theme("mine", themes)
    assert name == DEFAULT_THEME
    assert any("mine.yaml: primary" in n for n in notices)
    assert any("unknown theme 'mine'" in n for n in notices)


def test_a_user_theme_directory_adds_themes(tmp_path: Path) -> None:
    (tmp_path / "noc.yaml").write_text("name: noc\nprimary: '#ffffff'\n")
    name, notices = resolve_theme("noc", load_themes((tmp_path,)))
    assert (name, notices) == ("noc", [])


def test_invalid_yaml_names_the_line() -> None:
    theme, errors = parse_theme("name: x\nprimary: [\n", "t.yaml")
    assert theme is None
    assert errors[0].startswith("t.yaml:3: not valid YAML")


def test_the_user_theme_directory_is_under_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_theme_dir() == tmp_path / "watchfloor" / "themes"
    user_theme_dir().mkdir(parents=True)
    (user_theme_dir() / "noc.yaml").write_text("name: noc\nprimary: '#ffffff'\n")
    assert "noc" in load_themes((user_theme_dir(),)).themes


def test_every_theme_has_a_rewind_colour_no_live_screen_uses() -> None:
    """The REWIND banner must never be mistaken for a live screen."""
    import yaml

    from console.ui.themes_loader import ROLE_DEFAULTS

    assert "rewind" in ROLE_DEFAULTS
    for path in sorted((Path(__file__).resolve().parents[2] / "themes").glob("*.yaml")):
        theme = yaml.safe_load(path.read_text())
        rewind = theme["variables"]["rewind"]
        others = {str(v).lower() for k, v in theme.items() if k not in ("name", "variables")}
        others |= {str(v).lower() for k, v in theme["variables"].items() if k != "rewind"}
        assert str(rewind).lower() not in others, path.name
