"""``watchfloor watch`` pages a real Alertmanager (Debian ``prometheus-alertmanager``):
the stalled job arrives with its cause, resolves when the fabric heals, comes back
after Alertmanager is killed, and is not duplicated when Watchfloor restarts."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.alerting.config import AlertingConfig
from console.alerting.pager_view import PAGER
from console.core.config import parse_config
from console.sim.simulation import Simulation
from console.sim.source import SIM_SOURCE
from console.ui.app import WatchfloorApp
from console.ui.kit import EntityTable
from tests.integration.alertmanager import (
    ALERTMANAGER,
    Alertmanager,
    Watch,
    watch_config,
)
from tests.integration.test_serve import served
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None, reason="Debian package 'prometheus-alertmanager' not installed"
)
INJECTED = Simulation("congested-link", 1, 4).faults.injected
ARRIVES_WITHIN = 30.0
"""Start-up of a Python process on a loaded 2-core machine, plus the 1 s hold."""


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path_factory.mktemp("alertmanager"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _stalled(am: Alertmanager, cluster: str) -> list[dict[str, object]]:
    return am.alerts(cluster, "job-stalled")


def test_stalled_job_pages_with_its_cause_and_resolves_when_healed(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    config = watch_config(tmp_path / "config.yaml", alertmanager.url, "heal")
    watch = Watch(config)
    try:
        alerts = wait_for(lambda: _stalled(alertmanager, "heal"), ARRIVES_WITHIN, "stall paged")
        assert len(alerts) == 1
        alert = alerts[0]
        labels, notes = alert["labels"], alert["annotations"]
        assert labels["ref"] == INJECTED["victim"] == "job/4711"
        assert labels["severity"] == "critical" and labels["job"] == "4711"
        assert labels["node"] == "node01,node03"
        # The ranked causes, in explain's words: the injected link first, then its neighbour.
        assert (
            notes["causes"].splitlines()[1].startswith(f" 1. {INJECTED['link']}  [congested-link]")
        )
        assert f"{INJECTED['neighbour']}  [noisy-neighbour]" in notes["causes"]
        assert notes["top_cause"].startswith(str(INJECTED["link"]))
        assert notes["console"] == "watchfloor explain 4711"
        assert notes["runbook_url"] == "https://runbooks.example/job-stalled"
        # Decoys are named nowhere in the page.
        for decoy in INJECTED["decoys"]:  # type: ignore[attr-defined]
            assert decoy not in notes["causes"]
        # The congested link's own page names the jobs pushing traffic through it.
        links = alertmanager.alerts("heal", "link-congested")
        hot = next(a for a in links if a["labels"]["ref"] == INJECTED["link"])
        assert hot["annotations"]["jobs"].startswith(f"{INJECTED['neighbour']} 67%: its hosts send")
        # The scenario heals: a healthy config swapped in (watch reloads it).
        watch_config(config, alertmanager.url, "heal", scenario="healthy")
        wait_for(lambda: not _stalled(alertmanager, "heal"), ARRIVES_WITHIN, "stall resolved")
        assert "config reloaded" in watch.output()
    finally:
        status, output = watch.stop()
    assert status == 0, output
    assert "Traceback" not in output


def test_alert_is_back_within_one_resend_after_alertmanager_is_killed(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    resend = 2.0
    config = watch_config(tmp_path / "config.yaml", alertmanager.url, "kill", resend=resend)
    watch = Watch(config)
    try:
        wait_for(lambda: _stalled(alertmanager, "kill"), ARRIVES_WITHIN, "stall paged")
        alertmanager.kill9()  # alerts live in its memory: gone with it
        killed_at = datetime.now(UTC)
        alertmanager.start()
        back_from = time.monotonic()
        wait_for(lambda: _stalled(alertmanager, "kill"), resend + 1.0, "stall back after restart")
        took = time.monotonic() - back_from
        assert took <= resend + 1.0
        assert len(_stalled(alertmanager, "kill")) == 1
        # A new process holds it (alerts are in memory only): sent again. ("Gone at first"
        # was a race: a resend may land while the new process starts, before a look.)
        with urllib.request.urlopen(f"{alertmanager.url}/api/v2/status", timeout=5) as reply:
            started = datetime.fromisoformat(json.load(reply)["uptime"])
        assert started >= killed_at.replace(microsecond=0)
    finally:
        status, output = watch.stop()
    assert status == 0, output


def test_watchfloor_restart_neither_duplicates_nor_forgets(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    config = watch_config(tmp_path / "config.yaml", alertmanager.url, "restart")
    watch = Watch(config)
    try:
        first = wait_for(lambda: _stalled(alertmanager, "restart"), ARRIVES_WITHIN, "paged")[0]
    finally:
        status, output = watch.stop()
    assert status == 0, output
    again = Watch(config)
    try:
        # Re-sent by the new process (updatedAt moves on), still the one alert.
        def resent() -> list[dict[str, object]]:
            alerts = _stalled(alertmanager, "restart")
            return [a for a in alerts if a["updatedAt"] > first["updatedAt"]]

        alerts = wait_for(resent, ARRIVES_WITHIN, "re-sent after restart")
        assert len(alerts) == 1
        assert alerts[0]["fingerprint"] == first["fingerprint"]
        assert alerts[0]["startsAt"] == first["startsAt"]
    finally:
        again.stop()
    # Healed while Watchfloor was down: the next run still owes, and sends, the resolution.
    watch_config(config, alertmanager.url, "restart", scenario="healthy")
    healed = Watch(config)
    try:
        wait_for(lambda: not _stalled(alertmanager, "restart"), ARRIVES_WITHIN, "resolved")
    finally:
        healed.stop()


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()  # type: ignore[no-any-return]


def test_serve_pages_from_its_one_collector_and_exposes_findings(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    config = watch_config(tmp_path / "config.yaml", alertmanager.url, "serve")
    with served("--config", str(config)) as url:
        wait_for(lambda: _stalled(alertmanager, "serve"), ARRIVES_WITHIN, "stall paged by serve")
        text = wait_for(
            lambda: (body := _metrics(f"{url.rstrip('/')}/metrics")) and 'paged="true"' in body
            and body, ARRIVES_WITHIN, "paged finding in serve's /metrics",
        )  # fmt: skip
    line = next(ln for ln in text.splitlines() if 'ref="job/4711"' in ln)
    assert line.startswith("watchfloor_finding{") and line.endswith(" 1.0")
    assert 'kind="job-stalled"' in line and 'cluster="serve"' in line


def test_watch_exposes_findings_and_stops_cleanly_on_sigint(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    config = watch_config(tmp_path / "config.yaml", alertmanager.url, "metrics")
    watch = Watch(config)
    try:
        text = wait_for(lambda: 'paged="true"' in (body := watch.metrics()) and body,
                        ARRIVES_WITHIN, "paged finding in watch's /metrics")  # fmt: skip
        assert f'ref="{INJECTED["link"]}"' in text
    finally:
        status, output = watch.stop(signal.SIGINT)
    assert status == 0, output
    assert "Traceback" not in output


def _silence(am: Alertmanager, cluster: str, ref: str) -> str:
    now = time.time()
    body = json.dumps({
        "matchers": [{"name": "cluster", "value": cluster, "isRegex": False, "isEqual": True},
                     {"name": "ref", "value": ref, "isRegex": False, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "createdBy": "on-call", "comment": "known: checkpoint storm",
    }).encode()  # fmt: skip
    request = urllib.request.Request(f"{am.url}/api/v2/silences", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.load(response)["silenceID"])


async def test_the_console_shows_what_paged_and_what_alertmanager_silenced(
    alertmanager: Alertmanager, tmp_path: Path, make_app: Callable[..., WatchfloorApp]
) -> None:
    config_path = watch_config(tmp_path / "config.yaml", alertmanager.url, "tui")
    watch = Watch(config_path)
    try:
        await asyncio.to_thread(wait_for, lambda: len(alertmanager.alerts("tui")) >= 3,
                                ARRIVES_WITHIN, "findings paged")  # fmt: skip
        silence = _silence(alertmanager, "tui", "job/4711")
        await asyncio.to_thread(
            wait_for, lambda: any(a["status"]["silencedBy"] for a in _stalled(alertmanager, "tui")),
            ARRIVES_WITHIN, "Alertmanager applied the silence",
        )  # fmt: skip
    finally:
        watch.stop()
    # Each re-send makes Alertmanager work the silence out afresh: wait until it shows.
    await asyncio.to_thread(
        wait_for, lambda: any(a["status"]["silencedBy"] for a in _stalled(alertmanager, "tui")),
        ARRIVES_WITHIN, "Alertmanager applied the silence again",
    )  # fmt: skip
    alerting = parse_config(config_path.read_text(), str(config_path), {"sim": SIM_SOURCE}).alerting
    PAGER.configure(alerting)
    try:
        app = make_app()
        async with app.run_test(size=(200, 50)) as pilot:
            assert PAGER.states == {}
            app._read_pager()  # what the live console's timer does: a worker reads the pager
            await app.workers.wait_for_complete()
            await pilot.pause()
            stall = PAGER.state("job-stalled", "job/4711")
            assert stall is not None and stall.silenced_by == (silence,), PAGER.error
            link = PAGER.state("link-congested", str(INJECTED["link"]))
            assert link is not None and link.label() == "paged"
            findings = app.screen.query_one("#findings", EntityTable)
            stall_row = findings.get_row("job/4711")[1].plain
            link_row = findings.get_row(str(INJECTED["link"]))[1].plain
            gpu_row = findings.get_row("gpu/node04/2")[1].plain
        assert stall_row == "⚐ stalled job 4711 llama-70b-pretrain: -62% throughput · silenced"
        assert link_row == "⚑ congested link leaf01/p4 ↔ spine02/p1 · paged"
        assert gpu_row.startswith("⚑ throttled GPU node04/2") and gpu_row.endswith(" · paged")
    finally:
        PAGER.configure(AlertingConfig())


def test_alerts_raised_while_alertmanager_is_down_arrive_when_it_comes_up(
    tmp_path: Path,
) -> None:
    late = Alertmanager(tmp_path / "late")  # its port chosen, nothing listening yet
    config = watch_config(tmp_path / "config.yaml", late.url, "late", resend=2.0)
    watch = Watch(config)
    try:
        state = tmp_path / "alerts.json"
        # Watchfloor has paged (in its book) and is retrying an Alertmanager that is not there.
        wait_for(lambda: state.exists() and '"starts_at": 1' in state.read_text(),
                 ARRIVES_WITHIN, "the stall paged while Alertmanager is down")  # fmt: skip
        wait_for(lambda: "retry in" in watch.output(), ARRIVES_WITHIN, "a retry logged")
        late.start()
        up = time.monotonic()
        wait_for(lambda: _stalled(late, "late"), 2.0 + 1.0, "the stall delivered once it is up")
        assert time.monotonic() - up <= 3.0
        assert len(_stalled(late, "late")) == 1
    finally:
        status, output = watch.stop()
        late.stop()
    assert status == 0, output
