"""A fake PDU server, for the plugin's tests and for trying the plugin without hardware.

    watchfloor-pdu-fake --port 8470 --racks 2 --nodes node01,node02,node03,node04

serves ``GET /pdus`` (every PDU, as a list) and ``GET /pdu/<name>`` (one), in the
JSON ``watchfloor_pdu.feed`` reads. Readings move slowly with time, the same for
the same second; ``--overload NAME`` and ``--on-battery NAME`` put a PDU in
trouble so that its findings show.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

RATED_WATTS = 17300.0
OUTLETS = 8


@dataclass
class FakePdus:
    """The fake's state; tests change it between polls."""

    racks: int = 2
    nodes: list[str] = field(default_factory=list)
    """Nodes the outlets feed, in turn (outlets 1 and 2 of each rack's PDUs: the first)."""
    overload: set[str] = field(default_factory=set)
    on_battery: set[str] = field(default_factory=set)
    status: int = 200
    """HTTP status to answer with (503: a PDU whose web server is down)."""
    body: str | None = None
    """When set, answered instead of the JSON (garbage, for tests)."""
    clock: Any = time.time

    def names(self) -> list[str]:
        return [f"rack{r:02d}-pdu-{side}" for r in range(1, self.racks + 1) for side in "ab"]

    def document(self, name: str) -> dict[str, Any]:
        """One PDU's readings now."""
        index = self.names().index(name)
        now = self.clock()
        share = 0.97 if name in self.overload else 0.45 + 0.1 * math.sin(now / 60 + index)
        watts = round(RATED_WATTS * share, 1)
        outlets = []
        for outlet in range(1, OUTLETS + 1):
            # Both PDUs of a rack feed the same nodes, two outlets (PSUs) each.
            slot = (index // 2) * (OUTLETS // 2) + (outlet - 1) // 2
            node = self.nodes[slot % len(self.nodes)] if self.nodes else None
            psu = (outlet - 1) % 2 + 1 + 2 * (index % 2)
            outlets.append(
                {
                    "id": outlet,
                    "name": f"{node}-psu{psu}" if node else f"outlet{outlet}",
                    "node": node,
                    "state": "on",
                    "watts": round(watts / OUTLETS, 1),
                    "amps": round(watts / OUTLETS / 230.0, 2),
                }
            )
        on_battery = name in self.on_battery
        return {
            "pdu": name,
            "model": "FakePDU 9000",
            "rack": name.split("-")[0],
            "rated_watts": RATED_WATTS,
            "inlet": {
                "watts": watts,
                "volts": 0.0 if on_battery else 230.2,
                "amps": round(watts / 230.0, 2),
                "energy_kwh": round(now / 3600 * 8, 3),
            },
            "ups": {
                "on_battery": on_battery,
                "battery_pct": 64 if on_battery else 100,
                "runtime_s": 780 if on_battery else 2400,
            },
            "outlets": outlets,
        }


def make_app(state: FakePdus) -> web.Application:
    """The fake's HTTP app."""

    def answer(payload: Any) -> web.Response:
        if state.status != 200:
            return web.Response(status=state.status, text="unavailable")
        if state.body is not None:
            return web.Response(text=state.body, content_type="application/json")
        return web.json_response(payload)

    async def all_pdus(request: web.Request) -> web.Response:
        return answer([state.document(name) for name in state.names()])

    async def one_pdu(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in state.names():
            raise web.HTTPNotFound(text=f"no PDU {name}")
        return answer(state.document(name))

    app = web.Application()
    app.router.add_get("/pdus", all_pdus)
    app.router.add_get("/pdu/{name}", one_pdu)
    return app


@asynccontextmanager
async def serving(state: FakePdus, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the fake in the running event loop; yields its base URL (port 0: any free)."""
    runner = web.AppRunner(make_app(state))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """``watchfloor-pdu-fake``: serve fake PDUs until interrupted."""
    parser = argparse.ArgumentParser(prog="watchfloor-pdu-fake", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--racks", type=int, default=2)
    parser.add_argument("--nodes", default="", help="comma-separated nodes the outlets feed")
    parser.add_argument("--overload", action="append", default=[], metavar="PDU")
    parser.add_argument("--on-battery", action="append", default=[], metavar="PDU")
    args = parser.parse_args(argv)
    state = FakePdus(
        racks=args.racks,
        nodes=[n for n in args.nodes.split(",") if n],
        overload=set(args.overload),
        on_battery=set(args.on_battery),
    )
    print(f"fake PDUs on http://{args.host}:{args.port}/pdus: {', '.join(state.names())}")
    web.run_app(make_app(state), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
