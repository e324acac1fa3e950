"""The tests' Slurm cluster cleans up after itself: every daemon it started, every job
process, its folder."""

from __future__ import annotations

import psutil
import pytest

from tests.slurm_cluster import missing, start_cluster
from tests.waiting import wait_for


def test_stopping_leaves_no_daemon_no_job_and_no_folder() -> None:
    why = missing()
    if why is not None:
        pytest.skip(why)
    cluster = start_cluster(["solo01"])
    try:
        job = cluster.submit("--gres=gpu:1")
        wait_for(lambda: cluster.job_state(job) == "RUNNING", 60, "job running")
        pids = [p.pid for p in cluster.processes.values()]
        root = str(cluster.root)
        job_pids = [
            p.pid for p in psutil.process_iter(["cmdline"])
            if root in " ".join(p.info["cmdline"] or ())
        ]  # fmt: skip
        assert len(pids) == 3 and job_pids  # munged, slurmctld, slurmd; the job's shell
    finally:
        cluster.stop()

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    assert not [pid for pid in pids + job_pids if alive(pid)]
    assert not cluster.root.exists()
