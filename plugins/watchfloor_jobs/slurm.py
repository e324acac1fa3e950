"""Jobs from Slurm (``squeue --json``) and from a static YAML file.

Slurm changed its JSON between releases: 21.08 writes ``job_state`` as a string
and numbers plainly; 23.02+ (data_parser) wrap numbers as
``{"set": true, "infinite": false, "number": N}``; 24.11/25.11 make
``job_state`` a list. Parse for the family, not for one release.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import hostlist
import yaml

from console.api import (
    Batch,
    CommandFailed,
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


_GRES_IDX = re.compile(r"gpu(?::[^:(,]+)?:(\d+)\(IDX:([^)]*)\)")


def gpu_indices(detail: str) -> list[int]:
    """``gpu:h100:4(IDX:0-3)`` → [0, 1, 2, 3]; ``IDX:N/A`` → [].

    A node with two GPU models lists one entry per model
    (``gpu:h100:2(IDX:0-1),gpu:h200:4(IDX:2-5)``): every entry counts.
    """
    indices: list[int] = []
    for match in _GRES_IDX.finditer(detail):
        for part in match.group(2).split(","):
            low, _, high = part.partition("-")
            if low.isdigit() and (not high or high.isdigit()):
                indices += range(int(low), int(high or low) + 1)
    return sorted(set(indices))


def job_id_of(job: dict[str, Any]) -> str:
    """``4711``, an array task ``900_3``, or an array's pending rest ``900_[4-9]``."""
    job_id = str(int(number(job["job_id"]) or 0))
    array = number(job.get("array_job_id"))
    if not array:
        return job_id
    task = number(job.get("array_task_id"))
    if task is not None:
        return f"{int(array)}_{int(task)}"
    rest = job.get("array_task_string")
    if isinstance(rest, str) and rest:
        return f"{int(array)}_[{rest}]"
    return job_id


def parse_squeue(document: Any) -> list[Entity]:
    """Job entities from ``squeue --json`` output of any release 21.08–25.11."""
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        raise ValueError("not squeue --json output: no 'jobs' list")
    entities = []
    for job in document["jobs"]:
        if not isinstance(job, dict) or number(job.get("job_id")) is None:
            continue
        job_id = job_id_of(job)
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


_GRES_COUNT = re.compile(r"(?:^|,)gpu(?::([^:(,]+))?:(\d+)")


def gres_gpus(text: Any) -> int:
    """GPUs in a GRES string: ``gpu:8`` → 8, ``gpu:h100:2(S:0),gpu:h200:4`` → 6."""
    if not isinstance(text, str):
        return 0
    return sum(int(match.group(2)) for match in _GRES_COUNT.finditer(text))


def node_state(words: list[str]) -> str:
    """One word as ``sinfo`` says it (``drained``, ``mixed``) from Slurm's state and flags.

    22.05 gives ``"idle"`` plus ``state_flags: ["DRAIN"]``; 23.02+ gives
    ``["IDLE", "DRAIN"]``. DRAIN on a busy node is *draining*, on an idle one *drained*.
    """
    lowered = [w.lower() for w in words if isinstance(w, str) and w]
    if not lowered:
        return "unknown"
    base, flags = lowered[0], set(lowered[1:])
    if base == "down" or "down" in flags:
        return "down"
    if "drain" in flags:
        return "draining" if base in ("allocated", "mixed", "completing") else "drained"
    if "fail" in flags:
        return "failing" if base in ("allocated", "mixed") else "fail"
    return base


def _reason(value: Any) -> str:
    if isinstance(value, dict):  # 23.02+: {"description": ..., "user": ..., "time": ...}
        value = value.get("description")
    return value if isinstance(value, str) else ""


