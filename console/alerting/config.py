"""``alerting:`` in the config: validated here, every mistake named with file:line.

```yaml
alerting:
  alertmanager: [http://alertmanager:9093]   # one URL or a list
  token_file: /etc/watchfloor/am-token        # bearer token for Alertmanager (optional)
  tls_ca: /etc/watchfloor/ca.pem              # CA for https Alertmanagers (optional)
  cluster: prod-a                             # the `cluster` label
  resend: 60s                                 # re-send interval of open alerts
  state_file: ~/.local/state/watchfloor/alerts.json
  console_url: https://watchfloor.example     # where `serve` is reached (optional)
  runbooks: {default: "https://wiki/runbooks/{kind}", job-stalled: "https://wiki/stalls"}
  webhook: {url: https://hooks.example/x, template: slack, max_per_minute: 20}
  rules:                                      # first match wins; unmatched findings page
    - match: [gpu-hot, "trend-*"]             # finding kinds (globs)
      severity: warning                       # what the page says (default: the finding's)
      for: 2m                                 # how long it must hold before it pages
    - match: link-hot
      page: false
  inhibit:                                    # `target` findings stay quiet while a
    - source: switch-down                     # `source` finding shares the `equal` scopes
      target: link-down
      equal: [switch]
```
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from console.core.config import ConfigError, YamlWhere

SEVERITIES = ("critical", "warning", "info")
SCOPES = ("ref", "node", "switch", "job")
"""What an inhibition's ``equal`` may compare: the entities a finding touches."""
TEMPLATES = ("json", "slack")


@dataclass(frozen=True)
class Rule:
    """One item of ``rules:``."""

    match: tuple[str, ...]
    """Finding-kind globs."""
    page: bool = True
    severity: str | None = None
    """Severity of the page; ``None``: the finding's own."""
    hold: float = 0.0
    """``for:``: seconds the finding must hold before it pages."""
    line: int = 0

    def matches(self, kind: str) -> bool:
        return any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.match)


@dataclass(frozen=True)
class Inhibit:
    """One item of ``inhibit:``."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    equal: tuple[str, ...] = ("switch",)
    line: int = 0


@dataclass(frozen=True)
class WebhookConfig:
    """``alerting.webhook``."""

    url: str
    template: str | dict[str, Any] = "json"
    """``json`` (the alert as JSON), ``slack`` ({"text": ...}), or a mapping whose
    strings are ``$name`` templates (``string.Template``: no code, no attribute access)."""
    max_per_minute: float = 30.0
    token_file: Path | None = None
    tls_ca: Path | None = None


@dataclass(frozen=True)
class AlertingConfig:
    """The validated ``alerting:`` section."""

    alertmanager: tuple[str, ...] = ()
    token_file: Path | None = None
    tls_ca: Path | None = None
    cluster: str = "watchfloor"
    resend: float = 60.0
    state_file: Path | None = None
    console_url: str | None = None
    runbooks: dict[str, str] = field(default_factory=dict)
    webhook: WebhookConfig | None = None
    rules: tuple[Rule, ...] = ()
    inhibit: tuple[Inhibit, ...] = ()

    @property
    def enabled(self) -> bool:
        """Anything to send to."""
        return bool(self.alertmanager) or self.webhook is not None

    def runbook(self, kind: str) -> str | None:
        """The runbook URL for one finding kind (``{kind}`` filled in)."""
        url = self.runbooks.get(kind) or self.runbooks.get("default")
        return url.replace("{kind}", kind) if url else None


DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float | None:
    """Seconds from ``90``, ``90s``, ``2m``, ``1h`` (``None`` when not a duration)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    match = DURATION.match(str(value).strip()) if isinstance(value, str) else None
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


