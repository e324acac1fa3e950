"""The ``watchfloor`` command line (its commands and flags are fixed by DESIGN.md).

Bad input of any kind gives one clear line on stderr and exit status 2, never a
traceback (set ``WATCHFLOOR_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from console import __version__

if TYPE_CHECKING:
    from console.api import Analyzer, Source
    from console.core.config import Config, WallConfig
    from console.core.engine import Engine
    from console.core.plugins import Registry
    from console.core.runtime import DemoOptions
    from console.recording import Moment, Recorder, Recording

EXIT_USAGE = 2
EXIT_STRICT = 1
"""``snapshot --strict``: it ran, but a configured source is not ok."""


class UsageError(Exception):
    """Something the user can fix; printed as one line, exit status 2."""


def _common(parser: argparse.ArgumentParser, *, demo: bool, top: bool = False) -> None:
    """Flags every command takes. Only the top-level parser sets defaults, so a flag
    given before the subcommand (``watchfloor --theme light demo``) is not reset."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument("--config", type=Path, default=default(None), help="config file "
                        "(default: $XDG_CONFIG_HOME/watchfloor/config.yaml)")  # fmt: skip
    parser.add_argument("--theme", default=default(None), help="theme name (see themes/)")
    parser.add_argument("--interval", type=float, default=default(None),
                        help="refresh interval in seconds")  # fmt: skip
    parser.add_argument("--read-only", action="store_true", default=default(False),
                        help="refuse every dangerous action (kill)")  # fmt: skip
    if demo:
        parser.add_argument("--demo", action="store_true", default=default(False),
                            help="use the simulated cluster")  # fmt: skip
    parser.add_argument("--scenario", default=default("congested-link"), help="simulator scenario")
    parser.add_argument("--seed", type=int, default=default(1), help="simulator seed")
    parser.add_argument("--nodes", type=int, default=default(4), help="simulated nodes (>= 4)")
    parser.add_argument("--onset", type=float, default=default(None), help="simulator: seconds "
                        "after the start that the fault begins (default: 180 before)")  # fmt: skip


