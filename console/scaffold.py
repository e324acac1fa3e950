"""``watchfloor plugin new NAME``: a third-party plugin package that works as generated.

The files come from ``console/plugin_template`` (shipped in the wheel), with
``{{token}}`` placeholders filled in. The result has a pyproject with the entry
point, a source, a pane, an analyzer, a palette command, a theme variable, tests
that pass, and a README saying what to change.
"""

from __future__ import annotations

import importlib.resources
import keyword
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from console import __version__
from console.api import API_VERSION
from console.core.model import ENTITY_KINDS

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
"""A plugin name: lowercase words joined by '-' (``demo-pane``, ``cdu2``)."""
MAX_NAME = 32
"""Longest plugin name (it is also the plugin's entity kind)."""
TEMPLATE_SUFFIX = ".tmpl"


class ScaffoldError(ValueError):
    """Why a plugin cannot be made with that name or there (one line, exit 2)."""


@dataclass(frozen=True)
class PluginNames:
    """Every name derived from what the user typed."""

    plugin: str
    """Plugin, entry point, source type and entity kind: ``demo-pane``."""
    dist: str
    """Distribution: ``watchfloor-demo-pane``."""
    package: str
    """Import package: ``watchfloor_demo_pane``."""
    title: str
    """Pane title: ``Demo pane``."""
    cls: str
    """Class-name stem: ``DemoPane``."""
    key: str | None
    """The pane's key, or None when every letter of the name is taken."""

    def tokens(self) -> dict[str, str]:
        """Placeholder → text, for the templates."""
        return {
            "plugin": self.plugin, "dist": self.dist, "package": self.package,
            "title": self.title, "class": self.cls,
            "key_repr": f'"{self.key}"' if self.key else "None",
            "key_text": self.key or "none: use ': " + self.plugin + "'",
            "open_hint": f"press {self.key}" if self.key else f"press : then type {self.plugin}",
            "api_version": str(API_VERSION), "watchfloor_version": __version__,
        }  # fmt: skip


def check_name(name: str) -> str:
    """The plugin name in ``name`` (``watchfloor-`` dropped), or ScaffoldError."""
    plugin = name.removeprefix("watchfloor-")
    if not NAME_PATTERN.fullmatch(plugin) or len(plugin) > MAX_NAME:
        raise ScaffoldError(
            f"{name!r} is not a plugin name: use lowercase letters, digits and '-', "
            f"starting with a letter, at most {MAX_NAME} (e.g. demo-pane)"
        )
    return plugin


def names_for(name: str, taken_keys: set[str], taken_plugins: dict[str, str]) -> PluginNames:
    """The names for ``name``, or ScaffoldError saying what is wrong with it.

    Args:
        taken_keys: Keys the console or installed panes use.
        taken_plugins: Installed plugin names → the distribution providing each.
    """
    plugin = check_name(name)
    owner = taken_plugins.get(plugin)
    if plugin in ENTITY_KINDS or plugin == "core" or owner == "watchfloor":
        raise ScaffoldError(f"{plugin!r} is taken by Watchfloor itself: choose another name")
    if owner is not None:
        raise ScaffoldError(f"{plugin!r} is already an installed plugin (from {owner}): "
                            "choose another name")  # fmt: skip
    package = "watchfloor_" + plugin.replace("-", "_")
    if keyword.iskeyword(package):  # pragma: no cover - the prefix rules it out
        raise ScaffoldError(f"{name!r} gives a Python keyword as package name")
    words = plugin.split("-")
    key = next((c for c in plugin if c.isalpha() and c not in taken_keys), None)
    return PluginNames(
        plugin=plugin,
        dist=f"watchfloor-{plugin}",
        package=package,
        title=" ".join(words).capitalize(),
        cls="".join(word.capitalize() for word in words),
        key=key,
    )


def _fill(text: str, tokens: dict[str, str]) -> str:
    for token, value in tokens.items():
        text = text.replace("{{" + token + "}}", value)
    return text


def _walk(folder: Traversable, prefix: str = "") -> list[tuple[str, str]]:
    """(relative path, text) of every template file under ``folder``."""
    files = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            files += _walk(entry, path + "/")
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            files.append((path, entry.read_text(encoding="utf-8")))
    return files


def template_files() -> list[tuple[str, str]]:
    """Every template file shipped with watchfloor, as (path, text)."""
    return _walk(importlib.resources.files("console") / "plugin_template")


def scaffold(
    name: str, parent: Path, taken_keys: set[str], taken_plugins: dict[str, str]
) -> tuple[Path, PluginNames]:
    """Write the package for ``name`` under ``parent``; returns its directory and names.

    Raises ScaffoldError for a bad or taken name, or a directory that already
    exists (nothing is written then).
    """
    check_name(name)
    target = parent / name
    if target.exists():
        raise ScaffoldError(f"{target} already exists: choose another name or remove it")
    if not parent.is_dir():
        raise ScaffoldError(f"{parent}: no such directory")
    names = names_for(name, taken_keys, taken_plugins)
    tokens = names.tokens()
    files = [(_fill(path, tokens).removesuffix(TEMPLATE_SUFFIX), _fill(text, tokens))
             for path, text in template_files()]  # fmt: skip
    for path, text in files:
        out = target / ("." + path if path == "gitignore" else path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return target, names
