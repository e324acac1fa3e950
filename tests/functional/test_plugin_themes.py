"""Plugin theme variables: defaults that follow every shipped theme, and that a theme
file overrides; a bad default is a notice, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import ComposeResult
from textual.color import Color
from textual.widgets import Static

from console.api import Pane, PaneBase, PaneContext, Plugin
from console.core.plugins import Registry
from console.core.runtime import CORE_PLUGIN
from console.ui.app import WatchfloorApp
from console.ui.themes_loader import check_plugin_variables, load_themes, resolve_references
from tests.conftest import frozen_clock

SHIPPED = ("ansi", "dark", "high-contrast", "light")


class RackPane(PaneBase):
    """Uses the plugin's variables in CSS (and so needs them declared)."""

    DEFAULT_CSS = """
    RackPane > .hot { color: $rack-hot; }
    RackPane > .cool { color: $rack-cool; }
    """

    def compose(self) -> ComposeResult:
        yield Static("hot", classes="hot")
        yield Static("cool", classes="cool")


def create(context: PaneContext, ref: str | None) -> PaneBase:
    return RackPane(context, ref)


PLUGIN = Plugin(
    "racks-theme",
    "1.0",
    panes=(Pane("racks-theme", "Racks", create, key="k"),),
    theme_variables={"rack-hot": "$warning", "rack-cool": "#2f6fa8"},
)


def app_with(theme: str, extra_themes: tuple[Path, ...] = ()) -> WatchfloorApp:
    registry = Registry.build([CORE_PLUGIN, PLUGIN])
    return WatchfloorApp(
        registry, [], theme_name=theme, live=False, clock=frozen_clock,
        themes=load_themes(extra_themes),
    )  # fmt: skip


def colours(app: WatchfloorApp) -> tuple[Color, Color]:
    pane = app.screen.query_one(RackPane)
    return pane.query_one(".hot").styles.color, pane.query_one(".cool").styles.color


@pytest.mark.parametrize("theme", SHIPPED)
async def test_plugin_defaults_apply_in_every_shipped_theme(theme: str) -> None:
    app = app_with(theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("k")
        hot, cool = colours(app)
        # "$warning" follows each theme; a plain colour is the same everywhere.
        warning = app.theme_variables["warning"]
        assert app.theme_variables["rack-hot"] == warning
        assert hot == Color.parse(warning)
        assert cool == Color.parse("#2f6fa8")
        assert app.notices == []


@pytest.mark.parametrize("theme", SHIPPED)
async def test_a_theme_file_overrides_plugin_variables(theme: str, tmp_path: Path) -> None:
    shipped = (Path(__file__).resolve().parents[2] / "themes" / f"{theme}.yaml").read_text()
    # The shipped theme, with the plugin's variables added to its own (as a site would).
    override = shipped.replace("variables:\n", "variables:\n  rack-hot: '#aa00aa'\n"
                               "  rack-cool: '#00aaaa'\n", 1)  # fmt: skip
    (tmp_path / f"{theme}.yaml").write_text(override)
    app = app_with(theme, (tmp_path,))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("k")
        assert colours(app) == (Color.parse("#aa00aa"), Color.parse("#00aaaa"))


def test_bad_plugin_defaults_are_left_out_with_a_notice() -> None:
    valid, problems = check_plugin_variables(
        {"rack-hot": "$warning", "rack-odd": "$no-such-variable", "rack-bad": "hotpink-ish",
         "rack-ok": "ansi_red", "rack-chain": "$rack-hot"}
    )  # fmt: skip
    assert valid == {"rack-hot": "$warning", "rack-ok": "ansi_red", "rack-chain": "$rack-hot"}
    assert problems == [
        "plugin theme variable 'rack-odd': '$no-such-variable' names no theme variable",
        "plugin theme variable 'rack-bad': 'hotpink-ish' is not a colour",
    ]
    resolved = resolve_references({"warning": "#ffb454", **valid})
    assert resolved["rack-chain"] == "#ffb454"


async def test_a_plugin_with_a_bad_default_still_starts_and_says_why() -> None:
    plugin = Plugin("racks-bad", "1.0", theme_variables={"rack-bad": "not a colour"})
    app = WatchfloorApp(Registry.build([CORE_PLUGIN, plugin]), [], live=False, clock=frozen_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert "plugin theme variable 'rack-bad': 'not a colour' is not a colour" in said
