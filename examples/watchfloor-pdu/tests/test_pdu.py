"""The PDU plugin: its feed, its source over real HTTP, its findings, its pane."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from console.core.config import ConfigError
from console.testing import collect, plugin_app, sources_from_yaml

from watchfloor_pdu import plugin
from watchfloor_pdu.feed import KWH, parse_feed

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def config(url: str, extra: str = "") -> str:
    return f"sources:\n  - type: pdu\n    url: {url}\n{extra}"


def test_the_feed_gives_pdus_outlets_and_readings() -> None:
    import json

    document = json.loads((FIXTURES / "rack07-pdu-a.json").read_text())
    batch = parse_feed(document, warn_pct=80, crit_pct=95)
    refs = [e.ref for e in batch.entities]
    assert refs[0] == "pdu/rack07-pdu-a"
    assert refs[1:] == [f"pdu-outlet/rack07-pdu-a/{n}" for n in (1, 2, 3, 4)]
    values = {(s.ref, s.metric): s.value for s in batch.samples}
    assert values[("pdu/rack07-pdu-a", "pdu.load")] == pytest.approx(86.0, abs=0.1)
    assert values[("pdu/rack07-pdu-a", "pdu.energy")] == pytest.approx(48213.25 * KWH)
    assert values[("pdu-outlet/rack07-pdu-a/3", "pdu-outlet.current")] is None  # not given
    assert batch.entities[1].attrs["node"] == "node/gpu101"


async def test_the_source_polls_a_pdu_over_http(fake: Any) -> None:
    sources = sources_from_yaml(plugin, config(f"{fake.url}/pdus"))
    result = await collect(sources, plugin)
    assert [(s.name, s.status, s.reason) for s in result.statuses] == [("pdu:127.0.0.1", "ok", "")]
    assert result.store.count("pdu") == 4 and result.store.count("pdu-outlet") == 32
    assert result.findings == []  # all four under 80%


async def test_an_overloaded_pdu_and_a_ups_on_battery_are_findings(fake: Any) -> None:
    fake.state.overload.add("rack01-pdu-b")
    fake.state.on_battery.add("rack02-pdu-a")
    sources = sources_from_yaml(plugin, config(f"{fake.url}/pdus", "    warn_pct: 70\n"))
    result = await collect(sources, plugin)
    found = {(f.ref, f.kind, f.severity): f.title for f in result.findings}
    assert found == {
        ("pdu/rack01-pdu-b", "pdu-overload", "critical"):
            "PDU rack01-pdu-b at 97% of its 17.3 kW rating",
        ("pdu/rack02-pdu-a", "ups-on-battery", "critical"):
            "UPS rack02-pdu-a on battery, 13 min left",
    }  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("status", "/pdus: HTTP 503 Service Unavailable"),
        ("garbage", "/pdus: not JSON (line 1: Expecting value)"),
        ("missing", "/pdus: document: 'pdu' (the PDU's name) is missing"),
        ("refused", "Cannot connect to host 127.0.0.1"),
    ],
)
async def test_a_pdu_that_fails_says_why(fake: Any, fault: str, reason: str) -> None:
    url = f"{fake.url}/pdus"
    if fault == "status":
        fake.state.status = 503
    elif fault == "garbage":
        fake.state.body = "<html>login</html>"
    elif fault == "missing":
        fake.state.body = '{"model": "PX4"}'
    else:
        url = f"http://127.0.0.1:{_closed_port()}/pdus"
    result = await collect(sources_from_yaml(plugin, config(url)), plugin)
    (status,) = result.statuses
    assert status.status == "failed"
    assert reason in status.reason


def test_a_file_source_reads_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "rack07.json").write_text((FIXTURES / "rack07-pdu-a.json").read_text())
    (source,) = sources_from_yaml(plugin, config("rack07.json"), base_dir=tmp_path)
    assert source.name == "pdu:rack07"
    assert getattr(source, "path", None) == tmp_path / "rack07.json"


def test_bad_options_name_the_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        sources_from_yaml(plugin, config("http://pdu.example/", "    warn_pct: high\n"))
    assert str(caught.value).endswith(
        "config.yaml:4: sources[0]: 'warn_pct' must be an integer or a number, not 'high'"
    )
    with pytest.raises(ConfigError, match=r"config.yaml:2: sources\[0\]: type 'pdu' needs 'url'"):
        sources_from_yaml(plugin, "sources:\n  - type: pdu\n")


async def test_the_pane_lists_pdus_and_walks_to_the_node_an_outlet_feeds(fake: Any) -> None:
    fake.state.overload.add("rack02-pdu-b")
    sources = sources_from_yaml(plugin, config(f"{fake.url}/pdus"))
    app = plugin_app(plugin, sources, demo=True, builtins=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("u")
        assert app.crumbs() == ["Overview", "PDUs"]
        table = app.screen.query_one("EntityTable")
        assert table.row_count == 4
        assert table.selected_ref == "pdu/rack02-pdu-b"  # busiest first
        assert [c.plain for c in table.get_row("pdu/rack02-pdu-b")][:3] == [
            "rack02-pdu-b", "rack02", "97%"
        ]  # fmt: skip
        await pilot.press("enter")
        assert app.crumbs() == ["Overview", "PDUs", "pdu/rack02-pdu-b"]
        await pilot.press("enter")  # outlet 1 feeds node01 of the simulated cluster
        assert app.crumbs() == ["Overview", "PDUs", "pdu/rack02-pdu-b", "node/node01"]
        await pilot.press("escape", "escape", "escape")
        assert app.crumbs() == ["Overview"]


async def test_the_pdu_command_opens_a_pdu_by_name(fake: Any) -> None:
    sources = sources_from_yaml(plugin, config(f"{fake.url}/pdus"))
    app = plugin_app(plugin, sources)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"pdu rack01-pdu-b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.crumbs() == ["Overview", "pdu/rack01-pdu-b"]
