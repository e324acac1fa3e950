"""The public plugin API: the only module of ``console`` that plugins import.

A plugin is a :class:`Plugin` object exposed through the ``watchfloor.plugins``
entry-point group. It declares:

- **source types** — configurable factories of async :class:`Source` objects that
  return :class:`Batch` es of entities and samples;
- **panes** — Textual widgets and the entity kinds they open;
- **analyzers** — functions from the store to findings;
- **commands** — command-palette entries;
- **entity kinds**, **metrics** and **theme variables** of its own.

``docs/plugins.md`` is the guide and the reference for every name here.

Importing this module does not import Textual (the agent and headless commands
stay light). The pane toolkit — ``PaneBase``, ``EntityTable`` and the formatting
helpers in ``UI_NAMES`` and ``STEADY_NAMES`` — is loaded from here on first use.
"""

from __future__ import annotations

import abc
import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from console.acting.actions import Action, Actions, Outcome, drain_reason, node_of, slurm_action
from console.analysis.causes import Cause, Explanation, explain, link_jobs
from console.analysis.cost import CostModel, power_summary
from console.analysis.jobs import job_loss, job_state, jobs_shown_stalled
from console.analysis.policy import SECURITY, SecurityPolicy
from console.analysis.power import BUDGETS, Budgets
from console.analysis.thresholds import THRESHOLDS, Thresholds
from console.collect.gpu_codes import (
    clock_event_words,
    is_throttled,
    pstate_name,
    short_reasons,
    xid_meaning,
)
from console.collect.ibfabric import (
    IbFabric,
    PortCounters,
    counter_samples,
    fabric_entities,
    looks_like_ibnetdiscover,
    parse_ibnetdiscover,
    parse_node_name_map,
    parse_perfquery,
    place,
    place_hca,
)
from console.core.intake import MAX_SERIES_PER_SOURCE
from console.core.model import (
    ENTITY_KINDS,
    METRICS,
    SEVERITIES,
    Batch,
    Column,
    Entity,
    Finding,
    MetricSpec,
    Sample,
    declare_entity_kinds,
    declare_metrics,
    entity_kinds,
    link_ref,
    make_ref,
    normalize_ref,
    port_ref,
    prometheus_name,
    ref_kind,
)
from console.core.run_command import CommandFailed, CommandResult, run_command
from console.core.safe_file import UnsafeFile, read_bytes, read_text, read_text_async, read_token
from console.core.store import Reading, Store, natural_sorted
from console.core.text import plain

UI_NAMES = (
    "ActionScreen",
    "ConfirmScreen",
    "DetailPane",
    "EntityTable",
    "PaneBase",
    "cell",
    "confirm_action",
    "confirm_dangerous",
    "facts_text",
    "findings_text",
    "fmt",
    "fmt_age",
    "fmt_bytes_rate",
    "heat_level",
    "job_state_text",
    "metric_line",
    "metrics_text",
    "plural",
    "role_style",
    "severity_text",
    "spark",
    "title_bar",
)
"""Pane toolkit names, imported lazily from the console's UI kit."""

STEADY_NAMES = ("SPARK_STEP", "SteadyValues", "SteppedSparks", "stepped_spark")
"""Steady values and stepped sparklines for lists read over slow links, imported lazily
from ``console.ui.steady``."""


def __getattr__(name: str) -> Any:
    if name in UI_NAMES:
        from console.ui import kit

        return getattr(kit, name)
    if name in STEADY_NAMES:
        from console.ui import steady

        return getattr(steady, name)
    raise AttributeError(f"module 'console.api' has no attribute {name!r}")


API_VERSION = 1
"""Version of this API. A plugin that needs another version is refused with a clear reason.

It goes up only when an existing contract changes; additions keep it."""

