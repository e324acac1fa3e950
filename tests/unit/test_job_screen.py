"""The job screen's timing line: a running time only for running jobs, and a
missing reason (Slurm writes the string "None") never shown."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES
from watchfloor_jobs.pane import job_timing
from watchfloor_jobs.slurm import parse_squeue

NOW = 1_700_000_000.0


def test_the_21_08_fixture_running_and_pending_jobs() -> None:
    jobs = {
        job.ref: job.attrs
        for job in parse_squeue(json.loads((FIXTURES / "slurm/squeue-21.08.json").read_text()))
    }
    running = jobs["job/26515966"]
    assert running["reason"] == "None"  # what Slurm writes when there is none
    assert job_timing(running, running["start"] + 3 * 3600 + 60) == "running 3h01m"
    # A pending array (its ref names the tasks) with a start of 0 (1970): not
    # "running 472000h"; its reason shown.
    assert job_timing(jobs["job/58948420_[1-10]"], NOW) == "pending: Dependency"


def test_completed_pending_and_missing_reasons() -> None:
    started = NOW - 9182 * 3600
    assert job_timing({"state": "COMPLETED", "start": started, "reason": "None"}, NOW) == (
        "completed"
    )
    assert job_timing({"state": "PENDING", "start": NOW + 600, "reason": None}, NOW) == "pending"
    assert job_timing({"state": "PENDING", "reason": "(null)"}, NOW) == "pending"
    assert job_timing({"state": "RUNNING", "start": NOW + 5}, NOW) == "running"  # clock skew
    assert job_timing({"start": NOW - 90}, NOW) == "running 1m"  # a jobs-file job
    assert "None" not in job_timing({"state": "FAILED", "reason": "None"}, NOW)