def _record_flag(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--no-record``: on the commands that record (top level, ``demo``, ``serve``)."""
    parser.add_argument("--no-record", action="store_true",
                        default=False if top else argparse.SUPPRESS,
                        help="do not write the flight recording (config: history)")  # fmt: skip


def _at_flags(parser: argparse.ArgumentParser) -> None:
    """``--at`` and ``--recording``: answer from the recording instead of collecting."""
    parser.add_argument("--at", metavar="TIME", help="answer from the recording as it was "
                        "then: HH:MM[:SS], ISO-8601, or -10m / -90s")  # fmt: skip
    parser.add_argument("--recording", type=Path, metavar="PATH", help="the recording to read "
                        "(default: the local one; with --demo, the demo's)")  # fmt: skip


def _wall_flags(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--wall`` and ``--dwell``: on the console commands (top level, ``demo``, ``serve``)."""
    parser.add_argument("--wall", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="wall mode for a NOC screen: big tiles, rotating panes, "
                        "no prompts")  # fmt: skip
    parser.add_argument("--dwell", type=float, default=None if top else argparse.SUPPRESS,
                        help="wall mode: seconds on each pane (config: wall.dwell)")  # fmt: skip


def make_parser() -> argparse.ArgumentParser:
    """The argument parser, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="watchfloor", description="Terminal operations console for GPU and AI clusters."
    )
    parser.add_argument("--version", action="version", version=f"watchfloor {__version__}")
    _common(parser, demo=True, top=True)
    _wall_flags(parser, top=True)
    _record_flag(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="the console on the embedded simulated cluster")
    _common(demo, demo=False)
    _wall_flags(demo)
    _record_flag(demo)
    demo.add_argument("--agents", action="store_true",
                      help="poll real agents on loopback, one per simulated node")  # fmt: skip

    snapshot = commands.add_parser("snapshot", help="one collection, printed")
    _common(snapshot, demo=True)
    snapshot.add_argument("--format", choices=("json", "text"), default="text")
    snapshot.add_argument("--strict", action="store_true",
                          help="exit 1 when any configured source is not ok (for scripts "
                               "and health checks)")  # fmt: skip
    _at_flags(snapshot)

    commands.add_parser("plugins", help="discovered plugins, their version and load status")

    plugin = commands.add_parser("plugin", help="tools for plugin authors")
    plugin_actions = plugin.add_subparsers(dest="plugin_action", metavar="ACTION", required=True)
    new = plugin_actions.add_parser(
        "new", help="scaffold a third-party plugin package (see docs/plugins.md)"
    )
    new.add_argument("name", help="plugin name: lowercase letters, digits and '-' (demo-pane)")
    new.add_argument("--dir", type=Path, default=Path("."),
                     help="directory to create it in (default: here)")  # fmt: skip

    explain = commands.add_parser("explain", help="why a job is stalled: the drill-down chain")
    explain.add_argument("job", help="a job id (4711) or ref (job/4711)")
    _common(explain, demo=True)
    explain.add_argument("--format", choices=("json", "text"), default="text")
    _at_flags(explain)

    replay = commands.add_parser("replay", help="the console over a recording")
    replay.add_argument("path", type=Path, help="a recording (its directory or file)")
    replay.add_argument("--at", metavar="TIME", help="where to start (default: the start)")
    replay.add_argument("--speed", type=float, default=1.0,
                        help="recorded seconds played per second (0: paused)")  # fmt: skip
    _common(replay, demo=False)

    recording = commands.add_parser("recording", help="the flight recording: info, export")
    actions = recording.add_subparsers(dest="recording_action", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="what a recording holds: span, size, incidents")
    info.add_argument("--recording", type=Path, metavar="PATH")
    export = actions.add_parser("export", help="one self-contained file, for a bug report")
    export.add_argument("output", type=Path, help="file to write (must not exist)")
    export.add_argument("--recording", type=Path, metavar="PATH")
    export.add_argument("--since", metavar="TIME", help="from this time on (default: all)")
    export.add_argument("--until", metavar="TIME", help="up to this time (default: the end)")
    for sub in (info, export):
        _common(sub, demo=True)

    serve = commands.add_parser("serve", help="the console in a browser (textual-serve); "
                                "every viewer reads one collector")  # fmt: skip
    _common(serve, demo=True)
    _wall_flags(serve)
    _record_flag(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    serve.add_argument(
        "--public",
        action="store_true",
        help="allow a non-loopback --host (put an authenticating proxy in front)",
    )
    serve.add_argument("--public-url", help="the URL browsers use, when behind a proxy")

    watch = commands.add_parser(
        "watch",
        help="headless: collect, analyse and alert with no UI (for a systemd unit); "
        "SIGHUP or a changed config reloads",
    )
    _common(watch, demo=True)
    _record_flag(watch)
    watch.add_argument("--listen", default="127.0.0.1:9478",
                       help="HOST:PORT of /metrics (findings as metrics; port 0: any free; "
                       "'none': no listener)")  # fmt: skip

    # Started by `serve` for each browser session (no help: not for people to type).
    viewer = commands.add_parser("viewer")
    viewer.add_argument("--relay", required=True, help="URL of the collector's relay")
    viewer.add_argument("--token-file", required=True, type=Path)
    viewer.add_argument("--title", default="watchfloor")
    viewer.add_argument("--recording", type=Path, help="the collector's recording (rewind)")
    _common(viewer, demo=False)
    _wall_flags(viewer)

    # Started by the console for its own collection (no help: not for people to type).
    collector = commands.add_parser("collector")
    collector.add_argument("--token-file", required=True, type=Path)
    collector.add_argument("--agent-url", action="append", default=[])
    _common(collector, demo=True)
    _record_flag(collector)

    agent = commands.add_parser("agent", help="serve this node (or a simulated one) over HTTP")
    _common(agent, demo=False)
    agent.add_argument("--listen", default="127.0.0.1:9477", help="HOST:PORT (port 0: any free)")
    agent.add_argument("--token-file", help="file holding the bearer token clients must send")
    agent.add_argument("--tls-cert", help="server certificate (PEM)")
    agent.add_argument("--tls-key", help="server key (PEM)")
    agent.add_argument("--tls-client-ca", help="require client certificates signed by this CA")
    agent.add_argument("--tls-allowed-san", action="append", default=[], metavar="NAME",
                       help="a client certificate must name this (DNS, email, IP or URI); "
                       "repeatable")  # fmt: skip
    agent.add_argument("--insecure", action="store_true",
                       help="allow a non-loopback listen without a token")  # fmt: skip
    agent.add_argument("--events-token-file",
                       help="enable POST /v1/events for guard events, with this token")  # fmt: skip
    target = agent.add_mutually_exclusive_group()
    target.add_argument("--sim", metavar="NODE", help="serve one simulated node")
    target.add_argument("--sim-fleet", action="store_true",
                        help="serve every simulated node, each on its own port")  # fmt: skip
    return parser


def _fail(message: str) -> NoReturn:
    print(f"watchfloor: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _runtime(
    args: argparse.Namespace, demo: bool, local: bool, agent_urls: tuple[str, ...] = ()
) -> tuple[Registry, Config, list[Source]]:
    """Registry, config and sources for this invocation."""
    from console.core.runtime import build_sources

    registry, config, options = _setup(args, demo, agent_urls)
    sources = build_sources(config, registry, options, local=local)
    return registry, config, sources


def _setup(
    args: argparse.Namespace, demo: bool, agent_urls: tuple[str, ...] = ()
) -> tuple[Registry, Config, DemoOptions | None]:
    """Registry, config and demo options for this invocation, every flag checked."""
    from console.analysis.policy import configure_security
    from console.analysis.power import configure_budgets
    from console.analysis.thresholds import configure as configure_thresholds
    from console.core.runtime import DemoOptions, load_registry, read_config
    from console.sim.scenarios import SCENARIOS

    registry = load_registry()
    config = read_config(args.config, registry, required=args.config is not None)
    configure_thresholds(config.thresholds)
    configure_budgets(config.budgets["racks"], config.budgets["nodes"])
    configure_security(config.security)
    if args.interval is not None:
        if args.interval <= 0:
            raise UsageError("--interval must be a positive number of seconds")
        config.interval = args.interval
    options = None
    if demo:
        if args.scenario not in SCENARIOS:
            raise UsageError(f"unknown scenario {args.scenario!r} (known: {', '.join(SCENARIOS)})")
        if args.nodes < 4:
            raise UsageError("--nodes must be at least 4")
        options = DemoOptions(args.scenario, args.seed, args.nodes, agent_urls, args.onset)
    return registry, config, options


def _collect(args: argparse.Namespace) -> tuple[Engine, Config]:
    """One headless collection (two cycles, so counters have rates), sources closed."""
    from console.core.runtime import build_engine

    registry, config, sources = _runtime(args, demo=args.demo, local=not args.demo)
    engine = build_engine(sources, registry)

    async def collect() -> None:
        try:
            await engine.collect(cycles=2)
        finally:
            await engine.stop()

    asyncio.run(collect())
    return engine, config


def _open_recording(args: argparse.Namespace, config: Config | None = None) -> Recording:
    """The recording ``--recording`` names, else this config's (the demo's with ``--demo``)."""
    from console.recording import Recording, RecordingError
    from console.recording.session import recording_path

    path = getattr(args, "recording", None)
    if path is None:
        if config is None:
            from console.core.runtime import load_registry, read_config

            config = read_config(args.config, load_registry(), required=args.config is not None)
        path = recording_path(config.history, getattr(args, "demo", False))
    try:
        return Recording(path)
    except RecordingError as exc:
        raise UsageError(str(exc)) from None


def _moment(args: argparse.Namespace) -> tuple[Moment, Config]:
    """The fleet at ``--at`` from the recording, or, before it (or with no recording
    here), from the config's sources that keep their own past (Prometheus); and the
    config (for prices)."""
    from console.analysis.thresholds import configure as configure_thresholds
    from console.core.runtime import build_sources, load_registry, read_config
    from console.recording import RecordingError, parse_time
    from console.recording.past import past_sources

    registry = load_registry()
    config = read_config(args.config, registry, required=args.config is not None)
    configure_thresholds(config.thresholds)  # explain judges the stall as the console did
    recording: Recording | None = None
    try:
        recording = _open_recording(args, config)
        span = recording.span()
        missing = UsageError(f"{recording.file}: the recording is empty")
    except UsageError as exc:
        if getattr(args, "recording", None) is not None:
            raise  # that file, and only that file, was asked for
        span, missing = None, exc
    try:
        when = parse_time(args.at, span[1] if span is not None else time.time())
        if recording is not None and span is not None and when >= span[0]:
            return recording.at(when), config
        # Before the recording (or none here): the sources that keep their own past.
        keeping = past_sources(build_sources(config, registry, None, local=False))
        if recording is not None and span is not None and not keeping:
            return recording.at(when), config  # says nothing was recorded then
    except (ValueError, RecordingError) as exc:
        raise UsageError(f"--at {exc}") from None
    finally:
        if recording is not None:
            recording.close()
    if not keeping:
        raise missing
    return _past_moment(keeping, when, registry.analyzers), config


def _past_moment(sources: list[Source], when: float, analyzers: Sequence[Analyzer]) -> Moment:
    """The fleet at ``when`` as sources that keep their past held it (Prometheus)."""
    from console.api import SourceError
    from console.recording import RecordingError
    from console.recording.past import past_moment
    from console.ui.rewind import WARM_SECONDS

    async def read() -> Moment:
        try:
            return await past_moment(sources, when, WARM_SECONDS, analyzers)
        finally:
            for source in sources:
                await source.close()

    try:
        return asyncio.run(read())
    except (RecordingError, SourceError) as exc:
        raise UsageError(f"--at before the recording: {exc}") from None


def cmd_snapshot(args: argparse.Namespace) -> int:
    """One collection (two cycles, so counters have rates), printed; or, with ``--at``,
    the recording at that time, in the same shape."""
    from console.core import json_out
    from console.core.headless import snapshot_document, snapshot_text
    from console.core.text import plain

    if args.at is not None:
        moment, config = _moment(args)
        store, statuses = moment.store, moment.statuses
        asked = {s.name for s in statuses}  # what was recorded: every source counts
    else:
        engine, config = _collect(args)
        store, statuses = engine.store, engine.statuses()
        # The local defaults the console starts by itself (nvml here) do not count.
        asked = {s.name for s in engine.sources if not s.local_default}
    if args.format == "json":
        document = snapshot_document(store, statuses, config.cost)
        print(json_out.dumps(document, sort_keys=True))  # strict JSON, cleaned like text
    else:
        sys.stdout.write(snapshot_text(store, statuses, config.cost))
    if args.strict:
        bad = [s for s in statuses if s.name in asked and s.status != "ok"]
        if bad:
            names = ", ".join(f"{plain(s.name)} {s.status}" for s in bad)
            print(f"watchfloor: --strict: {len(bad)} source(s) not ok: {names}", file=sys.stderr)
            return EXIT_STRICT
    if args.at is None and args.demo and store.count("node") == 0:  # the simulator failed
        reason = next((s.reason for s in statuses if s.type == "sim"), "no nodes")
        raise UsageError(f"the simulated cluster did not start: {reason}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """The drill-down chain for one job, as text or JSON."""
    from console.analysis.causes import explain
    from console.core import json_out
    from console.core.headless import explanation_text
    from console.core.model import normalize_ref, ref_kind

    ref = normalize_ref(args.job, "job")
    if ref_kind(ref) != "job":
        raise UsageError(
            f"explain takes a job: a job id (4711) or a job/<id> ref, not {ref_kind(ref)} "
            f"{args.job!r} (snapshot shows every entity)"
        )
    store = _moment(args)[0].store if args.at is not None else _collect(args)[0].store
    result = explain(store, ref)
    if result is None:
        known = ", ".join(job.ref for job in store.of_kind("job")[:10]) or "none"
        when = " then" if args.at is not None else ""
        raise UsageError(f"no job {ref}{when} (known: {known})")
    if args.format == "json":
        print(json_out.dumps(result.to_json()))
    else:
        sys.stdout.write(explanation_text(store, result))
    return 0


def cmd_recording(args: argparse.Namespace) -> int:
    """``recording info``: what a recording holds; ``recording export``: one file of it."""
    import time as _time

    from console.core.text import plain
    from console.recording import parse_time
    from console.recording.export import export_recording

    with _open_recording(args) as recording:
        span = recording.span()
        if args.recording_action == "info":
            stats = recording.stats()
            print(f"recording {recording.file}")
            if span is None:
                print("  empty")
                return 0
            first, last = (_time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(t)) for t in span)
            size = recording.file.stat().st_size
            print(f"  from {first} to {last} ({(span[1] - span[0]) / 60:.1f} min)")
            print(f"  {stats['frames']} frames ({stats['keyframes']} keyframes), "
                  f"{size / 1e6:.1f} MB on disk")  # fmt: skip
            for incident in recording.incidents():
                when = _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(incident.time))
                print(f"  incident {when}  {plain(incident.kind)}  {plain(incident.title)}")
            return 0
        if span is None:
            raise UsageError(f"{recording.file}: the recording is empty")
        try:
            since = parse_time(args.since, span[1]) if args.since else span[0]
            until = parse_time(args.until, span[1]) if args.until else span[1]
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.output.exists():
            raise UsageError(f"{args.output}: already exists (choose a new file)")
        try:
            frames = export_recording(recording, args.output, since, until)
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write: {exc}") from None
    print(f"wrote {args.output}: {frames} frames; open it with "
          f"'watchfloor replay {args.output}'")  # fmt: skip
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List discovered plugins: name, version, status, reason.

    Each plugin's local sources are polled once, so one that raises or hangs
    shows as failed here, with the reason.
    """
    from console.core.plugins import discover
    from console.core.runtime import load_registry, probe_plugins
    from console.core.text import plain

    records = discover()
    registry = load_registry(records)  # notes clashes (a key taken) on the records
    asyncio.run(probe_plugins(records))
    print(f"{'NAME':<20} {'VERSION':<10} {'STATUS':<8} REASON")
    for record in records:
        print(f"{plain(record.name, 20):<20} {plain(record.version, 10):<10} "
              f"{record.status:<8} {plain(record.reason, 400)}")  # fmt: skip
        if record.status == "loaded":
            what = registry.provides(record.name)
            print(f"  provides: {plain(what, 400)}" if what else "  provides: nothing")
        for note in record.notes:
            print(f"  note: {plain(note, 400)}")
    return 0


