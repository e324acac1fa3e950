"""``type: infiniband``: the fabric as seen from a host on it, through infiniband-diags.

- ``ibnetdiscover --ports`` gives the graph: switches, HCAs, every connected port
  pair with width and speed, and the unconnected ports. It walks the whole subnet,
  so it runs less often than the counters (``topology_interval``), and at once
  after a switch stopped answering.
- ``perfquery -x -l <lid> 255`` reads every port of one switch (64-bit extended
  counters; data in 4-octet words, ×4 = bytes). Switches are read concurrently,
  at most ``concurrency`` at a time. Where a switch has no extended error counters
  (older firmware, ibsim), the basic PortCounters fill them in, checked for
  being pinned at their 8/16/32-bit maximum.
- A link seen once and gone from a later discovery is kept, *down*, so the
  port-health analysis can say which cable went (a never-cabled port is just an
  unconnected port). ``expected_speed_gbps`` is the best a link has run at.

Every tool run is bounded in time (``timeout``) and output size, and killed with
its process group when late. HCAs whose names place them on no host are listed
in the source's status line.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from console.api import (
    Batch,
    Entity,
    IbFabric,
    Option,
    Sample,
    Source,
    SourceContext,
    SourceError,
    counter_samples,
    fabric_entities,
    parse_ibnetdiscover,
    parse_node_name_map,
    parse_perfquery,
    place,
    plain,
)
from watchfloor_fabric.command import run_tool

MAX_DISCOVERY_BYTES = 64 * 1024 * 1024
"""ibnetdiscover --ports prints ~120 bytes a port: room for ~500,000 ports."""
MAX_PERFQUERY_BYTES = 1024 * 1024
"""One switch's ports (a 648-port director prints ~550 KiB with -x)."""
MAX_MAP_BYTES = 16 * 1024 * 1024
MAX_REMEMBERED_LINKS = 200_000
"""Links remembered after they went away (so a down cable stays visible)."""
ALL_PORTS = "255"


