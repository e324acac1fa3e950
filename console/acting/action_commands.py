"""Palette commands for the Slurm actions: ``drain gpu01 bad fan``, ``requeue 4711`` …

Each builds the same :class:`~console.acting.actions.Action` as the screens' keys and
goes through the same confirmation, refusal and audit.
"""

from __future__ import annotations

from collections.abc import Callable

from console.acting.actions import SLURM_ACTIONS, drain_reason, slurm_action
from console.api import Command, PaneContext

NODE_VERBS = ("drain", "resume")
HELP = {
    "drain": "drain NODE [REASON]: no new job lands on it (default reason: its worst finding)",
    "resume": "resume NODE: the node takes jobs again",
    "requeue": "requeue JOB: back to pending, to start again",
    "hold": "hold JOB: keep a pending job from starting",
    "release": "release JOB: let a held job start",
    "cancel": "cancel JOB: end the job (scancel)",
}


def _target(verb: str, word: str) -> str:
    kind = "node" if verb in NODE_VERBS else "job"
    return word if word.startswith(f"{kind}/") else f"{kind}/{word}"


def _runner(verb: str) -> Callable[[PaneContext, str], None]:
    def run(context: PaneContext, argument: str) -> None:
        from console.ui.kit import confirm_action

        word, _, rest = argument.strip().partition(" ")
        if not word:
            raise ValueError(f"usage: {HELP[verb].split(':')[0]}")
        target = _target(verb, word)
        reason = rest.strip() or (drain_reason(context.store, target) if verb == "drain" else "")
        confirm_action(context, context, slurm_action(verb, target, reason))  # type: ignore[arg-type]

    return run


ACTION_COMMANDS = tuple(Command(verb, HELP[verb], _runner(verb)) for verb in SLURM_ACTIONS)
"""The palette's action commands (the core plugin provides them)."""