def cmd_plugin_new(args: argparse.Namespace) -> int:
    """Scaffold a plugin package that installs, loads and passes its tests as generated."""
    from console.core.plugins import RESERVED_KEYS
    from console.core.runtime import load_registry
    from console.scaffold import ScaffoldError, scaffold

    registry = load_registry()
    taken_keys = set(RESERVED_KEYS) | {p.key for p in registry.panes if p.key}
    taken_plugins = {r.name: r.distribution for r in registry.records}
    try:
        target, names = scaffold(args.name, args.dir, taken_keys, taken_plugins)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write the plugin: {exc}") from None
    shown = str(target) if target.is_absolute() else f"./{target}"
    where = f"press {names.key}" if names.key else f"type ': {names.plugin}'"
    print(f"created {shown}/ (plugin {names.plugin}, package {names.package})")
    print("next:")
    print(f"  pip install -e '{shown}[test]'    # into Watchfloor's environment")
    print(f"  watchfloor plugins    # {names.plugin} ... loaded")
    print(f"  cd {shown} && python -m pytest")
    print(f"  watchfloor            # then {where} for its pane")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """Serve this node, one simulated node, or a simulated fleet."""
    from console.agent.run import AgentOptions, credential, run_agent, run_fleet
    from console.core.runtime import build_sources, load_registry, read_config
    from console.sim.simulation import Simulation

    options = AgentOptions(
        listen=args.listen, token_file=credential(args.token_file, "token"),
        tls_cert=credential(args.tls_cert, "agent.pem"),
        tls_key=credential(args.tls_key, "agent.key"), tls_client_ca=args.tls_client_ca,
        insecure=args.insecure, interval=args.interval or 1.0,
        events_token_file=credential(args.events_token_file, "events-token"),
        tls_allowed_sans=tuple(args.tls_allowed_san),
    )  # fmt: skip
    if args.sim or args.sim_fleet:
        try:
            simulation = Simulation(args.scenario, args.seed, args.nodes, interval=options.interval)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.sim_fleet:
            run_fleet(options, simulation)
            return 0
        if args.sim not in simulation.topology.nodes:
            nodes = simulation.topology.nodes
            raise UsageError(f"no node {args.sim!r} in the simulated cluster "
                             f"({nodes[0]}…{nodes[-1]})")  # fmt: skip
        from console.sim.source import SimSource

        source = SimSource(simulation, options.interval, name=f"sim-{args.sim}", scope=args.sim)
        run_agent(options, [source], node=args.sim)
        return 0
    registry = load_registry()
    config = read_config(args.config, registry, required=args.config is not None)
    config.interval = options.interval
    run_agent(options, build_sources(config, registry, None, local=True))
    return 0