def read_small_file(path: Path, limit: int) -> str:
    """A regular file's text, opened without blocking; SourceError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError(f"{path}: not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SourceError(f"{path}: larger than {limit // 1024} KiB")
    return data.decode("utf-8", "replace")


class InfinibandSource(Source):
    """Switches, links and switch-port counters of one InfiniBand subnet."""

    type = "infiniband"

    def __init__(
        self,
        *,
        ibnetdiscover: str = "ibnetdiscover",
        perfquery: str = "perfquery",
        interval: float = 10.0,
        timeout: float = 10.0,
        topology_interval: float | None = None,
        node_name_map: Path | None = None,
        concurrency: int = 8,
        ca: str | None = None,
        ca_port: int | None = None,
    ) -> None:
        self.name = "infiniband"
        self.ibnetdiscover = ibnetdiscover
        self.perfquery = perfquery
        self.interval = interval
        self.tool_timeout = timeout
        """Seconds one tool run may take before it is killed."""
        self.timeout = timeout * 3  # discovery, then the counters, with room to spare
        self.topology_interval = topology_interval if topology_interval else interval * 2
        self.node_name_map = node_name_map
        self.concurrency = max(1, concurrency)
        self.local = [*(["-C", ca] if ca else []), *(["-P", str(ca_port)] if ca_port else [])]
        """Which local HCA port the tools use (default: the first active one)."""
        self._fabric: IbFabric | None = None
        self._entities: list[Entity] = []
        self._unplaced: list[str] = []
        self._switch_lids: dict[str, int] = {}
        """Switch name → LID, for perfquery."""
        self._discovered_at = 0.0
        self._rediscover = True
        self._known_links: dict[str, Entity] = {}
        self._known_ports: dict[str, Entity] = {}
        self._down_since: dict[str, float] = {}
        self._best: dict[str, tuple[float, int]] = {}
        """Link ref → (best speed in Gb/s, most lanes) seen."""
        self._pinned: dict[str, list[str]] = {}
        """Port ref → its counters pinned at their maximum, this poll."""

    # -- topology ------------------------------------------------------------

    async def _discover(self) -> None:
        text = await run_tool(
            [self.ibnetdiscover, *self.local, "--ports"], self.tool_timeout, MAX_DISCOVERY_BYTES
        )
        try:
            fabric = parse_ibnetdiscover(text, self.ibnetdiscover)
        except ValueError as exc:
            raise SourceError(f"unexpected ibnetdiscover output: {exc}") from None
        if not fabric.nodes:
            raise SourceError("ibnetdiscover found no fabric (is the HCA port up?)")
        name_map: dict[str, str] = {}
        if self.node_name_map is not None:
            map_text = await asyncio.to_thread(read_small_file, self.node_name_map, MAX_MAP_BYTES)
            try:
                name_map = parse_node_name_map(map_text, str(self.node_name_map))
            except ValueError as exc:
                raise SourceError(str(exc)) from None
        placement = place(fabric, name_map)
        self._fabric = fabric
        self._entities = fabric_entities(fabric, placement)
        self._unplaced = placement.unplaced
        self._switch_lids = {
            placement.switch_names[node.key]: node.lid for node in fabric.switches() if node.lid
        }
        self._discovered_at = time.monotonic()
        self._rediscover = False

    def _with_memory(self, now: float) -> list[Entity]:
        """This discovery's entities, plus the links (and their ports) that went away."""
        entities = list(self._entities)
        current = {e.ref: e for e in entities}
        for entity in entities:
            if entity.kind == "link":
                self._note_link(entity, current)
        for ref, link in self._known_links.items():
            if ref in current:
                continue
            since = self._down_since.setdefault(ref, now)
            attrs = {**link.attrs, "state": "DOWN", "down_since": since}
            entities.append(Entity(ref, link.name, link.parent, attrs))
            for end in (str(link.attrs["a"]), str(link.attrs["b"])):
                port = current.get(end) or self._known_ports.get(end)
                if port is None:
                    continue
                port_attrs = {**port.attrs, "state": "DOWN", "link": ref}
                port_attrs["peer"] = link.attrs["b" if end == link.attrs["a"] else "a"]
                replacement = Entity(port.ref, port.name, port.parent, port_attrs)
                if end in current:
                    entities[entities.index(current[end])] = replacement
                else:
                    entities.append(replacement)
                current[end] = replacement
        return entities

    def _note_link(self, link: Entity, current: dict[str, Entity]) -> None:
        self._down_since.pop(link.ref, None)
        speed = link.attrs.get("speed_gbps") or 0.0
        lanes = int(str(link.attrs.get("width") or "0x").lower().removesuffix("x") or 0)
        best_speed, best_lanes = self._best.get(link.ref, (0.0, 0))
        best = (max(best_speed, speed), max(best_lanes, lanes))
        self._best[link.ref] = best
        if best[0]:
            link.attrs["expected_speed_gbps"] = best[0]
        if best[1]:
            link.attrs["expected_width"] = f"{best[1]}x"
        if link.ref in self._known_links or len(self._known_links) < MAX_REMEMBERED_LINKS:
            self._known_links[link.ref] = link
            for end in (str(link.attrs["a"]), str(link.attrs["b"])):
                if end in current:
                    self._known_ports[end] = current[end]

    # -- counters ------------------------------------------------------------

    async def _switch_counters(self, switch: str, lid: int) -> list[Sample]:
        argv = [self.perfquery, *self.local]
        text = await run_tool(
            [*argv, "-x", "-l", str(lid), ALL_PORTS], self.tool_timeout, MAX_PERFQUERY_BYTES
        )
        blocks = parse_perfquery(text)
        if blocks and any("PortXmitWait" not in block.values for block in blocks):
            # No extended error counters here: the basic PortCounters have them.
            basic = await run_tool(
                [*argv, "-l", str(lid), ALL_PORTS], self.tool_timeout, MAX_PERFQUERY_BYTES
            )
            by_port = {block.port: block for block in parse_perfquery(basic)}
            for block in blocks:
                if block.port in by_port:
                    block.fill_from(by_port[block.port])
        samples: list[Sample] = []
        for block in blocks:
            if block.port == 0:
                continue
            ref = f"port/{switch}/{block.port}"
            values, pinned = counter_samples(block)
            samples += [Sample(ref, metric, value) for metric, value in values.items()]
            if pinned:
                self._pinned[ref] = pinned
        return samples

    async def _counters(self) -> tuple[list[Sample], list[str]]:
        gate = asyncio.Semaphore(self.concurrency)
        failed: list[str] = []

        async def one(switch: str, lid: int) -> list[Sample]:
            async with gate:
                try:
                    return await self._switch_counters(switch, lid)
                except SourceError as exc:
                    failed.append(f"{switch}: {exc}")
                    return []

        results = await asyncio.gather(*(one(s, lid) for s, lid in self._switch_lids.items()))
        return [sample for samples in results for sample in samples], sorted(failed)

    # -- poll ------------------------------------------------------------------

    async def poll(self) -> Batch:
        now = time.time()
        if self._rediscover or time.monotonic() - self._discovered_at >= self.topology_interval:
            await self._discover()
        self._pinned = {}
        samples, failed = await self._counters()
        if failed:
            self._rediscover = True  # a switch that stopped answering: look again next time
        entities = self._with_memory(now)
        for entity in entities:
            if entity.ref in self._pinned:
                entity.attrs = {**entity.attrs, "saturated": self._pinned[entity.ref]}
        notes = []
        if self._unplaced:
            shown = ", ".join(self._unplaced[:5])
            more = f" and {len(self._unplaced) - 5} more" if len(self._unplaced) > 5 else ""
            notes.append(f"{len(self._unplaced)} HCA(s) on no known host: {shown}{more}")
        if failed:
            notes.append(f"counters of {len(failed)} switch(es) not read: {failed[0]}")
        meta: dict[str, Any] = {"unplaced": list(self._unplaced)}
        if notes:
            meta["note"] = plain("; ".join(notes), 400)
        return Batch(entities=entities, samples=samples, time=now, meta=meta)


