"""``serve`` answers only its own Host, only its own pages' websockets, caps sessions and
window sizes, and forbids framing (issue 14.5)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from console.serve.guard import MAX_HEIGHT, MAX_WIDTH, Guard, add_headers, allowed_hosts
from tests.integration.agents import serving
from tests.integration.test_serve import served


async def test_a_real_serve_refuses_a_forged_host_and_a_foreign_origin() -> None:
    with served("--demo") as url:
        port = url.rstrip("/").rsplit(":", 1)[1]
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as page:
                assert page.status == 200
                assert page.headers["X-Frame-Options"] == "DENY"
                assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
                assert page.headers["X-Content-Type-Options"] == "nosniff"
            # DNS rebinding: the browser sends the attacker's name as Host
            async with session.get(url, headers={"Host": f"evil.example:{port}"}) as rebound:
                assert rebound.status == 421
            ws_url = url.rstrip("/").replace("http://", "ws://") + "/ws"
            for origin in ("https://evil.example", "null", None):
                headers = {"Origin": origin} if origin else {}
                try:
                    async with session.ws_connect(ws_url, headers=headers):
                        raise AssertionError(f"websocket opened from origin {origin}")
                except aiohttp.WSServerHandshakeError as refused:
                    assert refused.status == 403, origin
            own = url.rstrip("/")  # the page's own origin, as the browser sends it
            async with session.ws_connect(ws_url, headers={"Origin": own}) as socket:
                await socket.send_json(["ping", "x"])
                answer = await socket.receive_json(timeout=30)
                assert answer == ["pong", "x"]


async def test_sessions_are_capped_and_windows_cut() -> None:
    guard = Guard(allowed_hosts("127.0.0.1", None), max_sessions=2)
    release = asyncio.Event()
    sizes: list[tuple[str, str]] = []

    async def ws(request: web.Request) -> web.Response:
        sizes.append((request.query["width"], request.query["height"]))
        await release.wait()
        return web.Response(text="done")

    app = web.Application(middlewares=[guard.middleware])
    app.on_response_prepare.append(add_headers)
    app.router.add_get("/ws", ws)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        headers = {"Origin": url}
        held = [
            asyncio.ensure_future(session.get(f"{url}/ws?width=3000&height=3000", headers=headers)),
            asyncio.ensure_future(session.get(f"{url}/ws?width=-5&height=x", headers=headers)),
        ]
        deadline = asyncio.get_running_loop().time() + 10
        while guard.sessions < 2:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        async with session.get(f"{url}/ws", headers=headers) as third:
            assert third.status == 503
            assert third.headers["X-Frame-Options"] == "DENY"
        release.set()
        for future in held:
            (await future).release()
    assert sorted(sizes) == sorted([(str(MAX_WIDTH), str(MAX_HEIGHT)), ("1", "24")])
    assert guard.refused == {"sessions": 1}
    assert guard.sessions == 0


EVIL_PAGE = """<!doctype html><title>evil</title><script>
window.verdict = new Promise((resolve) => {
  const socket = new WebSocket("WS_URL");
  socket.onopen = () => resolve("opened");
  socket.onerror = () => resolve("refused");
});
</script>"""


WAIT_FOR_VERDICT = """new Promise((resolve) => {
  const check = () => window.verdict ? window.verdict.then(resolve) : setTimeout(check, 50);
  check();
})"""


async def test_a_page_from_another_origin_in_chromium_cannot_open_the_console() -> None:
    from tests.integration.browser import chromium

    with served("--demo") as url:
        ws_url = url.rstrip("/").replace("http://", "ws://") + "/ws?width=80&height=24"

        async def evil(request: web.Request) -> web.Response:
            return web.Response(text=EVIL_PAGE.replace("WS_URL", ws_url), content_type="text/html")

        app = web.Application()
        app.router.add_get("/", evil)
        # Same host, another port: another origin (another local user's page, say).
        async with serving(app) as evil_url, chromium() as browser:
            page = await browser.open(evil_url + "/")
            verdict = await page.send(
                "Runtime.evaluate", expression=WAIT_FOR_VERDICT, awaitPromise=True,
                returnByValue=True,
            )  # fmt: skip
            assert verdict["result"].get("value") == "refused", verdict
            own = await browser.open(url)  # the console's own page still works
            await own.wait_for_text(lambda s: "Findings (" in s)


def test_the_same_server_under_another_loopback_name_is_its_own_origin() -> None:
    guard = Guard(allowed_hosts("127.0.0.1", "https://console.example/"),
                  public_url="https://console.example/")  # fmt: skip
    same = guard._same_server
    assert same("http://localhost:8080", "127.0.0.1:8080")
    assert same("http://127.0.0.1:8080", "localhost:8080")
    assert same("http://[::1]:8080", "127.0.0.1:8080")
    assert not same("http://127.0.0.1:8888", "127.0.0.1:8080")  # another port: another origin
    assert not same("http://evil.example:8080", "127.0.0.1:8080")
    assert not same("null", "127.0.0.1:8080") and not same("", "127.0.0.1:8080")
    assert "https://console.example" in guard.origins