def _viewer_args(args: argparse.Namespace) -> list[str]:
    """The flags each served viewer needs to look like this invocation asked."""
    passed: list[str] = []
    if args.wall:
        passed.append("--wall")
    if args.dwell is not None:
        passed += ["--dwell", str(args.dwell)]
    if args.theme:
        passed += ["--theme", args.theme]
    if args.config is not None:
        passed += ["--config", str(args.config.resolve())]
    if args.interval is not None:
        passed += ["--interval", str(args.interval)]
    if args.read_only:
        passed.append("--read-only")
    return passed


def cmd_serve(args: argparse.Namespace) -> int:
    """The console in a browser: one collector here, one console per browser session."""
    import dataclasses

    from console.core.runtime import build_engine
    from console.serve.run import ServeOptions, check_exposure, run_serve

    args.wall = getattr(args, "wall", False)
    args.dwell = getattr(args, "dwell", None)
    options = ServeOptions(
        host=args.host, port=args.port, public=args.public, public_url=args.public_url,
        title="watchfloor demo" if args.demo else "watchfloor", viewer_args=_viewer_args(args),
    )  # fmt: skip
    check_exposure(options)  # before anything starts polling
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0 to 65535, not {args.port}")
    registry, config, sources = _runtime(args, demo=args.demo, local=not args.demo)
    wall_options(args, config)  # a bad --dwell is refused here, not in every viewer
    engine = build_engine(sources, registry)
    recorder = _start_recorder(args, engine, config, args.demo)
    if recorder is not None:  # every browser can rewind through the collector's recording
        recording = ["--recording", str(recorder.path)]
        options = dataclasses.replace(options, viewer_args=[*options.viewer_args, *recording])
    from console.collector.watch_run import make_generation

    # The same alerting and findings metrics as `watch`: one collector, not two.
    generation = make_generation(config, engine)
    try:
        run_serve(options, engine, generation.consumers, generation.findings_metrics())
    finally:
        if recorder is not None:
            recorder.close()
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Engine, analysis and alerting with no UI, until SIGTERM or SIGINT."""
    import logging

    from console.collector.watch_run import WatchUsageError, run_watch
    from console.core.config import default_config_path
    from console.core.runtime import build_engine

    logging.basicConfig(level=logging.INFO, format="watchfloor watch: %(message)s")

    def build() -> tuple[Config, Engine]:
        registry, config, sources = _runtime(args, demo=args.demo, local=not args.demo)
        return config, build_engine(sources, registry)

    path = args.config if args.config is not None else default_config_path()
    listen = None if args.listen == "none" else args.listen

    def record(engine: Engine, config: Config) -> Recorder | None:
        return _start_recorder(args, engine, config, args.demo)

    try:
        asyncio.run(run_watch(build, path, listen, record))
    except WatchUsageError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_viewer(args: argparse.Namespace) -> int:
    """One browser session's console (started by ``serve``): reads the relay, polls nothing."""
    from console.acting.actions import Actions
    from console.alerting.pager_view import PAGER
    from console.analysis.power import configure_budgets
    from console.analysis.thresholds import configure as configure_thresholds
    from console.core.runtime import load_registry, read_config
    from console.serve.source import RelaySource, read_token
    from console.serve.wire import relayed_findings
    from console.ui.app import WatchfloorApp

    registry = load_registry()
    config = read_config(args.config, registry, required=args.config is not None)
    configure_thresholds(config.thresholds)  # panes colour by them
    configure_budgets(config.budgets["racks"], config.budgets["nodes"])
    interval = args.interval or config.interval
    try:
        token = read_token(args.token_file)
    except (OSError, ValueError) as exc:
        raise UsageError(f"relay token: {exc}") from None
    wall = wall_options(args, config)
    PAGER.configure(config.alerting)
    app = WatchfloorApp(
        registry=registry,
        sources=[RelaySource(args.relay, token, interval)],
        theme_name=theme_for(args, config, wall),
        interval=interval,
        title=args.title,
        read_only=args.read_only,
        cost=config.cost,
        wall=wall,
        analyzers=[relayed_findings],
        actions=Actions(
            refused_because="actions are not offered in a browser session: use the console"
        ),
    )
    app.recording = args.recording
    app.run()
    return app.return_code or 0