__all__ = [
    "UnsafeFile",
    "read_bytes",
    "read_text",
    "read_text_async",
    "read_token",
    "API_VERSION",
    "Action",
    "Actions",
    "CommandFailed",
    "CommandResult",
    "Outcome",
    "drain_reason",
    "node_of",
    "run_command",
    "slurm_action",
    "BUDGETS",
    "ENTITY_KINDS",
    "METRICS",
    "SECURITY",
    "REFRESH_BUDGET",
    "SEVERITIES",
    "THRESHOLDS",
    "Analyzer",
    "Batch",
    "Budgets",
    "Cause",
    "Column",
    "Command",
    "CostModel",
    "Entity",
    "Explanation",
    "FileSource",
    "Finding",
    "IbFabric",
    "MetricSpec",
    "Option",
    "Pane",
    "PluginError",
    "PaneContext",
    "PaneWidget",
    "Plugin",
    "PortCounters",
    "Reading",
    "Sample",
    "SecurityPolicy",
    "Source",
    "SourceContext",
    "SourceDisabled",
    "SourceError",
    "SourceStatus",
    "SourceType",
    "Store",
    "Thresholds",
    "clock_event_words",
    "counter_samples",
    "fabric_entities",
    "entity_kinds",
    "explain",
    "is_throttled",
    "job_loss",
    "job_state",
    "jobs_shown_stalled",
    "lazy",
    "link_jobs",
    "link_ref",
    "looks_like_ibnetdiscover",
    "make_ref",
    "natural_sorted",
    "normalize_ref",
    "parse_ibnetdiscover",
    "parse_node_name_map",
    "parse_perfquery",
    "place",
    "place_hca",
    "plain",
    "port_ref",
    "power_summary",
    "prometheus_name",
    "pstate_name",
    "ref_kind",
    "short_reasons",
    "xid_meaning",
    *UI_NAMES,
    *STEADY_NAMES,
]


REFRESH_BUDGET = 0.05
"""Seconds a pane's ``refresh_view`` may take. A pane slower than this, refresh after
refresh, is named in a notification and in the Plugins view, and refreshed less often."""

THEME_VARIABLE = re.compile(r"[a-z][a-z0-9-]*")
"""What a theme variable's name looks like (``pdu-overload``)."""


class PluginError(ValueError):
    """A :class:`Plugin` declared wrongly (a bad entity kind, a clashing metric).

    Raised when the Plugin is made, so the entry point fails to load and
    ``watchfloor plugins`` shows the message as the reason."""


class SourceDisabled(Exception):
    """Raised by a source that cannot work here (no NVML library): shown as *disabled*.

    The engine stops polling it; the message is the one-line reason shown to the user.
    """


class SourceError(Exception):
    """A failure the source explains in words (``refused``, ``401 unauthorized``):
    shown as the message alone, without an exception class name."""


class Source(abc.ABC):
    """An async poller. The engine calls :meth:`poll` on its interval.

    Contract:
        - ``poll`` never runs concurrently with itself; the engine waits for one
          poll to finish (or time out) before scheduling the next.
        - Blocking work (NVML, many ``/sys`` reads) goes through
          ``asyncio.to_thread``; the engine cancels a poll after ``timeout`` seconds.
        - Raise any exception to report a failure: the message becomes the
          source's reason, the engine backs off and keeps the last good data.
    """

    name: str = "source"
    """Unique name among configured sources, shown in the sources table."""
    type: str = "source"
    """The source type it was made from (``sim``, ``nvml``, ``agent``)."""
    interval: float = 1.0
    """Seconds between polls."""
    timeout: float = 5.0
    """Seconds a poll may take before it is cancelled and counted as failed."""
    mirror: bool = False
    """Speaks for another console's store, sending only what changed (the collector's
    relay): its entities stay until it removes them (``Batch.removed``), never expire."""

    max_series: int = MAX_SERIES_PER_SOURCE
    """(ref, metric) series this source may own in the store; new ones past it are
    refused and its status says so (an agent, which reports one node, gets far fewer)."""

    simulated_clock: bool = False
    """The source plays a simulation (demo, replay) whose clock is the console's "now";
    any other source's times are never later than the console's clock."""

    checks_its_batches: bool = False
    """Its decoder checks every field of what it returns, as the engine's batch check
    would (the agent's wire): the engine does not check its batches again."""

    times_its_waits: bool = False
    """Every wait of its poll is under a deadline of its own (``timeout``): the engine
    arms no timer for it (a thousand agents poll a thousand times a second)."""

    local_default: bool = False
    """Set by the console on a source it started by itself (no config named it):
    ``snapshot --strict`` judges only the sources a config or ``--demo`` asked for."""

    @abc.abstractmethod
    async def poll(self) -> Batch:
        """Collect once and return the entities and samples seen."""

    async def close(self) -> None:  # noqa: B027 - optional hook with a working default
        """Release connections or threads; called once when the engine stops."""

    keeps_past: bool = False
    """The source can answer :meth:`past` (a server that keeps history: Prometheus)."""

    async def past(self, start: float, end: float, step: float) -> list[Batch]:
        """What the source held from ``start`` to ``end``, one batch every ``step``
        seconds, oldest first (each with its ``time``): rewind reads it for times before
        the flight recording starts. Only sources with :attr:`keeps_past` answer; the
        blocking work goes through ``asyncio.to_thread`` as in :meth:`poll`."""
        return []