def parse_sinfo(document: Any) -> list[Entity]:
    """Node entities (Slurm's view: state, reason, GPUs) from ``sinfo --json``.

    21.08/22.05 (openapi v0.0.37/38) list ``nodes``; 23.02+ (data_parser) list
    ``sinfo`` groups, each naming its ``nodes.nodes``.
    """
    if not isinstance(document, dict):
        raise ValueError("not sinfo --json output")
    found: dict[str, dict[str, Any]] = {}
    if isinstance(document.get("nodes"), list):
        for item in document["nodes"]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            state_words = item.get("state")
            words = state_words if isinstance(state_words, list) else [state_words]
            given = item.get("state_flags")
            flags: list[Any] = given if isinstance(given, list) else []
            found[item["name"]] = {
                "slurm_state": node_state([*words, *flags]),
                "slurm_reason": _reason(item.get("reason")),
                "slurm_gpus": gres_gpus(item.get("gres")),
                "slurm_gpus_used": gres_gpus(item.get("gres_used")),
                "partitions": [p for p in item.get("partitions") or [] if isinstance(p, str)],
            }
    elif isinstance(document.get("sinfo"), list):
        for group in document["sinfo"]:
            if not isinstance(group, dict):
                continue
            names = (group.get("nodes") or {}).get("nodes") or []
            words = (group.get("node") or {}).get("state") or []
            gres = group.get("gres") or {}
            partition = (group.get("partition") or {}).get("name")
            for name in names if isinstance(names, list) else []:
                if not isinstance(name, str):
                    continue
                entry = found.setdefault(name, {
                    "slurm_state": node_state(words if isinstance(words, list) else [words]),
                    "slurm_reason": _reason(group.get("reason")),
                    "slurm_gpus": gres_gpus(gres.get("total")),
                    "slurm_gpus_used": gres_gpus(gres.get("used")),
                    "partitions": [],
                })  # fmt: skip
                if isinstance(partition, str) and partition not in entry["partitions"]:
                    entry["partitions"].append(partition)
    else:
        raise ValueError("not sinfo --json output: no 'nodes' or 'sinfo' list")
    return [Entity(make_ref("node", name), name, attrs=attrs) for name, attrs in found.items()]


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
        # Through run_command: a slow squeue is killed with its process group and
        # reaped (no orphan, no "Event loop is closed" traceback at exit).
        try:
            result = await run_command(
                [self.squeue, "--json"], SQUEUE_TIMEOUT, max_output=MAX_OUTPUT_BYTES
            )
        except CommandFailed as exc:
            raise SourceError(str(exc)) from None
        if result.returncode != 0:
            raise SourceError(f"{self.squeue} exited {result.returncode}: {result.error_line}")
        try:  # 20,000 jobs take ~1.5 s to parse (bench/slurm_parse.py): not on the loop
            jobs = await asyncio.to_thread(lambda: parse_squeue(json.loads(result.stdout)))
            return Batch(entities=jobs)
        except ValueError as exc:
            raise SourceError(f"bad squeue output: {str(exc)[:120]}") from None


class SlurmNodesSource(Source):
    """Runs ``sinfo --json``: each node's Slurm state, reason and GPU count."""

    type = "slurm"

    def __init__(self, sinfo: str, interval: float) -> None:
        self.name = "slurm:nodes"
        self.sinfo = sinfo
        """The sinfo executable."""
        self.interval = max(interval, 5.0)
        self.timeout = SQUEUE_TIMEOUT + 1

    async def poll(self) -> Batch:
        try:
            result = await run_command(
                [self.sinfo, "--json"], SQUEUE_TIMEOUT, max_output=MAX_OUTPUT_BYTES
            )
        except CommandFailed as exc:
            raise SourceError(str(exc)) from None
        if result.returncode != 0:
            raise SourceError(f"{self.sinfo} exited {result.returncode}: {result.error_line}")
        try:  # 4,000 nodes take ~0.1 s to parse (bench/slurm_parse.py): not on the loop
            nodes = await asyncio.to_thread(lambda: parse_sinfo(json.loads(result.stdout)))
            return Batch(entities=nodes)
        except ValueError as exc:
            raise SourceError(f"bad sinfo output: {str(exc)[:120]}") from None


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
    squeue = str(context.options["squeue"])
    sources: list[Source] = [SlurmSource(squeue, context.interval)]
    if context.options.get("nodes", True):
        sinfo = context.options.get("sinfo") or sibling(squeue, "sinfo")
        sources.append(SlurmNodesSource(str(sinfo), context.interval))
    return sources


def sibling(program: str, name: str) -> str:
    """``/opt/slurm/bin/sinfo`` beside ``/opt/slurm/bin/squeue``; ``sinfo`` beside ``squeue``."""
    path = Path(program)
    return str(path.with_name(name)) if path.parent != Path() else name


def make_jobs_file_sources(context: SourceContext) -> list[Source]:
    path = Path(context.options["path"])
    return [JobsFileSource(path if path.is_absolute() else Path(context.base_dir) / path,
                           context.interval)]  # fmt: skip


SLURM_OPTIONS = (
    Option("squeue", (str,), "squeue", help="the squeue executable"),
    Option("sinfo", (str,), None, help="the sinfo executable (default: beside squeue)"),
    Option("nodes", (bool,), True, help="read each node's Slurm state with sinfo"),
)
JOBS_FILE_OPTIONS = (Option("path", (str,), required=True, help="YAML list of jobs"),)
