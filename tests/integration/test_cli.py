"""The command line, run as a user runs it: a real process, real entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GPU_FIELDS = {"ref", "util", "mem_used_mib", "mem_total_mib", "temp_c", "power_w"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``watchfloor ARGS`` in a fresh interpreter, with no user config."""
    base = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=base,
        stdin=subprocess.DEVNULL,
    )


def test_snapshot_json_has_the_fixed_keys_and_is_reproducible() -> None:
    first = run("snapshot", "--demo", "--format", "json")
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    for key in ("nodes", "gpus", "ports", "links", "jobs", "findings", "sources"):
        assert isinstance(document[key], list)
        assert all("ref" in item for item in document[key] if key != "sources")
    assert len([n for n in document["nodes"] if n["role"] == "compute"]) >= 4
    assert len(document["gpus"]) >= 32
    for gpu in document["gpus"]:
        assert set(gpu) >= GPU_FIELDS
        assert gpu["util"] is not None and gpu["power_w"] is not None
    assert document["sources"] == [
        {"name": "sim", "type": "sim", "status": "ok", "reason": "", "polls": 2, "failures": 0}
    ]
    assert document["sim"]["scenario"] == "congested-link"
    assert document["sim"]["injected"]["victim"] == "job/4711"
    link = next(x for x in document["links"] if x["ref"] == document["sim"]["injected"]["link"])
    assert link["util"] > 90
    second = run("snapshot", "--demo", "--format", "json")
    assert second.stdout == first.stdout
    other_seed = run("snapshot", "--demo", "--seed", "2", "--format", "json")
    assert other_seed.stdout != first.stdout


