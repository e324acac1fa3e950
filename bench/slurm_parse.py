"""What reading Slurm costs at fleet size: ``squeue --json`` and ``sinfo --json`` parsed
for thousands of jobs and nodes (22.05 shape, grown from the recorded fixtures).

Each document is built from tests/fixtures/slurm/*-22.05.json by copying its
entries with new ids and node names; the figure is json.loads + parse, best of 5.

Run: ``.venv/bin/python bench/slurm_parse.py [--nodes 4000] [--jobs 20000]``
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

from watchfloor_jobs.slurm import parse_sinfo, parse_squeue

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "slurm"


def grown(nodes: int, jobs: int) -> tuple[bytes, bytes]:
    squeue = json.loads((FIXTURES / "squeue-22.05.json").read_text())
    sinfo = json.loads((FIXTURES / "sinfo-22.05.json").read_text())
    running = next(j for j in squeue["jobs"] if j["job_state"] == "RUNNING")
    node = sinfo["nodes"][0]
    job_list = []
    for index in range(jobs):
        job = copy.deepcopy(running)
        job["job_id"] = 100000 + index
        job["nodes"] = f"gpu{index % nodes:05d}"
        job_list.append(job)
    node_list = []
    for index in range(nodes):
        entry = copy.deepcopy(node)
        entry["name"] = f"gpu{index:05d}"
        node_list.append(entry)
    squeue["jobs"], sinfo["nodes"] = job_list, node_list
    return json.dumps(squeue).encode(), json.dumps(sinfo).encode()


def best(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4000)
    parser.add_argument("--jobs", type=int, default=20000)
    args = parser.parse_args()
    squeue, sinfo = grown(args.nodes, args.jobs)
    jobs = best(lambda: parse_squeue(json.loads(squeue)))
    nodes = best(lambda: parse_sinfo(json.loads(sinfo)))
    print(f"squeue --json: {args.jobs} jobs, {len(squeue) / 1e6:.1f} MB: {jobs * 1000:.0f} ms")
    print(f"sinfo --json: {args.nodes} nodes, {len(sinfo) / 1e6:.1f} MB: {nodes * 1000:.0f} ms")


if __name__ == "__main__":
    main()