def cmd_collector(args: argparse.Namespace) -> int:
    """The console's own collector (started by the TUI): collects and relays until its
    standard input closes."""
    from console.collector.main import run_collector
    from console.core.runtime import build_engine
    from console.serve.source import read_token

    try:
        token = read_token(args.token_file)
    except (OSError, ValueError) as exc:
        raise UsageError(f"relay token: {exc}") from None
    agent_urls = tuple(args.agent_url)
    registry, config, sources = _runtime(
        args, demo=args.demo, local=not args.demo, agent_urls=agent_urls
    )
    engine = build_engine(sources, registry)
    # The flight recorder runs where the engine runs; a notice goes to stderr.
    recorder = _start_recorder(args, engine, config, args.demo)
    try:
        run_collector(engine, token)
    finally:
        if recorder is not None:
            recorder.close()
    return 0


def _collector_flags(
    args: argparse.Namespace, demo: bool, agent_urls: tuple[str, ...]
) -> list[str]:
    """The flags that make a collector collect what this invocation asked for."""
    flags = ["--scenario", args.scenario, "--seed", str(args.seed), "--nodes", str(args.nodes)]
    if demo:
        flags.append("--demo")
    if args.config is not None:
        flags += ["--config", str(args.config.resolve())]
    if args.interval is not None:
        flags += ["--interval", str(args.interval)]
    if args.onset is not None:
        flags += ["--onset", str(args.onset)]
    if getattr(args, "no_record", False):
        flags.append("--no-record")
    for url in agent_urls:
        flags += ["--agent-url", url]
    return flags