def test_snapshot_text_is_a_readable_summary() -> None:
    result = run("snapshot", "--demo", "--scenario", "healthy", "--nodes", "6")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Watchfloor snapshot: 8 nodes, 48 GPUs")
    assert "FINDINGS (0)" in result.stdout
    assert "job/4711" in result.stdout


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (("snapshot", "--config", "{dir}/missing.yaml"), None, "missing.yaml: no such config file"),
        (("snapshot", "--config", "{dir}/c.yaml"), "interval: 1\nsources:\n  - type: sim\n"
         "    seeds: 3\n", "c.yaml:4: sources[0]: unknown key 'seeds'"),
        (("snapshot", "--demo", "--scenario", "meteor"), None, "unknown scenario 'meteor'"),
        (("snapshot", "--demo", "--nodes", "2"), None, "--nodes must be at least 4"),
        (("demo", "--interval", "0"), None, "--interval must be a positive number"),
        (("--wall", "--demo", "--config", "{dir}/c.yaml"), "wall:\n  panes: [nope]\n",
         "c.yaml:2: wall.panes: unknown pane 'nope'"),
        (("demo", "--wall", "--dwell", "0"), None, "--dwell must be a positive number"),
        (("serve", "--host", "0.0.0.0"), None, "refusing to serve on 0.0.0.0 without --public"),
        (("serve", "--demo", "--port", "70000"), None, "--port must be 0 to 65535"),
        (("snapshot", "--config", "{dir}/c.yaml"), "sources:\n  - type: agent\n"
         "    url: http://gpu[1-99999999].example:9477\n",
         "c.yaml:2: sources[0]: agent: host range in 'http://gpu[1-99999999].example:9477' "
         "expands to 99,999,999 agents, over 20,000"),
        (("snapshot", "--config", "{dir}/c.yaml"), "sources:\n  - type: integrity\n"
         "    paths: [c.yaml]\n", "c.yaml:2: sources[0]: integrity: 'paths': c.yaml is not a "
         "directory"),
        (("explain", "gpu/node01/0", "--demo"), None,
         "explain takes a job: a job id (4711) or a job/<id> ref, not gpu 'gpu/node01/0'"),
    ],
)  # fmt: skip
def test_bad_input_gives_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], config: str | None, message: str
) -> None:
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
    result = run(*(a.format(dir=tmp_path) for a in args))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_config_file_adds_its_sources(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("sources:\n  - type: sim\n    scenario: healthy\n    seed: 5\n")
    result = run("snapshot", "--config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    names = {s["name"]: s["status"] for s in document["sources"]}
    assert names["sim"] == "ok"
    assert names["nvml"] == "disabled"  # this machine has no NVIDIA driver
    assert document["sim"]["seed"] == 5


def test_plugins_lists_faulty_plugins_as_failed_with_reasons(faulty_plugin_site: Path) -> None:
    path = os.pathsep.join([str(faulty_plugin_site), os.environ.get("PYTHONPATH", "")])
    result = run("plugins", env={"PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()[1:]
    rows = {line.split()[0]: line for line in lines if not line.startswith(" ")}
    assert "failed" in rows["broken"]
    assert "import failed: ImportError: No module named 'frobnicate'" in rows["broken"]
    assert "failed" in rows["hanging"] and "source hang failed: timed out" in rows["hanging"]
    assert "needs plugin API 99, but watchfloor 0.1.0 provides API 1: upgrade" in rows["oldapi"]
    assert "invalid plugin: plugin 'invalid': entity kind 'gpu'" in rows["invalid"]
    assert "source raising failed: RuntimeError: sensor bus 3 not responding" in rows["raising"]
    assert "bad data: poll returned dict, not a console.api.Batch" in rows["baddata"]
    for name in ("fabric", "gpu", "jobs", "slowpane"):
        assert rows[name].split()[2] == "loaded"
    after_slowpane = lines[lines.index(rows["slowpane"]) + 1]
    assert after_slowpane == "  provides: pane slow [x]"
    assert "traceback" not in result.stderr.lower()


def test_explain_prints_the_chain_as_json_and_text() -> None:
    result = run("explain", "4711", "--demo", "--seed", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    chain = json.loads(result.stdout)
    assert chain["job"] == "job/4711" and chain["stalled"] is True
    snapshot = json.loads(run("snapshot", "--demo", "--seed", "3", "--format", "json").stdout)
    assert chain["causes"][0]["ref"] == snapshot["sim"]["injected"]["link"]
    assert chain["causes"][0]["evidence"]
    text = run("explain", "job/4711", "--demo", "--seed", "3")
    assert "STALLED since" in text.stdout and "◀ HOT" in text.stdout
    missing = run("explain", "9999", "--demo")
    assert missing.returncode == 2 and "no job job/9999" in missing.stderr


def test_snapshot_lists_ports_with_error_counters_and_serving_figures(tmp_path: Path) -> None:
    text = run("snapshot", "--demo")
    ports = text.stdout.split("PORTS (24)", 1)[1]
    assert "port/node01/mlx5_0:1  ACTIVE    400 Gb/s" in ports
    assert "GB/s" in ports and "errors: discards" in ports  # a hot link's port drops
    document = json.loads(run("snapshot", "--demo", "--format", "json").stdout)
    port = next(p for p in document["ports"] if p["ref"] == "port/node01/mlx5_0:1")
    assert set(port["error_totals"]) == {"symbol_errors", "discards"}
    assert "symbol_errors_per_s" in port and "link_downed_per_s" in port
    vllm = Path(__file__).parents[1] / "fixtures" / "vllm" / "vllm_metrics.txt"
    config = tmp_path / "c.yaml"
    config.write_text(f"sources:\n  - type: exporter\n    url: {vllm.as_uri()}\n"
                      "    node: infer01\n")  # fmt: skip
    served = run("snapshot", "--config", str(config))
    assert served.returncode == 0, served.stderr
    job = next(line for line in served.stdout.splitlines() if "job/vllm-infer01" in line)
    assert "requests 0 running 0 waiting, KV cache 0%, TTFT n/a" in job
    document = json.loads(run("snapshot", "--config", str(config), "--format", "json").stdout)
    (job_item,) = [j for j in document["jobs"] if j["ref"] == "job/vllm-infer01"]
    assert (job_item["requests_running"], job_item["kv_cache_usage_pct"]) == (0.0, 0.0)


def test_snapshot_strict_fails_when_a_configured_source_is_not_ok(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("sources:\n  - type: jobs-file\n    path: missing-jobs.yaml\n")
    lenient = run("snapshot", "--config", str(config))
    assert lenient.returncode == 0
    strict = run("snapshot", "--config", str(config), "--strict", "--format", "json")
    assert strict.returncode == 1
    assert json.loads(strict.stdout)["sources"]  # the output is still there
    assert strict.stderr.strip().endswith("1 source(s) not ok: jobs-file:missing-jobs.yaml failed")
    # The local defaults the console starts by itself (nvml is disabled here) do not count.
    assert {s["name"]: s["status"] for s in json.loads(strict.stdout)["sources"]}["nvml"] == (
        "disabled"
    )
    healthy = run("snapshot", "--demo", "--strict")
    assert healthy.returncode == 0, healthy.stderr
