"""The ``sim`` source type: a simulated cluster polled like any real source."""

from __future__ import annotations

from console.api import Batch, Option, Source, SourceContext, SourceType
from console.sim.scenarios import SCENARIOS
from console.sim.simulation import Simulation

HISTORY_SECONDS = 300.0
"""Job history the simulator hands over on its first poll."""
SECONDS_PER_NODE = 0.01
"""Timeout per simulated node. A tick is Python that cannot be cancelled and blocks the
loop it runs on (the collector's, in its own process); one that outlives its timeout is
refused as blocking and never lands. At 4,000 nodes on a busy 2-core machine each tick
took 7 to 12 s: under the 5 s timeout the console stayed blank."""


class SimSource(Source):
    """Polls a :class:`Simulation`: each poll is one tick of the sim clock."""

    type = "sim"
    simulated_clock = True

    def __init__(
        self, simulation: Simulation, interval: float, name: str = "sim", scope: str = "all"
    ) -> None:
        self.simulation = simulation
        """The cluster being played."""
        self.name = name
        self.interval = interval
        self.timeout = max(5.0, interval * 4, len(simulation.topology.nodes) * SECONDS_PER_NODE)
        self.scope = scope
        """``all``, ``fabric``, or one node's name (see ``Simulation.step``)."""
        self._first = True

    async def poll(self) -> Batch:
        batch = self.simulation.step(self.scope)
        if self._first and self.scope in ("all", "fabric"):
            # The jobs' own recent history, so baselines and stall onsets are known.
            batch.samples = self.simulation.job_history(HISTORY_SECONDS) + batch.samples
        self._first = False
        return batch


def make_sim_sources(context: SourceContext) -> list[Source]:
    """Factory for ``type: sim`` config entries."""
    options = context.options
    simulation = Simulation(
        scenario=options["scenario"],
        seed=options["seed"],
        nodes=options["nodes"],
        gpus_per_node=options["gpus_per_node"],
        interval=context.interval,
        onset=options.get("onset"),
    )
    scope = options["scope"]
    name = "sim" if scope == "all" else f"sim-{scope}"
    return [SimSource(simulation, context.interval, name=name, scope=scope)]


SIM_SOURCE = SourceType(
    name="sim",
    factory=make_sim_sources,
    options=(
        Option("scenario", (str,), "congested-link", help=f"one of: {', '.join(SCENARIOS)}"),
        Option("seed", (int,), 1, help="random seed: same seed, same cluster"),
        Option("nodes", (int,), 4, help="number of nodes (at least 4)"),
        Option("gpus_per_node", (int,), 8, help="GPUs per node"),
        Option(
            "onset",
            (int, float),
            None,
            help="seconds after the start that the fault begins (default: 180 before)",
        ),
        Option("scope", (str,), "all", help="all, fabric (no compute nodes), or one node name"),
    ),
    help="the simulated cluster",
)
"""The simulator as a source type (``type: sim`` in the config)."""