def cmd_tui(args: argparse.Namespace, demo: bool) -> int:
    """The interactive console (``demo --agents``: through real agents on loopback)."""
    if demo and getattr(args, "agents", False):
        from console.agent.local import sim_agents

        with sim_agents(args.scenario, args.seed, args.nodes, args.interval or 1.0) as agents:
            return _run_tui(args, demo=True, agent_urls=tuple(agents.urls.values()))
    return _run_tui(args, demo)


def wall_options(args: argparse.Namespace, config: Config) -> WallConfig | None:
    """Wall mode's options from the config and ``--dwell``, or ``None`` without ``--wall``."""
    import dataclasses

    if not getattr(args, "wall", False):
        return None
    dwell = getattr(args, "dwell", None)
    if dwell is None:
        return config.wall
    if dwell <= 0:
        raise UsageError("--dwell must be a positive number of seconds")
    return dataclasses.replace(config.wall, dwell=dwell)


def theme_for(args: argparse.Namespace, config: Config, wall: WallConfig | None) -> str | None:
    """``--theme``, else the config's, else ``wall`` in wall mode (else the default)."""
    return args.theme or config.theme or ("wall" if wall is not None else None)


IN_PROCESS_ENV = "WATCHFLOOR_IN_PROCESS"
"""Set to 1 to collect on the UI's own event loop, as before the collector process
(for debugging, and for the before/after figures of bench/keys.py)."""


