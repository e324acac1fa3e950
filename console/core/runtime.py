"""Wiring: plugins + config (or demo options) → sources → engine and store.

The TUI, ``snapshot`` and (later) the agent all start from here, so they run
the same engine on the same sources.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from console import __version__
from console.acting.action_commands import ACTION_COMMANDS
from console.acting.actions import Actions
from console.acting.audit_source import AuditSource
from console.agent.source_type import AGENT_SOURCE
from console.analysis import CORE_ANALYZERS
from console.api import Batch, Plugin, Source, SourceContext, SourceType
from console.collect.topology_file import TOPOLOGY_SOURCE
from console.core.config import ActionsConfig, Config, ConfigError, SourceEntry, load_config
from console.core.engine import Engine
from console.core.plugins import PluginRecord, Registry, discover
from console.core.store import Store
from console.core.text import plain
from console.serve.source_type import CONSOLE_SOURCE
from console.sim.source import SIM_SOURCE

CORE_PLUGIN = Plugin(
    name="core",
    version=__version__,
    source_types=(SIM_SOURCE, AGENT_SOURCE, TOPOLOGY_SOURCE, CONSOLE_SOURCE),
    analyzers=CORE_ANALYZERS,
    commands=ACTION_COMMANDS,
)
"""What the console itself provides, merged ahead of discovered plugins."""


@dataclass(frozen=True)
class DemoOptions:
    """``--demo`` / ``demo``: which simulated cluster to play."""

    scenario: str = "congested-link"
    seed: int = 1
    nodes: int = 4
    agent_urls: tuple[str, ...] = ()
    """With agents (``demo --agents``): nodes come from these, the fabric from the sim."""
    onset: float | None = None
    """Seconds after the start that the scenario's fault begins (``None``: its own)."""


class BrokenSource(Source):
    """Stands in for a source whose factory failed, so the failure stays visible."""

    def __init__(self, name: str, type_name: str, reason: str) -> None:
        self.name = name
        self.type = type_name
        self.reason = reason

    async def poll(self) -> Batch:
        raise RuntimeError(self.reason)


def load_registry(records: Sequence[PluginRecord] | None = None) -> Registry:
    """Discover plugins (unless given) and merge them behind the core."""
    found = discover() if records is None else list(records)
    plugins = [CORE_PLUGIN, *(r.plugin for r in found if r.plugin is not None)]
    return Registry.build(plugins, found)


def _make_sources(entry: SourceEntry, registry: Registry, config: Config) -> list[Source]:
    source_type = registry.source_types[entry.type]
    context = SourceContext(
        interval=config.interval, base_dir=str(config.base_dir), options=entry.options
    )
    try:
        sources = list(source_type.factory(context))
    except ValueError as exc:
        if entry.line and config.path is not None:
            # The factory refused an option the schema could not judge (a host range
            # of millions, a path that is no directory): a config mistake, said as one.
            index = next(i for i, e in enumerate(config.sources) if e is entry)
            raise ConfigError(
                f"{config.path}:{entry.line}: sources[{index}]: {entry.type}: {plain(str(exc))}"
            ) from None
        return [BrokenSource(entry.type, entry.type, plain(f"cannot start: {exc}"))]
    except Exception as exc:
        reason = plain(f"cannot start: {type(exc).__name__}: {exc}")
        return [BrokenSource(entry.type, entry.type, reason)]
    return sources


def _unique_names(sources: list[Source]) -> None:
    seen: dict[str, int] = {}
    for source in sources:
        count = seen.get(source.name, 0)
        seen[source.name] = count + 1
        if count:
            source.name = f"{source.name}#{count + 1}"


def _defaults(source_type: SourceType) -> dict[str, object]:
    return {option.name: option.default for option in source_type.options}


