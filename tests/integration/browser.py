"""A real headless Chromium driven over the DevTools protocol (aiohttp websockets).

Debian's ``chromium`` is started with ``--headless --no-sandbox --disable-gpu`` and
``--remote-debugging-port=0``; the port it chose is read from ``DevToolsActivePort``
in its profile directory. Each page is a target with its own session.

To read what the console shows, the page's xterm.js terminal is needed:
textual-serve keeps it inside its bundle, so a script added before the page's
own catches the object that owns it (it is the one that sets ``fitAddon``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
START_TIMEOUT = 60.0

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true});
    if (this.terminal) { window.__watchfloorTerminal = this.terminal; }
  },
});
"""
"""Runs before textual-serve's script: keeps its xterm.js Terminal where we can read it."""

SCREEN_TEXT = """
(() => {
  const term = window.__watchfloorTerminal;
  if (!term) { return ""; }
  const buffer = term.buffer.active, lines = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
})()
"""
"""The terminal's visible rows as text."""


class Page:
    """One tab, reached through a flattened DevTools session."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, session_id=self.session_id, **params)

    async def screen_text(self) -> str:
        """What the console in this page shows now."""
        result = await self.send("Runtime.evaluate", expression=SCREEN_TEXT, returnByValue=True)
        return str(result["result"].get("value") or "")

    async def wait_for_text(self, predicate: Callable[[str], bool], timeout: float = 60.0) -> str:
        """Read the screen until ``predicate`` holds (an AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = await self.screen_text()
            if predicate(text):
                return text
            await asyncio.sleep(0.2)
        raise AssertionError(f"the page never showed what was expected; it shows:\n{text}")

    async def press(self, key: str, code: str, key_code: int) -> None:
        """A key press as a user's keyboard sends it (down with its text, up)."""
        focus = "document.querySelector('.xterm-helper-textarea').focus()"
        await self.send("Runtime.evaluate", expression=focus)
        await self.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, text=key,
                        windowsVirtualKeyCode=key_code)  # fmt: skip
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                        windowsVirtualKeyCode=key_code)  # fmt: skip

    async def screenshot(self, path: Path) -> bytes:
        """A PNG of the page, saved to ``path``."""
        result = await self.send("Page.captureScreenshot", format="png")
        data = base64.b64decode(result["data"])
        path.write_bytes(data)
        return data

    async def close(self) -> None:
        target = await self.send("Target.getTargetInfo")
        await self.browser.send("Target.closeTarget", targetId=target["targetInfo"]["targetId"])


class Browser:
    """A Chromium process and its DevTools websocket."""

    def __init__(self, process: subprocess.Popen[bytes], ws: aiohttp.ClientWebSocketResponse):
        self.process = process
        self.ws = ws
        self._ids = count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._waiting.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)

    async def send(
        self, method: str, session_id: str | None = None, **params: Any
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def open(self, url: str, width: int = 1280, height: int = 800) -> Page:
        """A new tab on ``url``, with the terminal catcher installed first."""
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send("Target.attachToTarget", targetId=target["targetId"],
                                   flatten=True)  # fmt: skip
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)  # fmt: skip
        await page.send("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
        await page.send("Page.navigate", url=url)
        return page


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> tuple[int, str]:
    deadline = time.monotonic() + START_TIMEOUT
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        with contextlib.suppress(OSError, ValueError):
            port, path = marker.read_text().split("\n")[:2]
            return int(port), path
        time.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for the duration of the block."""
    # Chromium's helper processes may still write to the profile as the main one exits:
    # a leftover file there must not fail the test that used the browser.
    with tempfile.TemporaryDirectory(prefix="wf-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            port, path = await asyncio.to_thread(_devtools_port, Path(profile), process)
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(
                    f"ws://127.0.0.1:{port}{path}", max_msg_size=64 * 1024 * 1024
                ) as ws,
            ):
                browser = Browser(process, ws)
                try:
                    yield browser
                finally:
                    browser._reader.cancel()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
