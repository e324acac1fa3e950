"""Theme files: YAML data, validated on load (every colour parsed).

Failures are collected and shown once; an invalid or unknown configured theme
falls back to the default, so a typo never keeps the console from starting.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "dark"
COLOUR_KEYS = (
    "primary", "secondary", "warning", "error", "success", "accent",
    "foreground", "background", "surface", "panel", "boost",
)  # fmt: skip
FLAG_KEYS = ("dark", "ansi")
ROLE_DEFAULTS: dict[str, str] = {
    "heat-0": "#3b4252",
    "heat-1": "#2f6fa8",
    "heat-2": "#4ea1ff",
    "heat-3": "#ffb454",
    "heat-4": "#ff5c57",
    "gpu-hot": "#ff5c57",
    "link-congested": "#ff5c57",
    "stale": "#8a93a3",
    "ok": "#5fd7a7",
    "failed": "#ff5c57",
    "rewind": "#c678dd",
}
"""The console's own theme variables, with defaults a theme file overrides."""


@dataclass
class ThemeSet:
    """Every theme that loaded, and what went wrong with the rest."""

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _colour(value: Any, where: str, errors: list[str]) -> str | None:
    if not isinstance(value, str):
        errors.append(f"{where}: colour must be a string, not {value!r}")
        return None
    try:
        Color.parse(value)
    except ColorParseError:
        errors.append(f"{where}: {value!r} is not a colour")
        return None
    return value


def parse_theme(text: str, origin: str) -> tuple[Theme | None, list[str]]:
    """One theme from YAML text; ``(None, errors)`` when it is invalid."""
    errors: list[str] = []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        return None, [f"{origin}{line}: not valid YAML"]
    if not isinstance(data, dict):
        return None, [f"{origin}: a theme file is a mapping of keys to colours"]
    name = data.get("name")
    if not isinstance(name, str) or not name:
        errors.append(f"{origin}: 'name' is required")
    arguments: dict[str, Any] = {}
    for key, value in data.items():
        if key == "name":
            continue
        if key in COLOUR_KEYS:
            arguments[key] = _colour(value, f"{origin}: {key}", errors)
        elif key in FLAG_KEYS:
            if not isinstance(value, bool):
                errors.append(f"{origin}: {key} must be true or false")
            arguments[key] = bool(value)
        elif key == "variables":
            if not isinstance(value, dict):
                errors.append(f"{origin}: variables must be a mapping")
                continue
            arguments["variables"] = {
                str(k): _colour(v, f"{origin}: variables.{k}", errors) for k, v in value.items()
            }
        else:
            errors.append(f"{origin}: unknown key {key!r}")
    if "primary" not in arguments:
        errors.append(f"{origin}: 'primary' is required")
    if errors or not isinstance(name, str):
        return None, errors
    return Theme(name=name, **arguments), []


def _theme_files() -> list[tuple[str, str]]:
    files = importlib.resources.files("console.themes")
    return sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in files.iterdir()
        if entry.name.endswith(".yaml")
    )


def user_theme_dir() -> Path:
    """``$XDG_CONFIG_HOME/watchfloor/themes``: the user's own themes (``*.yaml``), which
    may add to or replace a shipped one (a file named ``dark`` wins over the shipped dark)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "watchfloor" / "themes"


def load_themes(extra_dirs: tuple[Path, ...] = ()) -> ThemeSet:
    """The shipped themes plus ``*.yaml`` from ``extra_dirs`` (later ones win)."""
    result = ThemeSet()
    sources = [(f"themes/{name}", text) for name, text in _theme_files()]
    for directory in extra_dirs:
        for path in sorted(directory.glob("*.yaml")):
            try:
                sources.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                result.errors.append(f"{path}: cannot read: {exc}")
    for origin, text in sources:
        theme, errors = parse_theme(text, origin)
        result.errors += errors
        if theme is not None:
            result.themes[theme.name] = theme
    return result


def resolve_theme(name: str | None, themes: ThemeSet | None = None) -> tuple[str, list[str]]:
    """The theme to use for ``name``, and notices to show once (bad files, unknown name)."""
    themes = themes or load_themes()
    notices = list(themes.errors)
    if name is None:
        return DEFAULT_THEME, notices
    if name not in themes.themes:
        known = ", ".join(sorted(themes.themes))
        notices.append(f"unknown theme {name!r} (known: {known}); using {DEFAULT_THEME!r}")
        return DEFAULT_THEME, notices
    return name, notices


REFERENCE_DEPTH = 4
"""How many ``$a`` → ``$b`` steps a variable's value may take before it must be a colour."""


def _core_variable_names() -> set[str]:
    generated = Theme(name="probe", primary="#000000").to_color_system().generate()
    return set(generated) | set(ROLE_DEFAULTS)


def check_plugin_variables(variables: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Plugin theme variables whose defaults are a colour or ``$another-variable``,
    and a notice for each one that is not (it is left out)."""
    known = _core_variable_names() | set(variables)
    valid: dict[str, str] = {}
    problems: list[str] = []
    for name, value in variables.items():
        where = f"plugin theme variable {name!r}"
        if isinstance(value, str) and value.startswith("$"):
            if value[1:] in known:
                valid[name] = value
            else:
                problems.append(f"{where}: {value!r} names no theme variable")
            continue
        errors: list[str] = []
        if _colour(value, where, errors) is not None:
            valid[name] = value
        problems += errors
    return valid, problems


def resolve_references(variables: dict[str, str]) -> dict[str, str]:
    """Each ``$name`` value replaced by what ``name`` is in the same mapping.

    A plugin's default such as ``"$warning"`` thus follows every theme (the ANSI
    one included); a theme file can still give the variable a colour of its own.
    """
    resolved = dict(variables)
    for name, value in variables.items():
        for _ in range(REFERENCE_DEPTH):
            if not value.startswith("$") or value[1:] not in resolved:
                break
            value = resolved[value[1:]]
        resolved[name] = value
    return resolved