def build_sources(
    config: Config, registry: Registry, demo: DemoOptions | None, local: bool
) -> list[Source]:
    """Sources for a run: the demo's simulator, the local defaults, then the config's."""
    entries: list[SourceEntry] = []
    if demo is not None:
        options = _defaults(SIM_SOURCE) | {
            "scenario": demo.scenario, "seed": demo.seed, "nodes": demo.nodes, "onset": demo.onset,
            "scope": "fabric" if demo.agent_urls else "all",
        }  # fmt: skip
        entries.append(SourceEntry("sim", options, 0))
        entries += [
            SourceEntry("agent", _defaults(AGENT_SOURCE) | {"url": url}, 0)
            for url in demo.agent_urls
        ]
    elif local:
        # A configured source of a type replaces that type's local default: a
        # `type: host` with `sysfs: /host/sys` must not run beside a second host
        # source naming the same node from another tree.
        configured = {entry.type for entry in config.sources}
        entries += [
            SourceEntry(t.name, _defaults(t), 0)
            for t in registry.source_types.values()
            if t.local_default and t.name not in configured
        ]
    defaults = len(entries) if demo is None else 0
    entries += config.sources
    if config.topology is not None:
        entries.append(SourceEntry("topology", {"path": str(config.topology)}, 0))
    sources = []
    for index, entry in enumerate(entries):
        made = _make_sources(entry, registry, config)
        for source in made:
            source.local_default = index < defaults
        sources += made
    if audited(config, demo):
        sources.append(AuditSource(make_actions(config).audit_log))
    _unique_names(sources)
    return sources


def audited(config: Config, demo: DemoOptions | None) -> bool:
    """Whether the audit log is read back for the security timeline: when the config
    has an ``actions:`` section, or (outside the demo) when the default log exists."""
    if config.actions is not None:
        return config.actions.enabled
    return demo is None and make_actions(config).audit_log.exists()


def make_actions(config: Config, read_only: bool = False) -> Actions:
    """The console's actions as the config's ``actions:`` section and ``--read-only`` say."""
    settings = config.actions or ActionsConfig()
    actions = Actions(enabled=settings.enabled, read_only=read_only)
    if settings.audit_log is not None:
        actions.audit_log = settings.audit_log
    return actions


def read_config(path: Path | None, registry: Registry, required: bool) -> Config:
    """Load the config at ``path``; a missing default config is an empty one."""
    if path is None:
        from console.core.config import default_config_path

        path = default_config_path()
        if not path.exists():
            return Config()
    elif not path.exists() and not required:
        return Config()
    from console.ui.wall_rules import pane_names

    return load_config(path, registry.source_types, pane_names(registry))


async def probe_plugins(records: Sequence[PluginRecord], interval: float = 1.0) -> None:
    """Poll each loaded plugin's local sources once; a source that raises or hangs
    marks its plugin failed (``watchfloor plugins`` shows why)."""
    checks: list[tuple[PluginRecord, Engine]] = []
    for record in records:
        if record.plugin is None:
            continue
        local = [t for t in record.plugin.source_types if t.local_default]
        sources: list[Source] = []
        for source_type in local:
            options = {o.name: o.default for o in source_type.options}
            context = SourceContext(interval=interval, base_dir=".", options=options)
            try:
                sources += source_type.factory(context)
            except Exception as exc:
                sources.append(BrokenSource(source_type.name, source_type.name, plain(exc)))
        if sources:
            checks.append((record, Engine(Store(), sources)))
    await asyncio.gather(*(engine.collect(1) for _, engine in checks))
    for record, engine in checks:
        await engine.stop()
        failures = []
        for status in engine.statuses():
            if status.status in ("failed", "stale"):
                failures.append(f"source {status.name} failed: {status.reason}")
            elif status.status == "disabled":
                record.notes.append(f"source {status.name} disabled: {status.reason}")
        if failures:
            record.status, record.reason = "failed", "; ".join(failures)


def build_engine(
    sources: list[Source],
    registry: Registry,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
) -> Engine:
    """An engine over these sources with every analyzer the plugins provide."""
    return Engine(store or Store(), sources, registry.analyzers, clock=clock)


__all__ = [
    "CORE_PLUGIN",
    "ConfigError",
    "DemoOptions",
    "build_engine",
    "build_sources",
    "load_registry",
    "make_actions",
    "read_config",
]
