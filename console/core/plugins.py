"""Plugin discovery through the ``watchfloor.plugins`` entry-point group.

Built-in plugins register there exactly as third-party ones do. A plugin that
fails to import, is declared wrongly, or needs another API version, is recorded
as failed with its reason and skipped: the console goes on without it. Clashes
between plugins (two panes on one key) are settled first-come and noted.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from console import __version__
from console.api import API_VERSION, Analyzer, Command, Pane, Plugin, PluginError, SourceType
from console.core.text import plain

ENTRY_POINT_GROUP = "watchfloor.plugins"
"""Where plugins register."""
RESERVED_KEYS: dict[str, str] = {
    "q": "quit", "question_mark": "help", "colon": "command palette", "slash": "filter",
    "escape": "back", "enter": "open", "tab": "next panel", "shift+tab": "previous panel",
    "up": "cursor", "down": "cursor", "pageup": "cursor", "pagedown": "cursor",
    "home": "cursor", "end": "cursor",
}  # fmt: skip
"""Keys the console keeps for itself; a pane that asks for one gets no key."""
KEY_NAMES = {"?": "question_mark", ":": "colon", "/": "slash"}
"""Characters a pane may give as its key, under their Textual names."""


def api_refusal(needed: int) -> str:
    """Why a plugin written for another API version is refused, and what to do."""
    fix = (
        "upgrade watchfloor, or install a release of the plugin made for API "
        f"{API_VERSION}" if needed > API_VERSION
        else f"install a release of the plugin made for API {API_VERSION}"
    )  # fmt: skip
    return (
        f"needs plugin API {needed}, but watchfloor {__version__} provides API {API_VERSION}: {fix}"
    )


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
    distribution: str = ""
    """Name of the installed distribution that provides it (``watchfloor`` for built-ins)."""
    notes: list[str] = field(default_factory=list)
    """Things worth knowing that do not stop it (a key taken, a source disabled)."""


def _load(entry_point: importlib.metadata.EntryPoint) -> PluginRecord:
    dist = entry_point.dist
    version = dist.version if dist is not None else "?"
    record = PluginRecord(entry_point.name, version, "failed", origin=entry_point.value)
    record.distribution = dist.name if dist is not None else ""
    try:
        obj = entry_point.load()
        plugin = obj() if callable(obj) and not isinstance(obj, Plugin) else obj
    except PluginError as exc:
        record.reason = plain(f"invalid plugin: {exc}")
        return record
    except BaseException as exc:  # a plugin's import may even call sys.exit
        if isinstance(exc, KeyboardInterrupt):
            raise
        record.reason = plain(f"import failed: {type(exc).__name__}: {exc}")
        return record
    if not isinstance(plugin, Plugin):
        record.reason = f"entry point gives {type(plugin).__name__}, not console.api.Plugin"
        return record
    if plugin.api_version != API_VERSION:
        record.reason = api_refusal(plugin.api_version)
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
    pane_plugin: dict[str, str] = field(default_factory=dict)
    """Pane id → name of the plugin that provides it."""
    source_type_plugin: dict[str, str] = field(default_factory=dict)
    """Source type → name of the plugin that provides it."""
    analyzer_plugin: dict[str, str] = field(default_factory=dict)
    """Analyzer name (as the engine reports it) → name of the plugin that provides it."""
    kind_plugin: dict[str, str] = field(default_factory=dict)
    """Entity kind a plugin declared → name of that plugin."""

    @classmethod
    def build(cls, plugins: Iterable[Plugin], records: Sequence[PluginRecord] = ()) -> Registry:
        """Merge plugins (the core's first, then discovered ones); first come, first served."""
        registry = cls(records=list(records))
        for plugin in plugins:
            record = next((r for r in registry.records if r.plugin is plugin), None)
            owner = record.name if record is not None else plugin.name
            notes = record.notes if record is not None else []
            for source_type in plugin.source_types:
                other = registry.source_type_plugin.get(source_type.name)
                if other is not None:
                    notes.append(f"source type {source_type.name!r} is also provided by "
                                 f"{other!r}: this one is ignored")  # fmt: skip
                    continue
                registry.source_types[source_type.name] = source_type
                registry.source_type_plugin[source_type.name] = owner
            for pane in plugin.panes:
                added = registry._add_pane(pane, owner, notes)
                if added is not None:
                    registry.panes.append(added)
            registry.analyzers += plugin.analyzers
            for analyzer in plugin.analyzers:
                name = getattr(analyzer, "__qualname__", repr(analyzer))
                registry.analyzer_plugin.setdefault(name, owner)
            registry.commands += plugin.commands
            for kind in plugin.entity_kinds:
                registry.kind_plugin.setdefault(kind, owner)
            for name, value in plugin.theme_variables.items():
                registry.theme_variables.setdefault(name, value)
        return registry

    def _add_pane(self, pane: Pane, owner: str, notes: list[str]) -> Pane | None:
        other = self.pane_plugin.get(pane.id)
        if other is not None:
            notes.append(f"pane id {pane.id!r} is also used by {other!r}: this pane is ignored")
            return None
        self.pane_plugin[pane.id] = owner
        for kind in pane.opens:
            first = self.pane_for(kind)
            if first is not None:
                notes.append(f"pane {pane.id!r}: {kind} refs already open in pane {first.id!r}")
        if pane.key is None:
            return pane
        key = KEY_NAMES.get(pane.key, pane.key)
        taken = RESERVED_KEYS.get(key)
        if taken is None:
            taken = next((f"pane {p.id!r}" for p in self.panes if p.key == key), None)
        if taken is not None:
            notes.append(f"pane {pane.id!r}: key {pane.key!r} is taken ({taken}): it has no key")
            return dataclasses.replace(pane, key=None)
        return dataclasses.replace(pane, key=key) if key != pane.key else pane

    def pane_for(self, kind: str) -> Pane | None:
        """The first pane that opens entities of this kind."""
        return next((pane for pane in self.panes if kind in pane.opens), None)

    def pane(self, pane_id: str) -> Pane | None:
        """The pane of this id, or ``None``."""
        return next((pane for pane in self.panes if pane.id == pane_id), None)

    def plugin_of(self, pane_id: str) -> str | None:
        """Name of the plugin that provides a pane (``None`` for the console's own views)."""
        return self.pane_plugin.get(pane_id)

    def source_types_of(self, plugin: str) -> set[str]:
        """Source types a plugin provides (to show its sources' health on its panes)."""
        return {t for t, owner in self.source_type_plugin.items() if owner == plugin}

    def kinds_of(self, plugin: str) -> set[str]:
        """Entity kinds a plugin declared."""
        return {k for k, owner in self.kind_plugin.items() if owner == plugin}

    def provides(self, plugin: str) -> str:
        """``pane pdu [u], source pdu, kind pdu`` — what a plugin adds, in one line."""
        parts = [
            f"pane {pane.id}"
            + (f" [{pane.key}]" if pane.key else "")
            + (f" (opens {', '.join(pane.opens)})" if pane.opens else "")
            for pane in self.panes
            if self.plugin_of(pane.id) == plugin
        ]
        parts += [f"source {t}" for t in sorted(self.source_types_of(plugin))]
        parts += [f"kind {k}" for k in sorted(self.kinds_of(plugin))]
        commands = [c.name for r in self.records if r.name == plugin and r.plugin
                    for c in r.plugin.commands]  # fmt: skip
        parts += [f"command {c}" for c in commands]
        return ", ".join(parts)

    def record(self, plugin: str) -> PluginRecord | None:
        """The discovery record of a plugin, by entry-point name."""
        return next((r for r in self.records if r.name == plugin), None)