def _path(context: SourceContext, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(context.base_dir) / path


def make_infiniband_sources(context: SourceContext) -> Sequence[Source]:
    """Factory for ``type: infiniband``."""
    options = context.options
    return [
        InfinibandSource(
            ibnetdiscover=str(options["ibnetdiscover"]),
            perfquery=str(options["perfquery"]),
            interval=float(options["interval"]),
            timeout=float(options["timeout"]),
            topology_interval=float(options["topology_interval"] or 0) or None,
            node_name_map=_path(context, options.get("node_name_map")),
            concurrency=int(options["concurrency"]),
            ca=options.get("ca"),
            ca_port=options.get("ca_port"),
        )
    ]


INFINIBAND_OPTIONS = (
    Option("ibnetdiscover", (str,), "ibnetdiscover", help="the ibnetdiscover executable"),
    Option("perfquery", (str,), "perfquery", help="the perfquery executable"),
    Option("interval", (int, float), 10.0, help="seconds between counter reads"),
    Option("timeout", (int, float), 10.0, help="seconds one tool run may take (then killed)"),
    Option(
        "topology_interval",
        (int, float),
        None,
        help="seconds between topology reads (default: twice the interval)",
    ),
    Option("node_name_map", (str,), help="the subnet manager's node-name-map (GUID → name)"),
    Option("concurrency", (int,), 8, help="switches read at once"),
    Option("ca", (str,), help="local HCA the tools use (-C), default the first active"),
    Option("ca_port", (int,), help="its port (-P)"),
)
