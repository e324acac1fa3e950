"""Which sources a run gets: the local defaults, the config's, and how they combine."""

from __future__ import annotations

from pathlib import Path

from console.core.config import Config, load_config
from console.core.runtime import build_sources, load_registry
from tests.conftest import FIXTURES

SYS = FIXTURES / "node_exporter" / "sys" / "sys"


def test_a_configured_host_source_replaces_the_local_default(tmp_path: Path) -> None:
    registry = load_registry()
    defaults = build_sources(Config(), registry, None, local=True)
    assert [s.type for s in defaults].count("host") == 1
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"sources:\n  - type: host\n    sysfs: {SYS}\n")
    config = load_config(config_file, registry.source_types)
    sources = build_sources(config, registry, None, local=True)
    hosts = [s for s in sources if s.type == "host"]
    assert [s.name for s in hosts] == ["host"]  # not "host" and "host#2" on one node
    assert str(hosts[0].sysfs) == str(SYS)  # type: ignore[attr-defined]
    # The other local defaults (nvml, ...) still run beside it.
    others = {s.type for s in defaults} - {"host"}
    assert others <= {s.type for s in sources}
    # Which the console started by itself (snapshot --strict judges only the others).
    assert {s.type for s in sources if not s.local_default} == {"host"}
    assert all(s.local_default for s in defaults)
