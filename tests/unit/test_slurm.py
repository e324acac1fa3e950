"""Slurm's JSON from 21.08 to 25.11, and the static jobs file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from console.engine import Engine
from console.store import Store
from tests.conftest import FIXTURES
from watchfloor_jobs.slurm import (
    JobsFileSource,
    SlurmSource,
    gpu_indices,
    number,
    parse_jobs_file,
    parse_squeue,
)

SQUEUE_21_08 = FIXTURES / "slurm" / "squeue-21.08.json"


def _wrapped(value: int) -> dict[str, object]:
    return {"set": True, "infinite": False, "number": value}


SQUEUE_25_11 = {
    # The 24.11/25.11 shape (data_parser v0.0.42/44): lists for states, wrapped numbers,
    # lower-case meta, gres_detail with GPU indices per node.
    "meta": {"slurm": {"version": {"major": "25", "minor": "11", "micro": "0"}}},
    "jobs": [
        {"job_id": _wrapped(4711), "name": "llama-70b-pretrain", "user_name": "mlteam",
         "job_state": ["RUNNING"], "nodes": "gpu[001-002]", "partition": "h100",
         "start_time": _wrapped(1795000000), "array_job_id": _wrapped(0),
         "array_task_id": {"set": False, "infinite": False, "number": 0},
         "gres_detail": ["gpu:h100:8(IDX:0-7)", "gpu:h100:4(IDX:0,2,4-5)"]},
        {"job_id": _wrapped(4800), "name": "pending", "user_name": "bo",
         "job_state": ["PENDING"], "nodes": "", "gres_detail": []},
        {"job_id": _wrapped(900), "name": "array", "user_name": "chen", "job_state": "RUNNING",
         "nodes": "cpu7", "array_job_id": _wrapped(900), "array_task_id": _wrapped(3)},
    ],
}  # fmt: skip


def test_squeue_21_08_fixture() -> None:
    jobs = parse_squeue(json.loads(SQUEUE_21_08.read_text()))
    assert len(jobs) == 2
    first = jobs[0]
    assert first.ref == "job/26515966"
    assert first.attrs["state"] == "RUNNING"
    assert first.attrs["nodes"] == ["node/cs75"]
    assert first.attrs["gpus"] == []  # no GPUs requested (gres_detail empty)


def test_squeue_25_11_shape() -> None:
    jobs = {job.ref: job for job in parse_squeue(SQUEUE_25_11)}
    llama = jobs["job/4711"]
    assert llama.attrs["state"] == "RUNNING"
    assert llama.attrs["nodes"] == ["node/gpu001", "node/gpu002"]
    assert len(llama.attrs["gpus"]) == 12
    assert "gpu/gpu002/4" in llama.attrs["gpus"] and "gpu/gpu002/1" not in llama.attrs["gpus"]
    assert llama.attrs["start"] == 1795000000.0
    assert jobs["job/4800"].attrs["nodes"] == [] and jobs["job/4800"].attrs["state"] == "PENDING"
    assert "job/900_3" in jobs


def test_numbers_and_gres() -> None:
    assert number(5) == 5.0 and number(_wrapped(7)) == 7.0
    assert number({"set": False, "number": 3}) is None
    assert number({"set": True, "infinite": True, "number": 0}) is None
    assert number(True) is None
    assert gpu_indices("gpu:h100:4(IDX:0-3)") == [0, 1, 2, 3]
    assert gpu_indices("gpu:4(IDX:1,3)") == [1, 3]
    assert gpu_indices("gpu:h100:0(IDX:N/A)") == []
    with pytest.raises(ValueError, match="no 'jobs' list"):
        parse_squeue({"meta": {}})


async def test_slurm_source_runs_squeue(tmp_path: Path) -> None:
    squeue = tmp_path / "squeue"
    squeue.write_text(f"#!/bin/sh\ncat {SQUEUE_21_08}\n")
    squeue.chmod(squeue.stat().st_mode | stat.S_IXUSR)
    failing = tmp_path / "squeue-down"
    failing.write_text(
        "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1\n"
    )
    failing.chmod(failing.stat().st_mode | stat.S_IXUSR)
    good, down = SlurmSource(str(squeue), 1.0), SlurmSource(str(failing), 1.0)
    down.name = "slurm-down"
    missing = SlurmSource(str(tmp_path / "nope"), 1.0)
    missing.name = "slurm-missing"
    engine = Engine(Store(), [good, down, missing])
    await engine.collect(1)
    statuses = {s.name: (s.status, s.reason) for s in engine.statuses()}
    assert statuses["slurm"] == ("ok", "")
    assert statuses["slurm-down"][1].startswith(f"{failing} exited 1: slurm_load_jobs error")
    assert statuses["slurm-missing"][1].startswith(f"cannot run {tmp_path / 'nope'}")
    assert engine.store.count("job") == 2
    assert os.path.exists(squeue)


async def test_jobs_file(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("- id: 17\n  name: bert\n  nodes: gpu[01-02]\n  gpus_per_node: 4\n")
    jobs = parse_jobs_file(path.read_text(), str(path))
    assert jobs[0].ref == "job/17" and len(jobs[0].attrs["gpus"]) == 8
    with pytest.raises(ValueError, match=r"jobs\.yaml: job 0 needs at least 'id' and 'nodes'"):
        parse_jobs_file("- name: x\n", "jobs.yaml")
    with pytest.raises(ValueError, match=r"jobs\.yaml:\d+: not valid YAML"):
        parse_jobs_file("- id: 1\n  nodes: [\n", "jobs.yaml")
    engine = Engine(Store(), [JobsFileSource(path, 1.0)])
    await engine.collect(1)
    assert engine.store.get("job/17") is not None
