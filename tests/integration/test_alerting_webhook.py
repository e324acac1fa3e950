"""The webhook: a JSON POST per new and resolved alert to a real local HTTP receiver,
rate-limited, in JSON or a Slack-style template. Cycles are driven one by one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from console.alerting.config import AlertingConfig, Rule, WebhookConfig
from console.alerting.service import Alerting
from console.collector.watch import Cycle, is_warm
from console.core.config import Config
from console.core.engine import Engine
from console.core.plugins import discover
from console.core.runtime import DemoOptions, build_engine, build_sources, load_registry
from console.ui.app import WatchfloorApp
from tests.integration.agents import serving


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _engine(scenario: str) -> Engine:
    registry = load_registry([r for r in discover() if r.distribution == "watchfloor"])
    sources = build_sources(Config(), registry, DemoOptions(scenario, 1, 4), local=False)
    return build_engine(sources, registry)


def _receiver() -> tuple[web.Application, list[Any]]:
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    return app, received


async def _cycles(alerting: Alerting, engine: Engine, count: int, clock: Clock) -> None:
    for _ in range(count):
        await engine.collect(1)
        clock.now += 1.0
        statuses = engine.statuses()
        await alerting.on_cycle(Cycle(engine.store, statuses, 0, is_warm(engine, statuses)))
        for sender in alerting.senders:
            if sender._task is not None:
                await sender._task  # deterministic: each cycle's delivery lands before the next


async def test_webhook_posts_new_and_resolved_once_each(tmp_path: Path) -> None:
    app, received = _receiver()
    clock = Clock()
    async with serving(app) as url:
        config = AlertingConfig(
            webhook=WebhookConfig(f"{url}/hook"), state_file=tmp_path / "alerts.json",
            rules=(Rule(("job-stalled",)), Rule(("*",), page=False)),
        )  # fmt: skip
        alerting = Alerting(config, clock)
        engine = _engine("congested-link")
        await _cycles(alerting, engine, 6, clock)
        assert [(r["status"], r["labels"]["ref"]) for r in received] == [("firing", "job/4711")]
        first = received[0]
        assert "link/leaf01/p4~spine02/p1  [congested-link]" in first["annotations"]["causes"]
        assert "job/4712  [noisy-neighbour]" in first["annotations"]["causes"]
        assert first["endsAt"] is None
        await alerting.close()
        # The fabric heals (a healthy simulator under a restarted Watchfloor).
        healed = Alerting(config, clock)
        await _cycles(healed, _engine("healthy"), 6, clock)
        assert [(r["status"], r["labels"]["ref"]) for r in received[1:]] == [
            ("resolved", "job/4711")
        ]
        await healed.close()


async def test_webhook_is_rate_limited_and_nothing_is_dropped(tmp_path: Path) -> None:
    app, received = _receiver()
    clock = Clock()
    async with serving(app) as url:
        config = AlertingConfig(
            webhook=WebhookConfig(f"{url}/hook", template="slack", max_per_minute=2),
            state_file=tmp_path / "alerts.json",
        )
        alerting = Alerting(config, clock)
        engine = _engine("congested-link")
        await _cycles(alerting, engine, 6, clock)
        paged = len(alerting.book.firing())
        assert paged >= 4  # the stall, three congested links, a throttled GPU…
        assert len(received) == 2  # two a minute
        assert set(received[0]) == {"text"}  # Slack's shape
        assert received[0]["text"].startswith("[firing] critical ")
        clock.now += 61.0
        await _cycles(alerting, engine, 1, clock)
        assert len(received) == 4
        for _ in range(5):
            clock.now += 61.0
            await _cycles(alerting, engine, 1, clock)
        assert len(received) == paged  # each once, none lost, none twice
        assert len({r["text"] for r in received}) == paged
        await alerting.close()


async def test_a_receiver_that_fails_is_retried_with_the_same_alert(tmp_path: Path) -> None:
    received: list[Any] = []
    answers = [500, 500, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=answers.pop(0))

    app = web.Application()
    app.router.add_post("/hook", hook)
    clock = Clock()
    async with serving(app) as url:
        config = AlertingConfig(
            webhook=WebhookConfig(f"{url}/hook"), state_file=tmp_path / "alerts.json",
            rules=(Rule(("job-stalled",)), Rule(("*",), page=False)),
        )  # fmt: skip
        alerting = Alerting(config, clock)
        engine = _engine("congested-link")
        await _cycles(alerting, engine, 12, clock)  # 1 s a cycle: backoff 1 s, then 2 s
        assert len(received) == 3 and answers == []
        assert {r["labels"]["ref"] for r in received} == {"job/4711"}
        assert alerting.book.owed_to("webhook") == []
        await alerting.close()


async def test_alertmanager_behind_a_proxy_gets_the_token_and_v2_alerts(tmp_path: Path) -> None:
    seen: list[tuple[str | None, Any]] = []

    async def alerts(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/v2/alerts", alerts)
    token = tmp_path / "am-token"
    token.write_text("s3cret\n")
    clock = Clock()
    async with serving(app) as url:
        config = AlertingConfig(
            alertmanager=(url,), token_file=token, state_file=tmp_path / "alerts.json",
            resend=10.0, rules=(Rule(("job-stalled",)), Rule(("*",), page=False)),
        )  # fmt: skip
        alerting = Alerting(config, clock)
        engine = _engine("congested-link")
        await _cycles(alerting, engine, 12, clock)  # 12 s: sent when it fired, re-sent once
        assert [auth for auth, _ in seen] == ["Bearer s3cret", "Bearer s3cret"]
        (alert,) = seen[0][1]
        assert set(alert) == {"labels", "annotations", "startsAt", "endsAt"}
        assert alert["labels"]["alertname"] == "job-stalled"
        assert seen[1][1][0]["startsAt"] == alert["startsAt"]  # the same alert, again
        assert seen[1][1][0]["endsAt"] > alert["endsAt"]  # pushed on while it lasts
        await alerting.close()


async def test_the_wall_ribbon_says_which_findings_paged(
    tmp_path: Path, make_app: Callable[..., WatchfloorApp]
) -> None:
    from console.alerting.pager_view import PAGER, PageState
    from console.core.config import WallConfig

    PAGER.configure(AlertingConfig(webhook=WebhookConfig("http://127.0.0.1:9/x")))
    try:
        app = make_app(wall=WallConfig(dwell=30.0))
        async with app.run_test(size=(200, 50)) as pilot:
            PAGER.states = {"job-stalled|job/4711": PageState(silenced_by=("abc",))}
            app.screen.redraw(force=True)  # what a pager read that changed something does
            await pilot.pause()
            ribbon = str(app.screen.query_one("#ribbon-text").render())
        assert "⚐ stalled job 4711 llama-70b-pretrain: -62% throughput · silenced" in ribbon
    finally:
        PAGER.configure(AlertingConfig())


async def test_an_outage_goes_to_alertmanager_in_batches(tmp_path: Path) -> None:
    from console.alerting.book import AlertBook
    from console.alerting.rules import paging
    from console.alerting.senders import BATCH, AlertmanagerSender
    from console.core.model import Batch, Entity, Finding
    from console.core.store import Store

    sizes: list[int] = []

    async def alerts(request: web.Request) -> web.Response:
        sizes.append(len(await request.json()))
        return web.Response(status=200)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/api/v2/alerts", alerts)
    store = Store()
    store.apply(Batch(entities=[Entity("switch/leaf01", "leaf01")]), "t", received=0.0)
    findings = [Finding(f"port/leaf01/p{i}", "link-down", "critical", "down") for i in range(1200)]
    async with serving(app) as url:
        config = AlertingConfig(alertmanager=(url,), state_file=tmp_path / "a.json")
        book = AlertBook(config, [f"alertmanager {url}"], config.state_file)
        book.update(store, paging(store, findings, config), 100.0)
        sender = AlertmanagerSender(book, url, config)
        assert await sender.send() is True
    assert sizes == [BATCH, BATCH, 1200 - 2 * BATCH]
    assert book.owed_to(sender.name) == []
