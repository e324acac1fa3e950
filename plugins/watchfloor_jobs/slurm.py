"""Jobs from Slurm (``squeue --json``) and from a static YAML file.

Slurm changed its JSON between releases: 21.08 writes ``job_state`` as a string
and numbers plainly; 23.02+ (data_parser) wrap numbers as
``{"set": true, "infinite": false, "number": N}``; 24.11/25.11 make
``job_state`` a list. Parse for the family, not for one release.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hostlist
import yaml

from console.api import (
    Batch,
    CommandError,
    Entity,
    FileSource,
    Option,
    Source,
    SourceContext,
    SourceError,
    make_ref,
    run_command,
)

SQUEUE_TIMEOUT = 10.0
MAX_OUTPUT_BYTES = 64 * 1024 * 1024


def number(value: Any) -> float | None:
    """A Slurm number, plain or wrapped; ``None`` when unset or infinite."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def state(value: Any) -> str:
    """``RUNNING`` from ``"RUNNING"`` or ``["RUNNING", "COMPLETING"]``."""
    if isinstance(value, list):
        return str(value[0]) if value else "UNKNOWN"
    return str(value) if value else "UNKNOWN"


def expand_nodes(text: Any) -> list[str]:
    """``gpu[001-003],cpu7`` → host names (empty when unallocated)."""
    if not isinstance(text, str) or not text or text == "(null)":
        return []
    try:
        return list(hostlist.expand_hostlist(text))
    except hostlist.BadHostlist:
        return []


_GRES_IDX = re.compile(r"gpu(?::[^:(]+)?:(\d+)\(IDX:([^)]*)\)")


def gpu_indices(detail: str) -> list[int]:
    """``gpu:h100:4(IDX:0-3)`` → [0, 1, 2, 3]; ``IDX:N/A`` → []."""
    match = _GRES_IDX.search(detail)
    if not match or match.group(2) in ("", "N/A"):
        return []
    indices: list[int] = []
    for part in match.group(2).split(","):
        low, _, high = part.partition("-")
        if low.isdigit():
            indices += list(range(int(low), int(high or low) + 1))
    return indices


def parse_squeue(document: Any) -> list[Entity]:
    """Job entities from ``squeue --json`` output of any release 21.08–25.11."""
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        raise ValueError("not squeue --json output: no 'jobs' list")
    entities = []
    for job in document["jobs"]:
        if not isinstance(job, dict) or number(job.get("job_id")) is None:
            continue
        job_id = str(int(number(job["job_id"]) or 0))
        task = number(job.get("array_task_id"))
        if task is not None and number(job.get("array_job_id")):
            job_id = f"{int(number(job['array_job_id']) or 0)}_{int(task)}"
        nodes = expand_nodes(job.get("nodes") or (job.get("job_resources") or {}).get("nodes"))
        details = job.get("gres_detail") or []
        gpus = [
            make_ref("gpu", node, index)
            for node, detail in zip(nodes, details, strict=False)
            for index in gpu_indices(str(detail))
        ]
        start = number(job.get("start_time"))
        entities.append(
            Entity(
                make_ref("job", job_id),
                str(job.get("name") or job_id),
                attrs={
                    "name": str(job.get("name") or ""),
                    "user": str(job.get("user_name") or job.get("user_id") or "?"),
                    "state": state(job.get("job_state")),
                    "partition": job.get("partition"),
                    "nodes": [make_ref("node", node) for node in nodes],
                    "gpus": gpus,
                    "start": start,
                    "reason": job.get("state_reason"),
                    "source": "slurm",
                },
            )
        )
    return entities


class SlurmSource(Source):
    """Runs ``squeue --json`` and reads the running jobs."""

    type = "slurm"

    def __init__(self, squeue: str, interval: float) -> None:
        self.name = "slurm"
        self.squeue = squeue
        """The squeue executable."""
        self.interval = max(interval, 5.0)  # the scheduler is not polled every second
        self.timeout = SQUEUE_TIMEOUT + 1

    async def poll(self) -> Batch:
        try:
            result = await run_command([self.squeue, "--json"], SQUEUE_TIMEOUT, MAX_OUTPUT_BYTES)
        except CommandError as exc:
            raise SourceError(str(exc)) from None
        if result.returncode != 0:
            raise SourceError(
                f"{self.squeue} exited {result.returncode}: {result.first_error_line()}"
            )
        out = result.stdout
        try:
            return Batch(entities=parse_squeue(json.loads(out)))
        except ValueError as exc:
            raise SourceError(f"bad squeue output: {str(exc)[:120]}") from None


def parse_jobs_file(text: str, origin: str) -> list[Entity]:
    """Jobs from a YAML list (``id``, ``name``, ``user``, ``nodes``, optional ``gpus``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{origin}{line}: not valid YAML") from None
    if not isinstance(data, list):
        raise ValueError(f"{origin}: expected a list of jobs")
    entities = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or "id" not in item or "nodes" not in item:
            raise ValueError(f"{origin}: job {index} needs at least 'id' and 'nodes'")
        nodes = item["nodes"] if isinstance(item["nodes"], list) else expand_nodes(item["nodes"])
        gpus_per_node = int(item.get("gpus_per_node", 8))
        entities.append(
            Entity(
                make_ref("job", item["id"]),
                str(item.get("name", item["id"])),
                attrs={
                    "name": str(item.get("name", "")),
                    "user": str(item.get("user", "?")),
                    "state": str(item.get("state", "RUNNING")),
                    "nodes": [make_ref("node", n) for n in nodes],
                    "gpus": [make_ref("gpu", n, i) for n in nodes for i in range(gpus_per_node)],
                    "source": "jobs-file",
                },
            )
        )
    return entities


class JobsFileSource(FileSource):
    """A static list of jobs (for sites without a scheduler the console can ask)."""

    type = "jobs-file"

    def __init__(self, path: Path, interval: float) -> None:
        super().__init__(path, max(interval, 10.0))

    def parse(self, text: str, origin: str) -> Batch:
        return Batch(entities=parse_jobs_file(text, origin))


def make_slurm_sources(context: SourceContext) -> list[Source]:
    return [SlurmSource(str(context.options["squeue"]), context.interval)]


def make_jobs_file_sources(context: SourceContext) -> list[Source]:
    path = Path(context.options["path"])
    return [JobsFileSource(path if path.is_absolute() else Path(context.base_dir) / path,
                           context.interval)]  # fmt: skip


SLURM_OPTIONS = (Option("squeue", (str,), "squeue", help="the squeue executable"),)
JOBS_FILE_OPTIONS = (Option("path", (str,), required=True, help="YAML list of jobs"),)