def _run_tui(args: argparse.Namespace, demo: bool, agent_urls: tuple[str, ...] = ()) -> int:
    """The console: a collector process collects (and records), this one draws what
    it relays and runs the actions."""
    if os.environ.get(IN_PROCESS_ENV) == "1":
        registry, config, sources = _runtime(args, demo, local=not demo, agent_urls=agent_urls)
        return _run_app(args, demo, agent_urls, registry, config, sources, None)
    from console.collector.process import CollectorError, running_collector
    from console.serve.source import RelaySource
    from console.serve.wire import relayed_findings

    registry, config, _options = _setup(args, demo, agent_urls)  # bad flags: refused here
    wall_options(args, config)
    try:
        with running_collector(_collector_flags(args, demo, agent_urls)) as collector:
            relay = RelaySource(
                collector.url, collector.token, config.interval, timeout=30.0, own=True
            )
            return _run_app(args, demo, agent_urls, registry, config, [relay], [relayed_findings])
    except CollectorError as exc:
        raise UsageError(f"collector: {exc}") from None


def _run_app(
    args: argparse.Namespace,
    demo: bool,
    agent_urls: tuple[str, ...],
    registry: Registry,
    config: Config,
    sources: list[Source],
    analyzers: list[Analyzer] | None,
) -> int:
    """The console's UI. ``analyzers`` ``None``: it collects itself (in process), and
    records too; else its collector records, and rewind reads that recording."""
    from console.alerting.pager_view import PAGER
    from console.core.runtime import make_actions
    from console.recording.session import recording_path
    from console.ui.app import WatchfloorApp
    from console.ui.themes_loader import load_themes, user_theme_dir

    wall = wall_options(args, config)
    PAGER.configure(config.alerting)  # findings that paged say so (and if silenced)
    app = WatchfloorApp(
        registry=registry,
        sources=sources,
        analyzers=analyzers,
        themes=load_themes((user_theme_dir(),)),
        theme_name=theme_for(args, config, wall),
        interval=config.interval,
        title=("watchfloor demo" + (" (agents)" if agent_urls else "")) if demo else "watchfloor",
        read_only=args.read_only,
        cost=config.cost,
        wall=wall,
        actions=make_actions(config, args.read_only),
    )
    recorder = None
    if analyzers is None:  # collecting here: the recorder listens to this engine
        recorder = _start_recorder(args, app.engine, config, demo, notices=app.notices)
        app.recording = recorder.path if recorder is not None else None
    elif not getattr(args, "no_record", False) and config.history.enabled:
        app.recording = recording_path(config.history, demo)  # the collector writes it
    if analyzers is not None:  # the config's sources poll in the collector: rewind's own
        from console.core.runtime import build_sources
        from console.recording.past import past_sources

        app.past_sources = past_sources(build_sources(config, registry, None, local=False))
    try:
        app.run()
    finally:
        if recorder is not None:
            recorder.close()
    return app.return_code or 0


