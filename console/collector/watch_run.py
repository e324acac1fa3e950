"""Wiring of ``watchfloor watch``: a collector generation per config, the consumers it
feeds, a small ``/metrics`` listener, and a reload when the config file changes
(or on SIGHUP) — a bad new config is reported and the running one kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from console.alerting.metrics import FindingsCollector, metrics_handler
from console.alerting.service import Alerting
from console.collector.watch import Consumer, stop_on_signals, watch
from console.core.config import Config, ConfigError
from console.core.engine import Engine
from console.core.host_check import host_middleware, loopback_only

log = logging.getLogger(__name__)

CONFIG_CHECK = 1.0
"""Seconds between looks at the config file's modification time."""


class Closable(Protocol):
    def close(self) -> None: ...


Record = Callable[[Engine, Config], Closable | None]
"""Switches the flight recorder on for one engine (``None``: not recording)."""


class WatchUsageError(Exception):
    """Cannot start (a port taken): one line, exit status 2."""


@dataclass
class Generation:
    """One config's engine and consumers."""

    config: Config
    engine: Engine
    alerting: Alerting | None = None
    consumers: list[Consumer] = field(default_factory=list)
    recorder: Closable | None = None
    """The flight recorder on this engine, while it runs."""

    def findings_metrics(self) -> FindingsCollector:
        """``watchfloor_finding`` series over this generation's store."""
        alerting = self.alerting

        def paged(key: str) -> bool:
            return alerting is not None and alerting.paged(key)

        return FindingsCollector(lambda: self.engine.store, self.config.alerting.cluster, paged)


def make_generation(config: Config, engine: Engine) -> Generation:
    """The engine's consumers for this config (alerting when configured)."""
    generation = Generation(config, engine)
    if config.alerting.enabled:
        try:
            generation.alerting = Alerting(config.alerting)
        except (OSError, ValueError) as exc:  # a token file missing, empty, unreadable
            where = config.path or "config"
            raise ConfigError(f"{where}: alerting: {exc}") from None
        generation.consumers.append(generation.alerting)
    return generation


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


async def _metrics_site(listen: str, current: Callable[[], Generation]) -> web.AppRunner:
    def paged(key: str) -> bool:
        alerting = current().alerting
        return alerting is not None and alerting.paged(key)

    # Reads whichever generation runs now (a reload swaps the engine).
    collector = FindingsCollector(lambda: current().engine.store,
                                  current().config.alerting.cluster, paged)  # fmt: skip

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    # On loopback only loopback names: a web page cannot read the findings by
    # DNS rebinding (a scraper on a real interface uses names we cannot know).
    guard = host_middleware(loopback_only(host), "watchfloor watch")
    app = web.Application(client_max_size=1024, middlewares=[guard])
    app.router.add_get("/metrics", metrics_handler(collector))
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, int(port))
        await site.start()
    except (OSError, ValueError) as exc:
        await runner.cleanup()
        raise WatchUsageError(f"cannot listen on {listen}: {exc}") from None
    bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"watchfloor watch: metrics at http://{shown}:{bound[1]}/metrics", flush=True)
    return runner


async def run_watch(
    build: Callable[[], tuple[Config, Engine]],
    config_path: Path | None,
    listen: str | None,
    record: Record | None = None,
) -> None:
    """Collect, analyse and alert until SIGTERM/SIGINT; reload on a config change."""
    generation = make_generation(*build())
    config, engine = generation.config, generation.engine
    stop, reload = asyncio.Event(), asyncio.Event()
    stop_on_signals(stop, reload.set)
    runner = await _metrics_site(listen, lambda: generation) if listen else None
    targets = ", ".join(config.alerting.alertmanager) or "no Alertmanager"
    webhook = " and a webhook" if config.alerting.webhook else ""
    print(f"watchfloor watch: {len(engine.sources)} sources, alerting to {targets}{webhook}",
          flush=True)  # fmt: skip
    stamp = _stamp(config_path)
    try:
        while True:
            generation_stop = asyncio.Event()
            if record is not None:  # after the last generation's recorder let go of the file
                generation.recorder = record(generation.engine, generation.config)
            task = asyncio.create_task(watch(generation.engine, generation.consumers,
                                             generation_stop))  # fmt: skip
            replacement = None
            while replacement is None and not stop.is_set() and not task.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stop.wait()), CONFIG_CHECK)
                if stop.is_set() or not (reload.is_set() or _stamp(config_path) != stamp):
                    continue
                reload.clear()
                stamp = _stamp(config_path)
                try:
                    replacement = make_generation(*build())
                except ConfigError as exc:  # keep running what runs
                    print(f"watchfloor watch: config not reloaded: {exc}", file=sys.stderr,
                          flush=True)  # fmt: skip
            generation_stop.set()
            try:
                await task  # a crash of the loop itself shows here
            finally:
                if generation.recorder is not None:
                    await asyncio.to_thread(generation.recorder.close)
            if replacement is None:
                break
            generation = replacement
            if generation.alerting is not None:
                # Built while the old one ran: read what the old one saved on closing.
                generation.alerting.book.reload()
            print("watchfloor watch: config reloaded", flush=True)
    finally:
        if runner is not None:
            await runner.cleanup()