class _Section:
    """Reads one ``alerting:`` node; errors carry file:line."""

    def __init__(self, where: YamlWhere, base_dir: Path) -> None:
        from console.core.config import yaml_mapping, yaml_scalar

        self.where = where
        self.base_dir = base_dir
        self.mapping = yaml_mapping
        self.scalar = yaml_scalar

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        return self.where.error(node, f"alerting: {message}")

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or not value:
            raise self.error(node, f"{key!r} must be a non-empty string, not {value!r}")
        return value

    def url(self, node: yaml.Node, key: str) -> str:
        value = self.string(node, key)
        if not value.startswith(("http://", "https://")):
            raise self.error(node, f"{key!r} must be an http:// or https:// URL, not {value!r}")
        return value.rstrip("/")

    def path(self, node: yaml.Node, key: str) -> Path:
        return (self.base_dir / Path(self.string(node, key)).expanduser()).resolve()

    def duration(self, node: yaml.Node, key: str, positive: bool = False) -> float:
        seconds = parse_duration(self.scalar(node))
        if seconds is None or (positive and seconds <= 0):
            raise self.error(node, f"{key!r} must be a duration (30s, 2m, 1h), "
                             f"not {self.scalar(node)!r}")  # fmt: skip
        return seconds

    def strings(self, node: yaml.Node, key: str, allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
        if isinstance(node, yaml.SequenceNode):
            values = [self.string(item, key) for item in node.value]
            if not values:
                raise self.error(node, f"{key!r} must not be empty")
        else:
            values = [self.string(node, key)]
        for value in values:
            if allowed and value not in allowed:
                raise self.error(node, f"{key!r}: unknown {value!r} "
                                 f"(allowed: {', '.join(allowed)})")  # fmt: skip
        return tuple(values)

    def keys(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        items = self.mapping(self.where, node, f"alerting{what}")
        for key, value_node in items:
            if key not in allowed:
                prefix = f"{what.lstrip('.')}: " if what else ""
                raise self.error(value_node, f"{prefix}unknown key {key!r} "
                                 f"(allowed: {', '.join(allowed)})")  # fmt: skip
        return dict(items)

    def rule(self, node: yaml.Node) -> Rule:
        items = self.keys(node, ".rules[]", ("match", "page", "severity", "for"))
        if "match" not in items:
            raise self.error(node, "each rule needs 'match' (finding kinds, globs allowed)")
        values: dict[str, Any] = {"match": self.strings(items["match"], "match")}
        if "page" in items:
            page = self.scalar(items["page"])
            if not isinstance(page, bool):
                raise self.error(items["page"], f"'page' must be true or false, not {page!r}")
            values["page"] = page
        if "severity" in items:
            values["severity"] = self.strings(items["severity"], "severity", SEVERITIES)[0]
        if "for" in items:
            values["hold"] = self.duration(items["for"], "for")
        return Rule(**values, line=node.start_mark.line + 1)

    def inhibit(self, node: yaml.Node) -> Inhibit:
        items = self.keys(node, ".inhibit[]", ("source", "target", "equal"))
        for key in ("source", "target"):
            if key not in items:
                raise self.error(node, f"each inhibit rule needs {key!r} (finding kinds)")
        equal = self.strings(items["equal"], "equal", SCOPES) if "equal" in items else ("switch",)
        return Inhibit(self.strings(items["source"], "source"),
                       self.strings(items["target"], "target"), equal,
                       line=node.start_mark.line + 1)  # fmt: skip

    def webhook(self, node: yaml.Node) -> WebhookConfig:
        items = self.keys(node, ".webhook", ("url", "template", "max_per_minute",
                                              "token_file", "tls_ca"))  # fmt: skip
        if "url" not in items:
            raise self.error(node, "webhook needs 'url'")
        values: dict[str, Any] = {"url": self.url(items["url"], "url")}
        if "template" in items:
            template_node = items["template"]
            if isinstance(template_node, yaml.MappingNode):
                values["template"] = self.scalar(template_node)
            else:
                values["template"] = self.strings(template_node, "template", TEMPLATES)[0]
        if "max_per_minute" in items:
            rate = self.scalar(items["max_per_minute"])
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
                raise self.error(
                    items["max_per_minute"],
                    f"'max_per_minute' must be a positive number, not {rate!r}",
                )
            values["max_per_minute"] = float(rate)
        for key in ("token_file", "tls_ca"):
            if key in items:
                values[key] = self.path(items[key], key)
        return WebhookConfig(**values)


ALLOWED = ("alertmanager", "token_file", "tls_ca", "cluster", "resend", "state_file",
           "console_url", "runbooks", "webhook", "rules", "inhibit")  # fmt: skip


def parse_alerting(where: YamlWhere, node: yaml.Node, base_dir: Path) -> AlertingConfig:
    """The ``alerting:`` section; ``where`` is the config's ``YamlWhere``."""
    section = _Section(where, base_dir)
    items = section.keys(node, "", ALLOWED)
    values: dict[str, Any] = {}
    if "alertmanager" in items:
        am = items["alertmanager"]
        urls = [am] if not isinstance(am, yaml.SequenceNode) else am.value
        values["alertmanager"] = tuple(section.url(u, "alertmanager") for u in urls)
    for key in ("token_file", "tls_ca", "state_file"):
        if key in items:
            values[key] = section.path(items[key], key)
    if "cluster" in items:
        values["cluster"] = section.string(items["cluster"], "cluster")
    if "console_url" in items:
        values["console_url"] = section.url(items["console_url"], "console_url")
    if "resend" in items:
        values["resend"] = section.duration(items["resend"], "resend", positive=True)
    if "runbooks" in items:
        values["runbooks"] = {
            kind: section.url(url_node, f"runbooks.{kind}")
            for kind, url_node in section.mapping(where, items["runbooks"], "alerting.runbooks")
        }
    if "webhook" in items:
        values["webhook"] = section.webhook(items["webhook"])
    for key, parse in (("rules", section.rule), ("inhibit", section.inhibit)):
        if key in items:
            seq = items[key]
            if not isinstance(seq, yaml.SequenceNode):
                raise section.error(seq, f"{key!r} must be a list")
            values[key] = tuple(parse(item) for item in seq.value)
    return AlertingConfig(**values)