def _start_recorder(
    args: argparse.Namespace,
    engine: Engine,
    config: Config,
    demo: bool,
    notices: list[str] | None = None,
) -> Recorder | None:
    """The flight recorder on this engine, unless ``--no-record``. When it cannot start
    the console goes on, and says why: in ``notices`` (the TUI shows them), else on
    stderr."""
    from console.recording.session import start_recording

    if getattr(args, "no_record", False):
        return None
    recorder, notice = start_recording(engine, config.history, demo)
    if notice is not None:
        if notices is not None:
            notices.append(notice)
        else:
            print(f"watchfloor: {notice}", file=sys.stderr)
    return recorder


def cmd_replay(args: argparse.Namespace) -> int:
    """The console over a recording: every pane as it was, played at ``--speed``."""
    from console.core.runtime import load_registry, read_config
    from console.recording import Recording, RecordingError, parse_time
    from console.ui.app import WatchfloorApp
    from console.ui.themes_loader import load_themes, user_theme_dir

    if args.speed < 0:
        raise UsageError("--speed must be 0 (paused) or more")
    registry = load_registry()
    config = read_config(args.config, registry, required=args.config is not None)
    try:
        with Recording(args.path) as recording:
            span = recording.span()
            if span is None:
                raise UsageError(f"{recording.file}: the recording is empty")
            start = parse_time(args.at, span[1]) if args.at else span[0]
    except (ValueError, RecordingError) as exc:
        raise UsageError(str(exc)) from None
    app = WatchfloorApp(
        registry=registry,
        sources=[],
        themes=load_themes((user_theme_dir(),)),
        theme_name=args.theme or config.theme,
        interval=config.interval,
        title=f"watchfloor replay {args.path.name}",
        read_only=True,
        cost=config.cost,
        analyzers=[],
    )
    app.recording = args.path
    app.replay = (start, args.speed)
    app.run()
    return app.return_code or 0


TIME_FLAGS = ("--at", "--since", "--until")


def _times_ago(argv: list[str]) -> list[str]:
    """``--at -10m`` as ``--at=-10m``: argparse would take ``-10m`` for a flag."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in TIME_FLAGS and arg.startswith("-") and arg != "--":
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``watchfloor`` console script."""
    from console.agent.run import AgentUsageError
    from console.core.config import ConfigError
    from console.recording import RecordingError
    from console.serve import ServeUsageError

    args = make_parser().parse_args(_times_ago(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "snapshot":
            return cmd_snapshot(args)
        if args.command == "plugins":
            return cmd_plugins(args)
        if args.command == "plugin":
            return cmd_plugin_new(args)
        if args.command == "agent":
            return cmd_agent(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "demo":
            return cmd_tui(args, demo=True)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "watch":
            return cmd_watch(args)
        if args.command == "viewer":
            return cmd_viewer(args)
        if args.command == "collector":
            return cmd_collector(args)
        if args.command == "recording":
            return cmd_recording(args)
        if args.command == "replay":
            return cmd_replay(args)
        return cmd_tui(args, demo=args.demo)
    except (ConfigError, UsageError, AgentUsageError, ServeUsageError, RecordingError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`watchfloor plugins | head`): not an error to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("WATCHFLOOR_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (WATCHFLOOR_DEBUG=1 shows more)")


if __name__ == "__main__":
    sys.exit(main())
