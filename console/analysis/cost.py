"""Turning watts into money: the cost model from the config, and the fleet's figures.

cost:
  currency: USD
  price_per_kwh: 0.12     # energy price
  pue: 1.3                # facility overhead on every watt
  gpu_hour: 2.50          # what one GPU-hour is worth (idle GPUs waste it)
  time_of_day:            # optional: other prices in some hours (local time)
    - {from: "08:00", to: "20:00", price_per_kwh: 0.18}
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Any

from console.analysis.jobs import stall_of
from console.core.store import Store

IDLE_UTIL = 5.0
"""A GPU below this utilisation (%) that no job holds is idle."""


@dataclass(frozen=True)
class PriceWindow:
    """A price that applies from ``start`` to ``end`` minutes after midnight."""

    start: int
    end: int
    price_per_kwh: float

    def covers(self, minute: int) -> bool:
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # across midnight


@dataclass(frozen=True)
class CostModel:
    """Prices, with defaults a site overrides under ``cost:``."""

    currency: str = "USD"
    price_per_kwh: float = 0.12
    pue: float = 1.3
    gpu_hour: float = 2.5
    time_of_day: tuple[PriceWindow, ...] = field(default_factory=tuple)

    def price_at(self, when: float) -> float:
        """Energy price per kWh at this time (local clock)."""
        moment = _time.localtime(when)
        minute = moment.tm_hour * 60 + moment.tm_min
        for window in self.time_of_day:
            if window.covers(minute):
                return window.price_per_kwh
        return self.price_per_kwh

    def energy_cost_per_hour(self, watts: float, when: float) -> float:
        """What drawing ``watts`` for an hour costs, facility overhead included."""
        return watts / 1000.0 * self.pue * self.price_at(when)


OUT_OF_SERVICE = frozenset({"drained", "draining", "down", "fail", "failing"})
"""Slurm node states that take no new job: their idle GPUs are not waste."""


def out_of_service_node(store: Store, node: str | None) -> bool:
    """True when Slurm says the node takes no new job (drained, down …)."""
    entity = store.get(node) if node else None
    return entity is not None and entity.attrs.get("slurm_state") in OUT_OF_SERVICE


def power_summary(store: Store, model: CostModel) -> dict[str, Any]:
    """Fleet draw, cost per hour now, energy, and the waste (idle GPUs, stalled jobs)."""
    now = store.time or _time.time()
    held = {gpu: job.ref for job in store.of_kind("job") for gpu in job.attrs.get("gpus", [])}
    # Fleet totals the store keeps as readings land; only idle GPUs are looked at one by one.
    draw = store.gpu_total(None, "gpu.power") or 0.0
    total_j = store.gpu_total(None, "gpu.energy_total") or 0.0
    today_j = store.gpu_total(None, "gpu.energy_today") or 0.0
    idle_w = 0.0
    idle = out_of_service = 0
    for gpu in [gpu for gpu in store.of_kind("gpu") if gpu.ref not in held]:  # most are held
        util = store.value(gpu.ref, "gpu.util")
        if util is not None and util < IDLE_UTIL:
            if out_of_service_node(store, gpu.parent):
                out_of_service += 1  # drained or down on purpose: not waiting for work
                continue
            idle += 1
            idle_w += store.value(gpu.ref, "gpu.power") or 0.0
    stalled: list[dict[str, Any]] = []
    for job in store.of_kind("job"):
        stall = stall_of(store, job)
        if stall is None:
            continue
        gpus = job.attrs.get("gpus", [])
        watts = sum(store.value(g, "gpu.power") or 0.0 for g in gpus)
        per_hour = len(gpus) * model.gpu_hour + model.energy_cost_per_hour(watts, now)
        # Burned over the stall the job's own readings show, onset to newest: not up to
        # the store's clock, which another source (the wall, beside a simulator) may set.
        stalled_s = max(0.0, stall.seen - stall.since)
        stalled.append({"ref": job.ref, "gpus": len(gpus), "cost_per_hour": round(per_hour, 2),
                        "since": stall.since, "stalled_s": stalled_s,
                        "burned": round(per_hour * stalled_s / 3600.0, 2)})  # fmt: skip
    inference: list[dict[str, Any]] = []
    for job in store.of_kind("job"):
        tokens = store.value(job.ref, "job.throughput")
        if job.attrs.get("throughput_unit") != "tokens/s" or not tokens:
            continue
        gpus = job.attrs.get("gpus", [])
        watts = sum(store.value(g, "gpu.power") or 0.0 for g in gpus)
        per_hour = len(gpus) * model.gpu_hour + model.energy_cost_per_hour(watts, now)
        per_million = per_hour / (tokens * 3600) * 1e6
        inference.append({"ref": job.ref, "tokens_per_s": round(tokens, 1),
                          "cost_per_hour": round(per_hour, 2),
                          "cost_per_million_tokens": round(per_million, 4)})  # fmt: skip
    idle_cost = idle * model.gpu_hour + model.energy_cost_per_hour(idle_w, now)
    return {
        "currency": model.currency,
        "draw_w": round(draw, 1),
        "energy_cost_per_hour": round(model.energy_cost_per_hour(draw, now), 2),
        "energy_kwh_since_start": round(total_j / 3.6e6, 4),
        "energy_kwh_today": round(today_j / 3.6e6, 4),
        "inference": inference,
        "waste": {
            "idle_gpus": idle,
            "out_of_service_gpus": out_of_service,
            "idle_cost_per_hour": round(idle_cost, 2),
            "stalled_jobs": stalled,
            "stalled_cost_per_hour": round(sum(j["cost_per_hour"] for j in stalled), 2),
        },
    }