class FileSource(Source):
    """A source that re-reads one file on its interval and parses it.

    Subclasses implement :meth:`parse`; a missing or unreadable file, or a parse
    error (``ValueError`` with a ``file:line:`` message), is the source's reason.
    """

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        """The file read."""
        self.name = f"{self.type}:{path.name}"
        self.interval = interval

    @abc.abstractmethod
    def parse(self, text: str, origin: str) -> Batch:
        """What the file says, or ValueError naming ``origin`` and the line."""

    async def poll(self) -> Batch:
        try:  # in a thread, abandoned at a timeout; a FIFO or a device is refused by name
            text = await read_text_async(self.path, timeout=max(1.0, self.timeout - 0.5))
        except UnsafeFile as exc:
            raise SourceError(str(exc)) from None
        try:
            return self.parse(text, str(self.path))
        except ValueError as exc:
            raise SourceError(str(exc)) from None


@dataclass(frozen=True)
class Option:
    """One option of a source type in the config file, validated with file:line errors."""

    name: str
    types: tuple[type, ...]
    """Accepted Python types after YAML parsing (``(int, float)`` for a number)."""
    default: Any = None
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class SourceContext:
    """What a source factory gets besides its options."""

    interval: float
    """The configured default refresh interval, in seconds."""
    base_dir: str
    """Directory of the config file, for resolving relative paths."""
    options: Mapping[str, Any]
    """Validated options, defaults filled in."""


@dataclass(frozen=True)
class SourceType:
    """A kind of source that the config's ``sources:`` list can name by ``type``."""

    name: str
    factory: Callable[[SourceContext], Sequence[Source]]
    """Builds the sources for one config entry (an agent URL range gives several)."""
    options: Sequence[Option] = ()
    help: str = ""
    local_default: bool = False
    """Started by plain ``watchfloor`` on the local machine even with no config."""


@dataclass(frozen=True)
class SourceStatus:
    """Health of one source as the engine sees it."""

    name: str
    type: str
    status: str
    """``ok``, ``stale``, ``failed`` or ``disabled``."""
    reason: str
    """Why it is not ok ('' when ok)."""
    last_ok: float | None
    """Wall-clock time of the last good poll."""
    polls: int
    failures: int
    """Consecutive failures."""
    duration: float | None
    """Seconds the last poll took."""

    def to_json(self) -> dict[str, Any]:
        """Plain dict for JSON output (no wall-clock times, so output is reproducible)."""
        return {
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "polls": self.polls,
            "failures": self.failures,
        }


class PaneContext(Protocol):
    """What a pane may use: read the store, see source health, open another ref."""

    @property
    def store(self) -> Store:
        """The shared store. Read only: panes never poll and never write."""

    def sources(self) -> list[SourceStatus]:
        """Current health of every source."""

    def open(self, ref: str) -> None:
        """Drill down to another entity (the pane that opens its kind shows it)."""

    def now(self) -> float:
        """The console's clock (frozen in snapshot tests)."""

    @property
    def read_only(self) -> bool:
        """True under ``--read-only``: dangerous actions are refused."""

    def is_local(self, ref: str) -> bool:
        """True when ``ref`` was reported by a source on this machine (NVML, host)."""

    @property
    def cost(self) -> CostModel:
        """The site's prices (``cost:`` in the config)."""

    @property
    def actions(self) -> Actions:
        """The guard, runner and audit log of console actions (see :func:`confirm_action`)."""


