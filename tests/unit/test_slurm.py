"""Slurm's JSON from 21.08 to 25.11, and the static jobs file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from console.core.engine import Engine
from console.core.store import Store
from tests.conftest import FIXTURES
from watchfloor_jobs.slurm import (
    JobsFileSource,
    SlurmNodesSource,
    SlurmSource,
    gpu_indices,
    gres_gpus,
    node_state,
    number,
    parse_jobs_file,
    parse_sinfo,
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


SQUEUE_22_05 = FIXTURES / "slurm" / "squeue-22.05.json"
SINFO_22_05 = FIXTURES / "slurm" / "sinfo-22.05.json"
SHARED = FIXTURES / "slurm"


def test_squeue_22_05_recorded_from_the_tests_cluster() -> None:
    document = json.loads(SQUEUE_22_05.read_text())
    assert document["meta"]["plugin"]["type"] == "openapi/v0.0.38"
    jobs = {job.ref: job.attrs for job in parse_squeue(document)}
    assert set(jobs) == {"job/1", "job/2", "job/3", "job/4_0", "job/4_1", "job/4_2", "job/4_3",
                         "job/4_[4-9]"}  # fmt: skip
    assert jobs["job/1"]["state"] == "COMPLETED"
    assert (jobs["job/2"]["state"], jobs["job/2"]["user"], jobs["job/2"]["name"]) == (
        "RUNNING", "root", "bert-large")  # fmt: skip
    assert jobs["job/2"]["gpus"] == ["gpu/gpu01/0", "gpu/gpu01/1"]
    assert jobs["job/3"]["state"] == "PENDING" and jobs["job/3"]["reason"] == "Resources"
    # Four running array tasks hold two GPUs each, all eight of gpu02 between them.
    held = [g for task in range(4) for g in jobs[f"job/4_{task}"]["gpus"]]
    assert held == [f"gpu/gpu02/{i}" for i in range(8)]
    assert jobs["job/4_[4-9]"]["state"] == "PENDING" and jobs["job/4_[4-9]"]["gpus"] == []


def test_mixed_model_gres_counts_every_model() -> None:
    # Found with real 24.11 data: the parser kept the first model only (2 of 6 GPUs).
    assert gpu_indices("gpu:h100:2(IDX:0-1),gpu:h200:4(IDX:2-5)") == [0, 1, 2, 3, 4, 5]
    details = ["gpu:h100:2(IDX:0-1),gpu:h200:4(IDX:2-5)", "gpu:a100:1(IDX:3)"]
    job = {"job_id": 7, "job_state": "RUNNING", "nodes": "gpu[01-02]", "gres_detail": details}
    (entity,) = parse_squeue({"jobs": [job]})
    assert len(entity.attrs["gpus"]) == 7 and "gpu/gpu01/5" in entity.attrs["gpus"]
    assert gpu_indices("gpu:h100:2(IDX:0-1),gpu:h200:0(IDX:N/A)") == [0, 1]


def test_sinfo_22_05_recorded_states_reasons_gpus() -> None:
    nodes = {node.ref: node.attrs for node in parse_sinfo(json.loads(SINFO_22_05.read_text()))}
    assert nodes["node/gpu01"]["slurm_state"] == "mixed"
    assert (nodes["node/gpu01"]["slurm_gpus"], nodes["node/gpu01"]["slurm_gpus_used"]) == (8, 2)
    # allocated + DRAIN: draining, with the reason given to scontrol.
    assert nodes["node/gpu02"]["slurm_state"] == "draining"
    assert nodes["node/gpu02"]["slurm_reason"] == "XID 79 on gpu 3"


def test_sinfo_21_08_and_23_02_fixtures() -> None:
    old = {
        n.ref: n.attrs for n in parse_sinfo(json.loads((SHARED / "sinfo-21.08.json").read_text()))
    }
    assert {a["slurm_state"] for a in old.values()} == {"mixed", "idle", "allocated", "down"}
    new = parse_sinfo(json.loads((SHARED / "sinfo-node-23.02.json").read_text()))
    assert [(n.ref, n.attrs["slurm_state"]) for n in new] == [("node/localhost", "allocated")]


def test_node_state_words() -> None:
    assert node_state(["idle", "DRAIN"]) == "drained"
    assert node_state(["IDLE", "DRAIN"]) == "drained"  # 23.02+: one list
    assert node_state(["MIXED", "DRAIN"]) == "draining"
    assert node_state(["down", "DRAIN", "NOT_RESPONDING"]) == "down"
    assert node_state(["IDLE"]) == "idle" and node_state([]) == "unknown"
    assert gres_gpus("gpu:h100:4(S:0-1),gpu:h200:4(S:0,1)") == 8 and gres_gpus(None) == 0
    with pytest.raises(ValueError, match="not sinfo"):
        parse_sinfo({"meta": {}})


async def test_sinfo_failure_is_slurms_own_line(tmp_path: Path) -> None:
    failing = tmp_path / "sinfo"
    failing.write_text("#!/bin/sh\necho 'sinfo: error: Unable to contact slurm controller' >&2\n"
                       "exit 1\n")  # fmt: skip
    failing.chmod(0o755)
    engine = Engine(Store(), [SlurmNodesSource(str(failing), 1.0)])
    await engine.collect(1)
    (status,) = engine.statuses()
    assert status.reason == f"{failing} exited 1: sinfo: error: Unable to contact slurm controller"


async def test_squeue_and_sinfo_output_is_parsed_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 jobs take over a second to parse: the collector's loop keeps polling meanwhile."""
    import threading

    from watchfloor_jobs import slurm

    parsed_on: list[threading.Thread] = []
    for name in ("parse_squeue", "parse_sinfo"):
        real = getattr(slurm, name)
        monkeypatch.setattr(slurm, name, lambda doc, real=real: (
            parsed_on.append(threading.current_thread()), real(doc))[1])  # fmt: skip
    squeue = tmp_path / "squeue"
    squeue.write_text(f"#!/bin/sh\ncat {SQUEUE_21_08}\n")
    squeue.chmod(0o755)
    sinfo = tmp_path / "sinfo"
    sinfo.write_text(f"#!/bin/sh\ncat {SINFO_22_05}\n")
    sinfo.chmod(0o755)
    assert (await SlurmSource(str(squeue), 1.0).poll()).entities
    assert (await SlurmNodesSource(str(sinfo), 1.0).poll()).entities
    assert len(parsed_on) == 2
    assert threading.main_thread() not in parsed_on
