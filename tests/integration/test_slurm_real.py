"""Against a real slurmctld and slurmd (Debian's slurm-wlm 22.05, see tests/slurm_cluster.py):
the slurm source, ``snapshot`` and ``explain``, node states, and the console's actions."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from console.acting.actions import Actions, read_audit, slurm_action
from tests.slurm_cluster import SlurmCluster
from tests.waiting import wait_for
from watchfloor_jobs.slurm import SlurmNodesSource, SlurmSource


def _running(slurm: SlurmCluster, job: str) -> None:
    wait_for(lambda: slurm.job_state(job) == "RUNNING", 60, f"job {job} running")


def _watchfloor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - type: slurm\n    squeue: squeue\n")
    return subprocess.run(
        [str(Path(sys.executable).parent / "watchfloor"), *args, "--config", str(config)],
        capture_output=True, text=True, timeout=120, env=os.environ,
    )  # fmt: skip


async def test_squeue_22_05_is_read_right(slurm: SlurmCluster) -> None:
    two = slurm.submit("--gres=gpu:2", "-w", "gpu01", "-J", "bert-large")
    _running(slurm, two)
    # Needs all 8 GPUs of gpu01 while 2 are taken: pending (Resources).
    whole = slurm.submit("--gres=gpu:8", "-w", "gpu01", "-J", "whole-node")
    array = slurm.submit("--gres=gpu:1", "-w", "gpu02", "--array=0-2", "-J", "sweep")
    wait_for(lambda: slurm.job_state(f"{array}_2") == "RUNNING", 60, "array running")
    batch = await SlurmSource("squeue", 5.0).poll()
    jobs = {job.ref: job.attrs for job in batch.entities}

    first = jobs[f"job/{two}"]
    assert (first["state"], first["user"], first["name"]) == ("RUNNING", "root", "bert-large")
    assert first["nodes"] == ["node/gpu01"]
    assert first["gpus"] == ["gpu/gpu01/0", "gpu/gpu01/1"]
    assert jobs[f"job/{whole}"]["state"] == "PENDING"
    assert jobs[f"job/{whole}"]["nodes"] == [] and jobs[f"job/{whole}"]["gpus"] == []
    tasks = [jobs[f"job/{array}_{task}"] for task in range(3)]
    assert [t["state"] for t in tasks] == ["RUNNING"] * 3
    assert sorted(g for t in tasks for g in t["gpus"]) == [f"gpu/gpu02/{i}" for i in range(3)]


async def test_a_finished_job_shows_completed(slurm: SlurmCluster) -> None:
    done = slurm.submit("--gres=gpu:1", command="true")
    wait_for(lambda: slurm.job_state(done) in ("", "COMPLETED"), 60, f"job {done} finished")
    batch = await SlurmSource("squeue", 5.0).poll()
    states = {job.ref: job.attrs["state"] for job in batch.entities}
    # Kept for MinJobAge after it ends: then it is shown as COMPLETED, never as running.
    assert states.get(f"job/{done}", "COMPLETED") == "COMPLETED"


def test_snapshot_and_explain_find_a_gpu_job(slurm: SlurmCluster, tmp_path: Path) -> None:
    job = slurm.submit("--gres=gpu:2", "-w", "gpu02", "-J", "llama")
    _running(slurm, job)
    pending = slurm.submit("--gres=gpu:8", "-w", "gpu02", "-J", "waits")
    out = _watchfloor(tmp_path, "snapshot", "--format", "json")
    assert out.returncode == 0, out.stderr
    snapshot = json.loads(out.stdout)
    jobs = {j["ref"]: j for j in snapshot["jobs"]}
    assert jobs[f"job/{job}"]["nodes"] == ["node/gpu02"]
    assert len(jobs[f"job/{job}"]["gpus"]) == 2
    assert jobs[f"job/{pending}"]["state"] == "PENDING"
    nodes = {n["ref"]: n for n in snapshot["nodes"]}
    assert nodes["node/gpu02"]["slurm_state"] == "mixed"
    assert nodes["node/gpu01"]["slurm_gpus"] == 8
    statuses = {s["name"]: s["status"] for s in snapshot["sources"]}
    assert (statuses["slurm"], statuses["slurm:nodes"]) == ("ok", "ok")
    explained = _watchfloor(tmp_path, "explain", job, "--format", "json")
    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["job"] == f"job/{job}"
    text = _watchfloor(tmp_path, "explain", f"job/{job}", "--format", "text")
    assert text.returncode == 0 and f"job/{job}" in text.stdout, text.stderr
    shown = _watchfloor(tmp_path, "snapshot", "--format", "text")
    assert shown.returncode == 0 and f"job/{job}" in shown.stdout, shown.stderr


async def test_node_states_and_reasons(slurm: SlurmCluster) -> None:
    slurm.run("scontrol", "update", "NodeName=gpu02", "State=DRAIN", "Reason=bad fan")
    job = slurm.submit("--gres=gpu:1", "-w", "gpu01")
    _running(slurm, job)
    batch = await SlurmNodesSource("sinfo", 5.0).poll()
    nodes = {node.ref: node.attrs for node in batch.entities}
    assert nodes["node/gpu02"]["slurm_state"] == "drained"
    assert nodes["node/gpu02"]["slurm_reason"] == "bad fan"
    assert nodes["node/gpu01"]["slurm_state"] == "mixed"
    assert (nodes["node/gpu01"]["slurm_gpus"], nodes["node/gpu01"]["slurm_gpus_used"]) == (8, 1)


async def test_drain_refusal_and_audit(slurm: SlurmCluster, tmp_path: Path) -> None:
    log = tmp_path / "audit" / "actions.log"
    refused = Actions(read_only=True, audit_log=log)
    outcome = await refused.perform(slurm_action("drain", "node/gpu01", "XID 79 on gpu 3"))
    assert outcome.status == "refused" and "read-only" in outcome.message
    assert slurm.node_state("gpu01") == ("idle", "")  # Slurm unchanged

    actions = Actions(audit_log=log)
    outcome = await actions.perform(slurm_action("drain", "node/gpu01", "XID 79 on gpu 3"))
    assert outcome.ok, outcome.message
    assert slurm.node_state("gpu01") == ("drained", "XID 79 on gpu 3")

    off = Actions(enabled=False, audit_log=log)
    assert (await off.perform(slurm_action("resume", "node/gpu01"))).status == "refused"
    assert slurm.node_state("gpu01")[0] == "drained"

    entries = read_audit(log)
    assert [(e["action"], e["target"], e["outcome"]) for e in entries] == [
        ("drain", "node/gpu01", "refused"),
        ("drain", "node/gpu01", "done"),
        ("resume", "node/gpu01", "refused"),
    ]
    assert entries[1]["reason"] == "XID 79 on gpu 3" and entries[1]["user"]
    assert "State=DRAIN" in entries[1]["command"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


async def test_requeue_hold_cancel_and_slurms_own_error(
    slurm: SlurmCluster, tmp_path: Path
) -> None:
    actions = Actions(audit_log=tmp_path / "actions.log")
    job = slurm.submit("--gres=gpu:1", "-w", "gpu01")
    _running(slurm, job)
    outcome = await actions.perform(slurm_action("requeue", f"job/{job}"))
    assert outcome.ok, outcome.message
    # Requeued: back to pending (Slurm holds it until BeginTime passes), never running.
    wait_for(lambda: slurm.job_state(job) in ("PENDING", "REQUEUED"), 30, "requeued")

    waiting = slurm.submit("--gres=gpu:8", "-w", "gpu02", "--begin=now+1hour")
    assert (await actions.perform(slurm_action("hold", f"job/{waiting}"))).ok
    reason = slurm.run("squeue", "-h", "-j", waiting, "-o", "%r").stdout.strip()
    assert reason in ("JobHeldUser", "JobHeldAdmin")  # root holds as the admin
    assert (await actions.perform(slurm_action("cancel", f"job/{waiting}"))).ok
    wait_for(lambda: slurm.job_state(waiting) in ("", "CANCELLED"), 30, "cancelled")

    failed = await actions.perform(slurm_action("drain", "node/nosuch", "x"))
    assert failed.status == "failed"
    assert "nosuch" in failed.message or "Invalid node name" in failed.message, failed.message
