"""The YAML config file: load, validate, and report mistakes with file:line.

The shape is fixed by DESIGN.md (``interval``, ``theme``, ``sources``,
``topology``). Each source entry's options are validated against the options its
source type declares, so a plugin's source gets the same file:line errors.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from console.alerting.config import AlertingConfig, parse_alerting
from console.analysis.cost import CostModel, PriceWindow
from console.analysis.policy import KEYS as SECURITY_KEYS
from console.analysis.thresholds import NAMES as THRESHOLD_NAMES
from console.api import Option, SourceType
from console.core.safe_file import UnsafeFile, read_text


class ConfigError(ValueError):
    """A config mistake; the message starts with ``file:line:``."""


@dataclass
class SourceEntry:
    """One validated item of ``sources:``."""

    type: str
    options: dict[str, Any]
    line: int


@dataclass(frozen=True)
class WallConfig:
    """``wall:``: what wall mode rotates through, and how long it dwells."""

    panes: tuple[str, ...] = ()
    """Pane names in rotation order; empty: the overview and every plugin pane."""
    dwell: float = 30.0
    """Seconds each pane stays on screen."""
    hold: float = 120.0
    """Seconds a new critical finding stops the rotation (and stays on screen)."""


@dataclass(frozen=True)
class ActionsConfig:
    """``actions:``: whether the console may act on the cluster, and where it logs that."""

    enabled: bool = True
    audit_log: Path | None = None
    """The audit log (default ``$XDG_STATE_HOME/watchfloor/actions.log``)."""


@dataclass(frozen=True)
class HistoryConfig:
    """``history:``: the flight recorder (on by default)."""

    path: Path | None = None
    """The recording's directory; ``None``: ``$XDG_STATE_HOME/watchfloor/recording``."""
    keep: float = 86_400.0
    """Seconds of recording kept (incidents' minutes are kept longer)."""
    max_mb: float = 2000.0
    """Most megabytes the recording may take on disk."""
    enabled: bool = True


@dataclass
class Config:
    """A validated config."""

    path: Path | None = None
    interval: float = 1.0
    theme: str | None = None
    sources: list[SourceEntry] = field(default_factory=list)
    topology: Path | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    """Overrides of the analysis thresholds (``console.analysis.thresholds``)."""
    cost: CostModel = field(default_factory=CostModel)
    """Prices that turn watts into money."""
    budgets: dict[str, dict[str, float]] = field(default_factory=lambda: {"racks": {}, "nodes": {}})
    """Power budgets in watts: ``racks: {rack01: 40000}``, ``nodes: {gpu001: 5000}``."""
    security: dict[str, list[str]] = field(default_factory=dict)
    """The security policy (``console.analysis.policy``): allowlists, expected listeners."""
    wall: WallConfig = field(default_factory=WallConfig)
    """Wall mode (``--wall``): rotation and dwell."""
    alerting: AlertingConfig = field(default_factory=AlertingConfig)
    """Findings to the pager (``console.alerting``)."""
    actions: ActionsConfig | None = None
    """``actions:`` as given (``None``: not in the config; actions on, default log)."""
    history: HistoryConfig = field(default_factory=HistoryConfig)
    """The flight recorder."""

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self.path.parent if self.path else Path.cwd()


TOP_LEVEL_KEYS = (
    "interval", "theme", "sources", "topology", "thresholds", "cost", "budgets", "security",
    "wall", "actions", "history", "alerting",
)  # fmt: skip


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/watchfloor/config.yaml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "watchfloor" / "config.yaml"