@runtime_checkable
class PaneWidget(Protocol):
    """What the console calls on a pane's widget, on its coalesced refresh tick.

    Only the visible pane is refreshed; ``refresh_view`` must be quick (the time
    it takes is measured) and must show remote strings as plain text (use
    :func:`plain` or ``rich.text.Text``).
    """

    def refresh_view(self) -> None:
        """Redraw from ``context.store``."""


@dataclass(frozen=True)
class Pane:
    """A view a plugin adds: a top-level pane, and/or the detail view of some entity kinds."""

    id: str
    title: str
    create: Callable[[PaneContext, str | None], Any]
    """Returns a Textual widget implementing :class:`PaneWidget`; the ref is the entity
    to show, or ``None`` for the pane's top-level (list) view."""
    opens: tuple[str, ...] = ()
    """Entity kinds whose refs this pane shows (``("gpu",)``)."""
    key: str | None = None
    """A key that opens the top-level view from anywhere, or ``None``."""
    reads: tuple[str, ...] = ()
    """Entity kinds whose every entity's attrs the top-level view reads when drawn (the
    GPU pane: every GPU's health). A rewind decodes them in its thread before the view
    is drawn: an entity read back from a recording decodes its attrs when first read,
    and 32,000 GPUs' took the UI's loop ~150 ms."""


def lazy(target: str) -> Callable[[PaneContext, str | None], Any]:
    """A pane factory that imports ``"package.module:function"`` on first use.

    Lets a plugin name its pane without importing Textual at discovery, so the
    agent and headless commands stay light.
    """

    def create(context: PaneContext, ref: str | None) -> Any:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(context, ref)

    return create


Analyzer = Callable[[Store], Iterable[Finding]]
"""Runs after each engine cycle; returns findings about entities in the store."""


@dataclass(frozen=True)
class Command:
    """A command-palette entry: ``name`` then free text (``goto job/4711``)."""

    name: str
    help: str
    run: Callable[[PaneContext, str], None]


@dataclass(frozen=True)
class Plugin:
    """What a plugin's entry point resolves to (or a zero-argument callable returning it)."""

    name: str
    version: str
    api_version: int = API_VERSION
    """The API version this plugin was written for."""
    source_types: Sequence[SourceType] = ()
    panes: Sequence[Pane] = ()
    analyzers: Sequence[Analyzer] = ()
    commands: Sequence[Command] = ()
    theme_variables: Mapping[str, str] = field(default_factory=dict)
    """CSS variables this plugin's panes use, with defaults a theme file can override.

    A default is a colour (``"#ff8800"``, ``"ansi_red"``) or another variable
    (``"$warning"``), which then follows each theme."""
    entity_kinds: Sequence[str] = ()
    """Entity kinds this plugin's refs name (``("pdu",)``): :func:`make_ref` accepts
    them once the Plugin is made, and panes can open them."""
    metrics: Sequence[MetricSpec] = ()
    """Metrics this plugin's sources report, added to :data:`METRICS` (units, counters)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise PluginError("a Plugin needs a name")
        if not isinstance(self.api_version, int) or isinstance(self.api_version, bool):
            raise PluginError(f"plugin {self.name!r}: api_version must be an integer")
        for variable in self.theme_variables:
            if not THEME_VARIABLE.fullmatch(variable):
                raise PluginError(
                    f"plugin {self.name!r}: theme variable {variable!r} must be lowercase "
                    "letters, digits and '-'"
                )
        try:
            declare_entity_kinds(self.entity_kinds, self.name)
            declare_metrics(self.metrics, self.name)
        except ValueError as exc:
            raise PluginError(f"plugin {self.name!r}: {exc}") from None
