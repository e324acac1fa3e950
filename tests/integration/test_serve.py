"""``watchfloor serve`` in a real headless Chromium: the overview in the page, keys
typed into it, wall mode, and many viewers reading one collector (counted at the agents)."""

from __future__ import annotations

import contextlib
import re
import select
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import yaml
from aiohttp import web

from console.agent.server import make_app
from tests.integration.agents import serving, sim_collector, wait_until
from tests.integration.browser import Page, chromium


@contextlib.contextmanager
def served(*args: str) -> Iterator[str]:
    """``watchfloor serve ARGS --port 0`` as a process; yields the URL it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "serve", "--port", "0", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("watchfloor serve: http://"):
            process.kill()
            raise AssertionError(f"serve did not start: {line}{process.stderr.read().decode()}")
        yield line.split()[2]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stderr.read().decode()[-2000:]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_browser_shows_the_overview_and_keys_drive_it(tmp_path: Path) -> None:
    with served("--demo") as url:
        async with chromium() as browser:
            page = await browser.open(url)
            # xterm.js paints a frame in parts: wait for the whole overview, not its first part.
            text = await page.wait_for_text(
                lambda s: "STALLED" in s and "Findings (" in s and "Nodes × GPUs" in s
            )
            assert "Nodes × GPUs" in text and "stalled job 4711" in text
            assert "sim     sim   ok" in text  # the collector's own source, through the relay
            shot = await page.screenshot(tmp_path / "serve-overview.png")
            assert png_size(shot) == (1280, 800) and len(shot) > 20_000  # drawn, not blank
            await page.press("g", "KeyG", 71)
            text = await page.wait_for_text(lambda s: "Overview › GPUs" in s)
            assert "node01/0" in text
            await page.press("?", "Slash", 191)
            await page.wait_for_text(lambda s: "this help" in s)
            await page.screenshot(tmp_path / "serve-help.png")


async def test_wall_mode_in_the_browser(tmp_path: Path) -> None:
    with served("--demo", "--wall", "--dwell", "5") as url:
        async with chromium() as browser:
            page = await browser.open(url, width=1920, height=1080)
            text = await page.wait_for_text(lambda s: "GPUs up" in s and "rotation held" in s)
            assert "✖ CRIT" in text and "Newest findings" in text and "data live" in text
            await page.screenshot(tmp_path / "serve-wall.png")


@contextlib.asynccontextmanager
async def serving_two_agents(
    tmp_path: Path, requested: list[str], stream: bool
) -> AsyncIterator[str]:
    """``serve`` over two real agents (node01, node02) read every 0.5 s, the path of each
    request they get noted in ``requested``; yields the viewers' URL."""

    @web.middleware
    async def note(request: web.Request, handler):  # type: ignore[no-untyped-def]
        requested.append(request.path)
        return await handler(request)

    agents = [make_app(sim_collector(node), None) for node in ("node01", "node02")]
    for agent in agents:
        agent.middlewares.append(note)
    async with serving(agents[0]) as first, serving(agents[1]) as second:
        sources = [{"type": "agent", "url": url, "stream": stream} for url in (first, second)]
        config = tmp_path / "serve.yaml"
        config.write_text(yaml.safe_dump({"interval": 0.5, "sources": sources}))
        with served("--config", str(config)) as url:
            yield url


async def test_two_viewers_read_one_stream_an_agent(tmp_path: Path) -> None:
    requested: list[str] = []
    async with serving_two_agents(tmp_path, requested, stream=True) as url, chromium() as browser:
        one = await browser.open(url)
        await one.wait_for_text(both_agents)
        two = await browser.open(url)
        await two.wait_for_text(both_agents)
        assert "node01" in await one.screen_text()  # both viewers are live
    assert sorted(requested) == ["/v2/stream", "/v2/stream"]  # one each, no poll at all


def both_agents(screen: str) -> bool:
    """The viewer shows both agents' nodes, and both agents polled fine."""
    return "node02" in screen and len(re.findall(r" agent +ok", screen)) == 2


async def rate(page: Page, count: Callable[[], int], requests: int) -> float:
    """Agent requests per second while ``requests`` more arrive (the page stays live)."""
    start, started = count(), time.monotonic()
    await wait_until(lambda: count() >= start + requests, timeout=60)
    assert "node01" in await page.screen_text()
    return (count() - start) / (time.monotonic() - started)


async def test_two_viewers_do_not_double_the_polls_on_the_agents(tmp_path: Path) -> None:
    # Polled (a request an agent a cycle, counted): a stream is one request an agent
    # whatever the cycles (the test above).
    requested: list[str] = []

    def polls() -> int:
        return requested.count("/v1/snapshot")

    async with serving_two_agents(tmp_path, requested, stream=False) as url, chromium() as browser:
        one = await browser.open(url)
        await one.wait_for_text(both_agents)
        alone = await rate(one, polls, 20)
        two = await browser.open(url)
        await two.wait_for_text(both_agents)
        together = await rate(two, polls, 20)
        assert "node01" in await one.screen_text()  # both viewers are live
    # Two agents polled every 0.5 s: about 4 requests a second, however many viewers.
    print(f"agent requests per second: one viewer {alone:.2f}, two viewers {together:.2f}")
    assert 2.0 < alone < 6.0
    assert together < alone * 1.5, (alone, together)