def _type_name(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping"}  # fmt: skip
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # YAML `yes` is not a number
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


SECONDS_OPTIONS = frozenset({"interval", "timeout"})
MIN_SECONDS, MAX_SECONDS = 0.01, 86_400.0
"""What a source's interval or timeout may be."""


class YamlWhere:
    """Turns a YAML node into a `file:line:` error."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, node: yaml.Node | None, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ConfigError(f"{self.path}:{line}: {message}")


def yaml_scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:  # a !!python/… tag, a bad timestamp: one line, the line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"<config>:{node.start_mark.line + 1}: {problem}") from None
    finally:
        loader.dispose()


def yaml_mapping(loader: YamlWhere, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise loader.error(node, f"{what} must be a mapping of keys to values")
    items = []
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = yaml_scalar(key_node)
        if not isinstance(key, str):
            raise loader.error(key_node, f"{what}: keys must be strings, not {shown(key)}")
        if key in seen:
            raise loader.error(key_node, f"{what}: duplicate key {shown(key)}")
        seen.add(key)
        items.append((key, value_node))
    return items


def _option_value(loader: YamlWhere, option: Option, node: yaml.Node, where: str) -> Any:
    value = yaml_scalar(node)
    if not _check_type(value, option.types):
        raise loader.error(
            node, f"{where}: {option.name!r} must be {_type_name(option.types)}, not {shown(value)}"
        )
    if option.name in SECONDS_OPTIONS and not MIN_SECONDS <= value <= MAX_SECONDS:
        # timeout: -5 or interval: 1e-300 (a busy loop) are mistakes, not settings
        raise loader.error(node, f"{where}: {option.name!r} must be seconds between "
                           f"{MIN_SECONDS:g} and {MAX_SECONDS:g}, not {shown(value)}")  # fmt: skip
    return value


def _source_entry(
    loader: YamlWhere, index: int, node: yaml.Node, source_types: Mapping[str, SourceType]
) -> SourceEntry:
    where = f"sources[{index}]"
    items = dict(yaml_mapping(loader, node, where))
    type_node = items.pop("type", None)
    if type_node is None:
        raise loader.error(node, f"{where}: missing 'type' (one of: {', '.join(source_types)})")
    type_name = yaml_scalar(type_node)
    source_type = source_types.get(type_name) if isinstance(type_name, str) else None
    if source_type is None:
        known = ", ".join(sorted(source_types))
        raise loader.error(
            type_node, f"{where}: unknown source type {shown(type_name)} (known: {known})"
        )
    declared = {option.name: option for option in source_type.options}
    options: dict[str, Any] = {}
    for key, value_node in items.items():
        option = declared.get(key)
        if option is None:
            allowed = ", ".join(["type", *declared]) or "type"
            raise loader.error(
                value_node, f"{where}: unknown key {shown(key)} for type {shown(type_name)} "
                f"(allowed: {allowed})"
            )  # fmt: skip
        options[key] = _option_value(loader, option, value_node, where)
    for option in source_type.options:
        if option.name not in options:
            if option.required:
                raise loader.error(node, f"{where}: type {shown(type_name)} needs {option.name!r}")
            options[option.name] = option.default
    return SourceEntry(type_name, options, node.start_mark.line + 1)


MAX_YAML_NODES = 100_000
"""Nodes a config may hold once its aliases are expanded (a billion-laughs file has 10⁹)."""
MAX_YAML_DEPTH = 64
"""Nesting a config may have (deeper is refused before Python's recursion limit)."""


def _expanded_size(root: yaml.Node, path: str) -> None:
    """Refuse a node graph whose aliases expand past MAX_YAML_NODES or nest too deep.

    Aliases make the composed tree a graph that costs nothing until a value is
    built from it (or printed in an error): count what it would expand to, once per
    shared node, without expanding it.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_YAML_DEPTH:
            line = node.start_mark.line + 1
            raise ConfigError(f"{path}:{line}: nested deeper than {MAX_YAML_DEPTH} levels")
        known = sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        if total > MAX_YAML_NODES:
            line = node.start_mark.line + 1
            raise ConfigError(
                f"{path}:{line}: aliases expand past {MAX_YAML_NODES:,} values (a YAML bomb?)"
            )
        sizes[id(node)] = total
        return total

    size(root, 0)


def shown(value: object) -> str:
    """A user's value in an error message: its repr, bounded in work and length."""
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 3, 4, 4, 40, 40


def compose_yaml(text: str, path: str) -> yaml.Node | None:
    """The YAML node tree (which keeps line numbers), or ConfigError naming the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ConfigError(f"{path}:1: nested too deeply to read") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{path}:{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}:1: not valid YAML: {exc}") from None
    if root is not None:
        _expanded_size(root, path)
    return root


def _minutes(loader: YamlWhere, node: yaml.Node, value: Any) -> int:
    text = str(value)
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit()) or int(hours) > 23 or int(minutes) > 59:
        raise loader.error(node, f"cost: {shown(text)} is not a time of day (HH:MM)")
    return int(hours) * 60 + int(minutes)


def _cost_model(loader: YamlWhere, node: yaml.Node) -> CostModel:
    numbers = {"price_per_kwh", "pue", "gpu_hour"}
    values: dict[str, Any] = {}
    windows: list[PriceWindow] = []
    for key, value_node in yaml_mapping(loader, node, "cost"):
        value = yaml_scalar(value_node)
        if key in numbers:
            if not _check_type(value, (float,)) or value < 0:
                raise loader.error(value_node, f"cost: {shown(key)} must be a non-negative number")
            values[key] = float(value)
        elif key == "currency":
            if not isinstance(value, str) or not value:
                raise loader.error(value_node, "cost: 'currency' must be a string")
            values[key] = value
        elif key == "time_of_day":
            if not isinstance(value_node, yaml.SequenceNode):
                raise loader.error(value_node, "cost: 'time_of_day' must be a list")
            for item in value_node.value:
                window = dict(yaml_mapping(loader, item, "cost.time_of_day"))
                if set(window) != {"from", "to", "price_per_kwh"}:
                    raise loader.error(item, "cost.time_of_day: each needs from, to, price_per_kwh")
                price = yaml_scalar(window["price_per_kwh"])
                if not _check_type(price, (float,)) or price < 0:
                    raise loader.error(item, "cost.time_of_day: price_per_kwh must be a number")
                start = _minutes(loader, window["from"], yaml_scalar(window["from"]))
                end = _minutes(loader, window["to"], yaml_scalar(window["to"]))
                windows.append(PriceWindow(start, end, float(price)))
        else:
            raise loader.error(value_node, f"cost: unknown key {shown(key)} (allowed: currency, "
                               "price_per_kwh, pue, gpu_hour, time_of_day)")  # fmt: skip
    return CostModel(time_of_day=tuple(windows), **values)


def _security(loader: YamlWhere, node: yaml.Node) -> dict[str, list[str]]:
    policy: dict[str, list[str]] = {}
    for key, value_node in yaml_mapping(loader, node, "security"):
        if key not in SECURITY_KEYS:
            raise loader.error(value_node, f"security: unknown key {shown(key)} "
                               f"(allowed: {', '.join(SECURITY_KEYS)})")  # fmt: skip
        value = yaml_scalar(value_node)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise loader.error(value_node, f"security: {shown(key)} must be a list of strings")
        policy[key] = value
    return policy


def _wall_config(
    loader: YamlWhere, node: yaml.Node, pane_names: Collection[str] | None
) -> WallConfig:
    values: dict[str, Any] = {}
    for key, value_node in yaml_mapping(loader, node, "wall"):
        if key == "panes":
            if not isinstance(value_node, yaml.SequenceNode) or not value_node.value:
                raise loader.error(value_node, "wall: 'panes' must be a non-empty list of names")
            names = []
            for item in value_node.value:
                name = yaml_scalar(item)
                if not isinstance(name, str) or not name:
                    raise loader.error(item, f"wall.panes: {shown(name)} is not a pane name")
                if pane_names is not None and name not in pane_names:
                    known = ", ".join(sorted(pane_names))
                    raise loader.error(
                        item, f"wall.panes: unknown pane {shown(name)} (known: {known})"
                    )
                names.append(name)
            values["panes"] = tuple(names)
        elif key in ("dwell", "hold"):
            value = yaml_scalar(value_node)
            low_ok = key == "hold"  # hold 0: a new critical never stops the rotation
            if not _check_type(value, (float,)) or value < 0 or (value == 0 and not low_ok):
                what = "a non-negative" if low_ok else "a positive"
                raise loader.error(value_node, f"wall: {shown(key)} must be {what} number of "
                                   f"seconds, not {shown(value)}")  # fmt: skip
            values[key] = float(value)
        else:
            raise loader.error(value_node, f"wall: unknown key {shown(key)} "
                               "(allowed: panes, dwell, hold)")  # fmt: skip
    return WallConfig(**values)


def _actions_config(loader: YamlWhere, node: yaml.Node, base_dir: Path) -> ActionsConfig:
    values: dict[str, Any] = {}
    for key, value_node in yaml_mapping(loader, node, "actions"):
        value = yaml_scalar(value_node)
        if key == "enabled":
            if not isinstance(value, bool):
                raise loader.error(value_node, f"actions: 'enabled' must be true/false, "
                                   f"not {shown(value)}")  # fmt: skip
            values["enabled"] = value
        elif key == "audit_log":
            if not isinstance(value, str) or not value:
                raise loader.error(value_node, f"actions: 'audit_log' must be a file path, "
                                   f"not {shown(value)}")  # fmt: skip
            values["audit_log"] = base_dir / Path(value).expanduser()
        else:
            raise loader.error(value_node, f"actions: unknown key {shown(key)} "
                               "(allowed: enabled, audit_log)")  # fmt: skip
    return ActionsConfig(**values)


def _history_config(loader: YamlWhere, node: yaml.Node, base_dir: Path) -> HistoryConfig:
    from console.recording.timespec import parse_duration

    values: dict[str, Any] = {}
    for key, value_node in yaml_mapping(loader, node, "history"):
        value = yaml_scalar(value_node)
        if key == "path":
            if not isinstance(value, str) or not value:
                raise loader.error(value_node, f"history: 'path' must be a directory, "
                                   f"not {shown(value)}")  # fmt: skip
            values["path"] = base_dir / Path(value).expanduser()
        elif key == "keep":
            seconds = (
                float(value) if _check_type(value, (float,))
                else parse_duration(value) if isinstance(value, str) else None
            )  # fmt: skip
            if seconds is None or seconds <= 0:
                raise loader.error(value_node, f"history: 'keep' must be a duration such as "
                                   f"24h, 90m or 3600 (seconds), not {shown(value)}")  # fmt: skip
            values["keep"] = seconds
        elif key == "max_mb":
            if not _check_type(value, (float,)) or value <= 0:
                raise loader.error(value_node, f"history: 'max_mb' must be a positive number "
                                   f"of megabytes, not {shown(value)}")  # fmt: skip
            values["max_mb"] = float(value)
        elif key == "enabled":
            if not isinstance(value, bool):
                raise loader.error(value_node, f"history: 'enabled' must be true/false, "
                                   f"not {shown(value)}")  # fmt: skip
            values["enabled"] = value
        else:
            raise loader.error(value_node, f"history: unknown key {shown(key)} "
                               "(allowed: path, keep, max_mb, enabled)")  # fmt: skip
    return HistoryConfig(**values)


def parse_config(
    text: str,
    path: str,
    source_types: Mapping[str, SourceType],
    pane_names: Collection[str] | None = None,
) -> Config:
    """Validate config text; raise :class:`ConfigError` naming ``path`` and the line.

    ``pane_names``: the names ``wall.panes`` may use (unchecked when ``None``).
    """
    try:
        return _parse_config(text, path, source_types, pane_names)
    except ConfigError as exc:  # yaml_scalar does not know the file: name it here
        raise ConfigError(str(exc).replace("<config>:", f"{path}:", 1)) from None


def _parse_config(
    text: str,
    path: str,
    source_types: Mapping[str, SourceType],
    pane_names: Collection[str] | None,
) -> Config:
    loader = YamlWhere(path)
    root = compose_yaml(text, path)
    config = Config(path=Path(path))
    if root is None:
        return config
    for key, node in yaml_mapping(loader, root, "config"):
        if key not in TOP_LEVEL_KEYS:
            allowed = ", ".join(TOP_LEVEL_KEYS)
            raise loader.error(node, f"unknown key {shown(key)} (allowed: {allowed})")
        if key == "interval":
            value = yaml_scalar(node)
            if not _check_type(value, (float,)) or not MIN_SECONDS <= value <= MAX_SECONDS:
                raise loader.error(
                    node, f"'interval' must be a positive number, not {shown(value)} "
                    f"(seconds, {MIN_SECONDS:g} to {MAX_SECONDS:g})"
                )  # fmt: skip
            config.interval = float(value)
        elif key == "theme":
            value = yaml_scalar(node)
            if not isinstance(value, str):
                raise loader.error(node, f"'theme' must be a string, not {shown(value)}")
            config.theme = value
        elif key == "topology":
            value = yaml_scalar(node)
            if not isinstance(value, str):
                raise loader.error(node, f"'topology' must be a file path, not {shown(value)}")
            config.topology = config.base_dir / value
        elif key == "budgets":
            for scope, scope_node in yaml_mapping(loader, node, "budgets"):
                if scope not in ("racks", "nodes"):
                    raise loader.error(scope_node, f"budgets: unknown key {shown(scope)} "
                                       "(allowed: racks, nodes)")  # fmt: skip
                for name, value_node in yaml_mapping(loader, scope_node, f"budgets.{scope}"):
                    value = yaml_scalar(value_node)
                    if not _check_type(value, (float,)) or value <= 0:
                        raise loader.error(value_node, f"budgets.{scope}: {shown(name)} must be a "
                                           "positive number of watts")  # fmt: skip
                    config.budgets[scope][name] = float(value)
        elif key == "cost":
            config.cost = _cost_model(loader, node)
        elif key == "security":
            config.security = _security(loader, node)
        elif key == "wall":
            config.wall = _wall_config(loader, node, pane_names)
        elif key == "alerting":
            config.alerting = parse_alerting(loader, node, config.base_dir)
        elif key == "actions":
            config.actions = _actions_config(loader, node, config.base_dir)
        elif key == "history":
            config.history = _history_config(loader, node, config.base_dir)
        elif key == "thresholds":
            for name, value_node in yaml_mapping(loader, node, "thresholds"):
                if name not in THRESHOLD_NAMES:
                    raise loader.error(value_node, f"thresholds: unknown key {shown(name)} "
                                       f"(allowed: {', '.join(THRESHOLD_NAMES)})")  # fmt: skip
                value = yaml_scalar(value_node)
                if not _check_type(value, (float,)) or value < 0:
                    raise loader.error(value_node, f"thresholds: {shown(name)} must be a "
                                       f"non-negative number, not {shown(value)}")  # fmt: skip
                config.thresholds[name] = float(value)
        elif key == "sources":
            if isinstance(node, yaml.ScalarNode) and yaml_scalar(node) is None:
                continue
            if not isinstance(node, yaml.SequenceNode):
                raise loader.error(node, "'sources' must be a list of source entries")
            config.sources = [
                _source_entry(loader, i, item, source_types) for i, item in enumerate(node.value)
            ]
    return config


def load_config(
    path: Path, source_types: Mapping[str, SourceType], pane_names: Collection[str] | None = None
) -> Config:
    """Read and validate a config file."""
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{path}: no such config file")
    try:  # non-blocking, regular files only, size-capped (a FIFO or /dev/zero is refused)
        text = read_text(path)
    except UnsafeFile as exc:
        raise ConfigError(str(exc).replace(": cannot read:", ": cannot read config:", 1)) from None
    return parse_config(text, str(path), source_types, pane_names)
