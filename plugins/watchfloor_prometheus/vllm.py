"""vLLM's ``/metrics`` (``vllm:*``) mapped onto an inference job per server.

Each vLLM server becomes ``job/vllm-<node>[-<port>]``, an inference job whose
throughput is in tokens/s, so the power pane's cost per million tokens works as
it does for any inference job: the GPUs it holds (the ``gpus`` option, else the
GPUs the same poll saw on its node) priced per GPU-hour plus their energy.

- running / waiting requests and KV-cache usage (V1 ``kv_cache_usage_perc``, V0
  ``gpu_cache_usage_perc``, a 0..1 fraction shown in %), summed or averaged over
  data-parallel engines (the ``engine`` label);
- prompt and generation token counters, stored raw (the store makes them rates);
- ``job.throughput`` = generated tokens per second between two polls (vLLM V0's
  own ``avg_generation_throughput_toks_per_s`` when it reports one);
- ``job.ttft`` = mean time to first token of the requests since the last poll,
  from the histogram's ``_sum`` and ``_count`` (over the server's life on the first).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from console.api import make_ref, plain
from watchfloor_prometheus.exposition import Series
from watchfloor_prometheus.mapping import Builder, Scope, instance_port, node_namer, ref_part

SUMS: dict[str, str] = {
    "vllm:num_requests_running": "job.requests_running",
    "vllm:num_requests_waiting": "job.requests_waiting",
    "vllm:prompt_tokens_total": "job.prompt_tokens",
    "vllm:generation_tokens_total": "job.generation_tokens",
}
"""Series added over a server's engines."""
KV_CACHE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
TTFT_SUM = "vllm:time_to_first_token_seconds_sum"
TTFT_COUNT = "vllm:time_to_first_token_seconds_count"
REPORTED_THROUGHPUT = "vllm:avg_generation_throughput_toks_per_s"


def parse_gpus(text: str) -> list[int]:
    """``0-3,6`` → ``[0, 1, 2, 3, 6]``; ValueError names what is wrong."""
    indices: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdecimal() or (dash and not last.isdecimal()):
            raise ValueError(f"gpus: {text!r} is not a list of GPU indices such as 0-3,6")
        indices += range(int(first), int(last if dash else first) + 1)
    return indices


class VllmTable:
    """vLLM servers' series."""

    name = "vllm"
    names = "vllm:.+"
    keep: tuple[str, ...] = ("instance", "model_name", "engine")
    identity: tuple[str, ...] = ()

    def recognises(self, name: str) -> bool:
        return name.startswith("vllm:")

    def map(self, series: Iterable[Series], scope: Scope, out: Builder) -> None:
        node_of = node_namer(scope, ())
        servers: dict[tuple[str, str | None], dict[str, Any]] = {}
        for name, labels, value in series:
            node = node_of(labels)
            if node is None or value != value:
                continue
            instance = labels.get("instance") or scope.instance
            server = servers.setdefault((node, instance_port(instance)), {
                "models": set(), "engines": set(), "sums": {}, "kv": [],
            })  # fmt: skip
            if labels.get("model_name"):
                server["models"].add(plain(labels["model_name"], 120))
            server["engines"].add(labels.get("engine", "0"))
            metric = SUMS.get(name)
            if metric is not None or name in (TTFT_SUM, TTFT_COUNT, REPORTED_THROUGHPUT):
                key = metric or name
                server["sums"][key] = server["sums"].get(key, 0.0) + value
            elif name in KV_CACHE:
                server["kv"].append(100.0 * value)
        memory: dict[str, dict[str, float]] = scope.memory.setdefault("vllm", {})
        gpus_option = scope.options.get("gpus")
        indices = parse_gpus(str(gpus_option)) if gpus_option else None
        for (node, port), server in servers.items():
            ref = make_ref("job", ref_part(f"vllm-{node}" + (f"-{port}" if port else "")))
            node_ref = out.node(node)
            if indices is not None:
                gpus = [make_ref("gpu", node, i) for i in indices]
            else:
                gpus = sorted(e.ref for e in out.entities.values()
                              if e.kind == "gpu" and e.parent == node_ref)  # fmt: skip
            models = sorted(server["models"])
            job = out.entity(ref, models[0] if len(models) == 1 else ref[4:])
            job.attrs.update({
                "name": ", ".join(models) or "vLLM", "kind": "inference", "state": "RUNNING",
                "user": "vllm", "server": "vllm", "nodes": [node_ref], "gpus": gpus,
                "engines": len(server["engines"]), "throughput_unit": "tokens/s",
            })  # fmt: skip
            sums = server["sums"]
            for metric in SUMS.values():
                if metric in sums:
                    out.put(ref, metric, sums[metric])
            if server["kv"]:
                out.put(ref, "job.kv_cache_usage", sum(server["kv"]) / len(server["kv"]))
            before = memory.get(ref, {})
            now = {key: sums[key] for key in ("job.generation_tokens", TTFT_SUM, TTFT_COUNT)
                   if key in sums}  # fmt: skip
            now["time"] = scope.time
            memory[ref] = now
            out.put(ref, "job.ttft", _ttft(before, now))
            if REPORTED_THROUGHPUT in sums:
                out.put(ref, "job.throughput", sums[REPORTED_THROUGHPUT])
            elif "job.generation_tokens" in now and "job.generation_tokens" in before:
                elapsed = now["time"] - before["time"]
                generated = now["job.generation_tokens"] - before["job.generation_tokens"]
                if elapsed > 0 and generated >= 0:
                    out.put(ref, "job.throughput", generated / elapsed)


def _ttft(before: dict[str, float], now: dict[str, float]) -> float | None:
    if TTFT_SUM not in now or TTFT_COUNT not in now:
        return None
    total, count = now[TTFT_SUM], now[TTFT_COUNT]
    if TTFT_COUNT in before and count >= before[TTFT_COUNT]:
        total -= before.get(TTFT_SUM, 0.0)
        count -= before[TTFT_COUNT]
    return total / count if count > 0 else None


TABLE = VllmTable()
"""The vLLM table."""
