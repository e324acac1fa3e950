"""Alerting without the network: the config section, rules and `for:`, inhibition, the
state file across restarts, the Alertmanager payload and backoff, findings as metrics."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from console.alerting.book import AlertBook
from console.alerting.config import AlertingConfig, Inhibit, Rule
from console.alerting.metrics import FindingsCollector, findings_registry, render
from console.alerting.rules import paging
from console.alerting.senders import AlertmanagerSender
from console.core.config import ConfigError, parse_config
from console.core.model import Batch, Entity, Finding
from console.core.store import Store


def _alerting(text: str) -> AlertingConfig:
    return parse_config(text, "site.yaml", {}).alerting


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("alerting:\n  pager: x\n", "site.yaml:2: alerting: unknown key 'pager'"),
        ("alerting:\n  alertmanager: [am:9093]\n", "site.yaml:2: alerting: 'alertmanager' "
         "must be an http:// or https:// URL"),
        ("alerting:\n  rules:\n    - match: job-stalled\n      for: soon\n",
         "site.yaml:4: alerting: 'for' must be a duration"),
        ("alerting:\n  rules:\n    - severity: critical\n", "site.yaml:3: alerting: each rule "
         "needs 'match'"),
        ("alerting:\n  rules:\n    - match: x\n      severity: loud\n",
         "site.yaml:4: alerting: 'severity': unknown 'loud'"),
        ("alerting:\n  inhibit:\n    - source: switch-down\n", "site.yaml:3: alerting: each "
         "inhibit rule needs 'target'"),
        ("alerting:\n  inhibit:\n    - {source: a, target: b, equal: [rack]}\n",
         "site.yaml:3: alerting: 'equal': unknown 'rack'"),
        ("alerting:\n  webhook: {url: http://x, template: teams}\n",
         "site.yaml:2: alerting: 'template': unknown 'teams'"),
        ("alerting:\n  resend: 0s\n", "site.yaml:2: alerting: 'resend' must be a duration"),
    ],
)  # fmt: skip
def test_alerting_mistakes_name_the_file_and_line(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.yaml", {})
    assert str(caught.value).startswith(error), str(caught.value)


def test_alerting_section_parses() -> None:
    config = _alerting(
        "alerting:\n  alertmanager: http://am:9093/\n  resend: 2m\n  cluster: prod\n"
        "  runbooks: {default: 'https://rb/{kind}', job-stalled: 'https://rb/stalls'}\n"
        "  rules:\n    - match: [gpu-*, link-hot]\n      page: false\n"
        "    - match: job-stalled\n      for: 30s\n      severity: warning\n"
        "  webhook: {url: 'https://hooks/x', template: {text: '$summary'}, max_per_minute: 5}\n"
    )
    assert config.alertmanager == ("http://am:9093",) and config.resend == 120.0
    assert config.rules[0] == Rule(("gpu-*", "link-hot"), page=False, line=7)
    assert config.rules[1].hold == 30.0 and config.rules[1].severity == "warning"
    assert config.runbook("job-stalled") == "https://rb/stalls"
    assert config.runbook("gpu-hot") == "https://rb/gpu-hot"
    assert config.webhook is not None and config.webhook.template == {"text": "$summary"}


def _fabric_store() -> Store:
    store = Store()
    entities = [Entity(f"switch/{name}", name) for name in ("leaf01", "leaf02")]
    entities += [
        Entity("node/gpu1", "gpu1"),
        Entity("job/7", "train", attrs={"nodes": ["node/gpu1"]}),
    ]
    store.apply(Batch(entities=entities), "t", received=0.0)
    return store


def _down(port: str) -> Finding:
    return Finding(f"port/{port}", "link-down", "critical", f"link down at {port}")


def test_link_downs_under_one_switch_page_once_and_name_the_rest() -> None:
    config = AlertingConfig(inhibit=(Inhibit(("link-down",), ("link-down",), ("switch",)),))
    findings = [_down("leaf01/p3"), _down("leaf01/p1"), _down("leaf01/p2"), _down("leaf02/p1")]
    pages = paging(_fabric_store(), findings, config)
    assert [p.finding.ref for p in pages] == ["port/leaf01/p1", "port/leaf02/p1"]
    assert pages[0].inhibits == ["port/leaf01/p2", "port/leaf01/p3"]
    assert pages[1].inhibits == []


def test_a_down_switch_inhibits_its_link_downs_but_not_another_switchs() -> None:
    config = AlertingConfig(inhibit=(Inhibit(("switch-down",), ("link-down",), ("switch",)),))
    switch = Finding("switch/leaf01", "switch-down", "critical", "leaf01 unreachable")
    findings = [_down("leaf01/p1"), _down("leaf02/p1"), switch]
    pages = paging(_fabric_store(), findings, config)
    assert sorted(p.finding.ref for p in pages) == ["port/leaf02/p1", "switch/leaf01"]
    # Without the rule each one pages.
    assert len(paging(_fabric_store(), findings, AlertingConfig())) == 3


def test_rules_decide_what_pages_and_at_what_severity() -> None:
    config = AlertingConfig(
        rules=(Rule(("gpu-*",), page=False), Rule(("job-*",), severity="warning"))
    )
    findings = [Finding("gpu/gpu1/0", "gpu-hot", "warning", "hot"),
                Finding("job/7", "job-stalled", "critical", "stalled")]  # fmt: skip
    pages = paging(_fabric_store(), findings, config)
    assert [(p.finding.kind, p.severity) for p in pages] == [("job-stalled", "warning")]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _stall() -> Finding:
    return Finding("job/7", "job-stalled", "critical", "stalled job 7", evidence=["-62%"])


def test_a_finding_pages_only_after_holding_for_its_for_time(tmp_path: Path) -> None:
    config = AlertingConfig(alertmanager=("http://am",), rules=(Rule(("job-stalled",), hold=30.0),))
    store = _fabric_store()
    book = AlertBook(config, ["alertmanager http://am"], tmp_path / "alerts.json")
    pages = paging(store, [_stall()], config)
    assert book.update(store, pages, 100.0) is False
    assert book.firing() == [] and book.owed_to("alertmanager http://am") == []
    assert book.update(store, pages, 129.0) is False
    assert book.update(store, pages, 130.0) is True
    (alert,) = book.firing()
    assert alert.starts_at == 130.0
    assert alert.labels == {"alertname": "job-stalled", "severity": "critical", "ref": "job/7",
                            "node": "gpu1", "job": "7", "cluster": "watchfloor",
                            "source": "watchfloor"}  # fmt: skip
    assert alert.annotations["console"] == "watchfloor explain 7"
    # A finding that clears before its hold never pages.
    book.update(store, [], 131.0)
    assert book.resolved[0].ends_at == 131.0
    flicker = paging(store, [_stall()], config)
    book.update(store, flicker, 140.0)
    book.update(store, [], 150.0)
    assert len(book.resolved) == 1 and book.firing() == []


def test_the_state_file_keeps_identity_and_owed_resolutions_across_a_restart(
    tmp_path: Path,
) -> None:
    config = AlertingConfig(alertmanager=("http://am",))
    sink = "alertmanager http://am"
    store, path = _fabric_store(), tmp_path / "state" / "alerts.json"
    book = AlertBook(config, [sink], path)
    book.update(store, paging(store, [_stall()], config), 100.0)
    book.delivered(sink, book.owed_to(sink))
    assert os.stat(path).st_mode & 0o077 == 0  # only this user reads what paged
    again = AlertBook(config, [sink], path)  # Watchfloor restarted
    assert again.update(store, paging(store, [_stall()], config), 200.0) is False
    assert [a.starts_at for a in again.firing()] == [100.0]  # the same alert, not a new one
    assert again.owed_to(sink) == []  # delivered before the restart: not sent as new
    again.update(store, [], 210.0)  # healed; then Watchfloor stops before delivering
    third = AlertBook(config, [sink], path)
    (owed,) = third.owed_to(sink)
    assert owed.ends_at == 210.0 and owed.starts_at == 100.0
    third.delivered(sink, [owed])
    assert AlertBook(config, [sink], path).owed_to(sink) == []


def test_a_corrupt_or_hostile_state_file_is_set_aside(tmp_path: Path) -> None:
    config = AlertingConfig(alertmanager=("http://am",))
    path = tmp_path / "alerts.json"
    path.write_text("{not json")
    assert AlertBook(config, ["x"], path).open == {}
    path.unlink()
    os.mkfifo(path)  # opening a FIFO for reading would block: it must not
    assert AlertBook(config, ["x"], path).open == {}


def test_alertmanager_payload_and_backoff_while_it_is_down(tmp_path: Path) -> None:
    clock = Clock()
    config = AlertingConfig(alertmanager=("http://127.0.0.1:9",), resend=8.0)
    store = _fabric_store()
    book = AlertBook(config, ["alertmanager http://127.0.0.1:9"], tmp_path / "a.json")
    book.update(store, paging(store, [_stall()], config), clock.now)
    sender = AlertmanagerSender(book, "http://127.0.0.1:9", config, clock)
    (item,) = sender.payload(book.firing(), clock.now)
    assert item["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert item["endsAt"] == "2027-01-15T08:00:32.000Z"  # four re-sends ahead
    waits = []
    for _ in range(5):  # nothing listens on port 9: each try fails, and waits longer
        assert asyncio.run(sender.send()) is False
        waits.append(sender.next_try - clock.now)
        clock.now = sender.next_try
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]  # capped at the re-send interval
    assert book.owed_to(sender.name)  # nothing lost meanwhile


def test_findings_are_exposed_as_metrics() -> None:
    store = _fabric_store()
    store.set_findings([_stall(), _down("leaf01/p1")])
    collector = FindingsCollector(lambda: store, "prod", lambda key: key == "job-stalled|job/7")
    body, content_type = render(findings_registry(collector))
    assert content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {s.labels["ref"]: s for s in families["watchfloor_finding"].samples}
    assert samples["job/7"].value == 1.0
    assert samples["job/7"].labels == {"kind": "job-stalled", "severity": "critical",
                                       "ref": "job/7", "node": "gpu1", "job": "7",
                                       "cluster": "prod", "paged": "true"}  # fmt: skip
    assert samples["port/leaf01/p1"].labels["paged"] == "false"
    assert families["watchfloor_findings"].samples[0].value == 2.0


def test_a_cycle_is_warm_once_every_source_landed_twice_and_slow_ones_once() -> None:
    from console.api import SourceStatus
    from console.collector.watch import is_warm
    from console.core.engine import Engine

    class Quiet:
        def __init__(self, interval: float) -> None:
            self.name, self.type, self.interval, self.timeout = "s", "t", interval, 1.0

    def status(polls: int, state: str = "ok") -> SourceStatus:
        return SourceStatus("s", "t", state, "", last_ok=None, polls=polls, failures=0,
                            duration=None)  # fmt: skip

    engine = Engine(Store(), [Quiet(1.0), Quiet(30.0), Quiet(1.0), Quiet(1.0)])  # type: ignore[list-item]
    gone = [status(0, "disabled"), status(0, "failed")]
    assert not is_warm(engine, [status(1), status(1), *gone])  # rates need two polls
    assert not is_warm(engine, [status(2), status(0, "pending"), *gone])
    assert is_warm(engine, [status(2), status(1), *gone])  # the 30 s scan: once is enough


def test_json_state_is_plain_json(tmp_path: Path) -> None:
    config = AlertingConfig(alertmanager=("http://am",))
    store, path = _fabric_store(), tmp_path / "alerts.json"
    AlertBook(config, ["s"], path).update(store, paging(store, [_stall()], config), 1.0)
    document = json.loads(path.read_text())
    assert document["version"] == 1 and document["open"][0]["key"] == "job-stalled|job/7"


def test_for_counts_from_when_the_finding_began_when_it_says(tmp_path: Path) -> None:
    config = AlertingConfig(alertmanager=("http://am",), rules=(Rule(("job-stalled",), hold=60.0),))
    store = _fabric_store()
    store.time = 5_000.0  # the samples' clock
    book = AlertBook(config, ["s"], tmp_path / "alerts.json")
    young = Finding("job/7", "job-stalled", "critical", "stalled", since=4_970.0)
    book.update(store, paging(store, [young], config), 100.0)
    assert book.firing() == []  # stalled for 30 s of a 60 s hold
    old = Finding("job/7", "job-stalled", "critical", "stalled", since=4_900.0)
    book.update(store, paging(store, [old], config), 101.0)
    assert [a.starts_at for a in book.firing()] == [101.0]  # 100 s: held long enough


def test_a_finding_whose_severity_changes_is_a_new_alert_and_the_old_one_resolves(
    tmp_path: Path,
) -> None:
    config = AlertingConfig(alertmanager=("http://am",))
    store = _fabric_store()
    book = AlertBook(config, ["s"], tmp_path / "alerts.json")
    warning = Finding("gpu/gpu1/0", "gpu-xid", "warning", "XID 13")
    book.update(store, paging(store, [warning], config), 10.0)
    critical = Finding("gpu/gpu1/0", "gpu-xid", "critical", "XID 79")
    assert book.update(store, paging(store, [critical], config), 20.0) is True
    (now,) = book.firing()
    assert now.labels["severity"] == "critical" and now.starts_at == 20.0
    (old,) = book.resolved
    assert old.labels["severity"] == "warning" and old.ends_at == 20.0
    assert {a.labels["severity"] for a in book.owed_to("s")} == {"warning", "critical"}
