"""Exposure: the TCP sockets this node listens on, with the process behind each.

The source only reports; the console's policy (``security.expected_listeners``)
decides which listener is unexpected, so one config changes the verdict fleet-wide.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

import psutil

from console.api import Batch, Entity, Option, Source, SourceContext, SourceType, make_ref

MAX_LISTENERS = 256
"""Listeners reported per node (a port scan tool holding thousands is itself news)."""


def listening_sockets() -> list[dict[str, Any]]:
    """Every TCP listener: address, port, and the owning process where visible.

    Without privileges the owner of another user's socket is not visible: its
    ``process`` is ``None`` rather than a guess.
    """
    listeners: dict[tuple[str, int], dict[str, Any]] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN or not conn.laddr:
            continue
        key = (conn.laddr.ip, conn.laddr.port)
        if key in listeners:
            continue
        listeners[key] = {
            "addr": conn.laddr.ip,
            "port": conn.laddr.port,
            "pid": conn.pid,
            "process": _process_name(conn.pid),
        }
    ordered = sorted(listeners.values(), key=lambda item: (item["port"], item["addr"]))
    return ordered[:MAX_LISTENERS]


def _process_name(pid: int | None) -> str | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return None


class ExposureSource(Source):
    """Reports the node's listening sockets as its ``listening`` attribute."""

    type = "exposure"

    def __init__(self, interval: float, node: str | None = None) -> None:
        self.name = "exposure"
        self.interval = interval
        self.node = node or socket.gethostname().split(".")[0]
        """The node name (as the NVML and host sources name it)."""

    async def poll(self) -> Batch:
        listeners = await asyncio.to_thread(listening_sockets)
        node = Entity(make_ref("node", self.node), self.node, attrs={"listening": listeners})
        return Batch(entities=[node])


def _make(context: SourceContext) -> Sequence[Source]:
    return [ExposureSource(float(context.options["interval"]))]


EXPOSURE_SOURCE = SourceType(
    name="exposure",
    factory=_make,
    options=(Option("interval", (float,), 30.0, help="seconds between scans"),),
    help="listening TCP sockets on this node and their processes",
    local_default=True,
)
