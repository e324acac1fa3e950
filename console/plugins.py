"""Plugin discovery through the ``watchfloor.plugins`` entry-point group.

Built-in plugins register there exactly as third-party ones do. A plugin that
fails to import, or that needs another API version, is recorded as failed with
its reason and skipped: the console goes on without it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from console.api import API_VERSION, Analyzer, Command, Pane, Plugin, SourceType
from console.text import plain

ENTRY_POINT_GROUP = "watchfloor.plugins"
"""Where plugins register."""


@dataclass
class PluginRecord:
    """One discovered plugin and how loading it went."""

    name: str
    """Entry-point name."""
    version: str
    """Version of the distribution that provides it."""
    status: str
    """``loaded`` or ``failed``."""
    reason: str = ""
    plugin: Plugin | None = None
    origin: str = ""
    """``module:attr`` the entry point names."""


def _load(entry_point: importlib.metadata.EntryPoint) -> PluginRecord:
    dist = entry_point.dist
    version = dist.version if dist is not None else "?"
    record = PluginRecord(entry_point.name, version, "failed", origin=entry_point.value)
    try:
        obj = entry_point.load()
        plugin = obj() if callable(obj) and not isinstance(obj, Plugin) else obj
    except BaseException as exc:  # a plugin's import may even call sys.exit
        if isinstance(exc, KeyboardInterrupt):
            raise
        record.reason = plain(f"import failed: {type(exc).__name__}: {exc}")
        return record
    if not isinstance(plugin, Plugin):
        record.reason = f"entry point gives {type(plugin).__name__}, not console.api.Plugin"
        return record
    if plugin.api_version != API_VERSION:
        record.reason = (
            f"needs plugin API {plugin.api_version}, this console provides {API_VERSION}"
        )
        return record
    record.status, record.plugin = "loaded", plugin
    return record


def discover(group: str = ENTRY_POINT_GROUP) -> list[PluginRecord]:
    """Load every plugin registered in the entry-point group, sorted by name."""
    entry_points = importlib.metadata.entry_points(group=group)
    return sorted((_load(ep) for ep in entry_points), key=lambda r: r.name)


@dataclass
class Registry:
    """What the loaded plugins provide, merged."""

    records: list[PluginRecord] = field(default_factory=list)
    source_types: dict[str, SourceType] = field(default_factory=dict)
    panes: list[Pane] = field(default_factory=list)
    analyzers: list[Analyzer] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    theme_variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, plugins: Iterable[Plugin], records: Sequence[PluginRecord] = ()) -> Registry:
        """Merge plugins (the core's first, then discovered ones)."""
        registry = cls(records=list(records))
        for plugin in plugins:
            for source_type in plugin.source_types:
                registry.source_types.setdefault(source_type.name, source_type)
            registry.panes += plugin.panes
            registry.analyzers += plugin.analyzers
            registry.commands += plugin.commands
            for name, value in plugin.theme_variables.items():
                registry.theme_variables.setdefault(name, value)
        return registry

    def pane_for(self, kind: str) -> Pane | None:
        """The first pane that opens entities of this kind."""
        return next((pane for pane in self.panes if kind in pane.opens), None)
