"""Helpers for a plugin's own tests: build its sources from config text, collect
once through the real engine, and open its panes in the real app under Pilot.

These run exactly the code the console runs (option validation, timeouts, the
batch check, analyzers, pane containment), so a plugin tested with them behaves
the same when installed. ``docs/plugins.md`` shows them in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from console.api import Plugin, Source, SourceStatus
from console.core.config import Config, parse_config
from console.core.engine import Engine
from console.core.model import Finding
from console.core.plugins import Registry
from console.core.runtime import CORE_PLUGIN, DemoOptions, build_sources
from console.core.store import Store

if TYPE_CHECKING:
    from console.ui.app import WatchfloorApp

TEST_CLOCK_START = 1_700_000_000.0
"""Where the frozen clock of :func:`plugin_app` stands (2023-11-14 22:13 UTC)."""

__all__ = ["Collected", "collect", "plugin_app", "sources_from_yaml"]


def registry_for(plugin: Plugin, builtins: bool = False) -> Registry:
    """The core, the built-in plugins if asked, and this plugin."""
    plugins = [CORE_PLUGIN]
    if builtins:
        from console.core.plugins import discover

        plugins += [r.plugin for r in discover() if r.plugin and r.distribution == "watchfloor"]
    plugins = [p for p in plugins if p.name != plugin.name] + [plugin]
    return Registry.build(plugins)


def sources_from_yaml(plugin: Plugin, text: str, base_dir: Path | None = None) -> list[Source]:
    """The sources a config file's ``sources:`` would make for this plugin.

    ``text`` is config YAML (``sources: [{type: pdu, url: ...}]``); it is validated
    as the console validates a config file, so a bad option raises
    :class:`console.core.config.ConfigError` with the same ``file:line:`` message.
    """
    registry = registry_for(plugin)
    where = base_dir or Path.cwd()
    config = parse_config(text, str(where / "config.yaml"), registry.source_types)
    return build_sources(config, registry, None, local=False)


@dataclass
class Collected:
    """What one collection produced."""

    store: Store
    """Entities, latest readings and history."""
    statuses: list[SourceStatus] = field(default_factory=list)
    """Each source's health: ``ok``, or ``failed`` with the reason the user would see."""
    findings: list[Finding] = field(default_factory=list)
    """What the plugin's analyzers (and the core's) said."""
    analyzer_errors: dict[str, str] = field(default_factory=dict)
    """Analyzers that raised, with the reason."""


async def collect(
    sources: Sequence[Source], plugin: Plugin | None = None, cycles: int = 1
) -> Collected:
    """Poll every source ``cycles`` times through the real engine (timeouts, the
    batch check), then run the plugin's analyzers; sources are closed after."""
    analyzers = list(plugin.analyzers) if plugin is not None else []
    engine = Engine(Store(), list(sources), analyzers)
    try:
        await engine.collect(cycles)
    finally:
        await engine.stop()
    return Collected(
        engine.store, engine.statuses(), list(engine.store.findings), dict(engine.analyzer_errors)
    )


def plugin_app(
    plugin: Plugin,
    sources: Sequence[Source] = (),
    *,
    demo: bool = False,
    builtins: bool = False,
    theme: str | None = None,
    cycles: int = 2,
) -> WatchfloorApp:
    """The console with this plugin, for ``async with app.run_test() as pilot``.

    Not live: ``cycles`` collections happen before the first frame, on a frozen
    clock, so what the pane shows is deterministic. ``demo`` adds the simulated
    cluster (nodes, GPUs, jobs) and ``builtins`` the built-in panes, for a plugin
    whose refs lead to theirs.
    """
    from console.ui.app import WatchfloorApp

    registry = registry_for(plugin, builtins=builtins)
    all_sources = list(sources)
    if demo:
        all_sources = build_sources(Config(), registry, DemoOptions(), local=False) + all_sources
    return WatchfloorApp(
        registry, all_sources, theme_name=theme, live=False, warm_cycles=cycles,
        clock=lambda: TEST_CLOCK_START,
    )  # fmt: skip
