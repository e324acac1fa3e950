"""The site's security policy: who may run on GPUs outside a job, which listeners
are expected. ``security:`` in the config sets it; the security plugin reads it.

The policy lives in the console, not on the nodes: agents report what they see
(every GPU process, every listening socket) and the console decides what is
unexpected, so one config file changes the verdict for the whole fleet.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

DEFAULT_EXPECTED_LISTENERS = (
    "127.*:*",  # anything on loopback stays on the machine
    "[::1]:*",
    "*:22",  # ssh
    "*:9477",  # the Watchfloor agent
    "*:9100",  # node_exporter
    "*:9400",  # dcgm-exporter
    "*:6818",  # slurmd
)
"""Listening sockets that are not findings unless the config says otherwise."""


@dataclass
class SecurityPolicy:
    """What is allowed (``security:`` in the config)."""

    allowed_users: list[str] = field(default_factory=list)
    """Users whose GPU processes need no job (``root`` for DCGM, a monitoring user)."""
    allowed_commands: list[str] = field(default_factory=list)
    """Glob patterns of command lines or executables that need no job (``*nv-hostengine*``)."""
    expected_listeners: list[str] = field(default_factory=lambda: [*DEFAULT_EXPECTED_LISTENERS])
    """``address:port`` globs of listening sockets that are expected (``0.0.0.0:8888`` is not)."""

    def allows_process(self, user: object, command: object) -> bool:
        """True when a process needs no job: its user or command is allowlisted."""
        if isinstance(user, str) and user in self.allowed_users:
            return True
        if not isinstance(command, str) or not command:
            return False
        executable = command.split()[0]
        name = executable.rsplit("/", 1)[-1]
        return any(
            fnmatch.fnmatchcase(text, pattern)
            for pattern in self.allowed_commands
            for text in (command, executable, name)
        )

    def expects_listener(self, address: str, port: int) -> bool:
        """True when ``address:port`` matches an expected-listener glob."""
        shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        # Brackets around IPv6 addresses are literal, not a glob character class.
        return any(
            fnmatch.fnmatchcase(shown, pattern.replace("[", "[[]"))
            for pattern in self.expected_listeners
        )


SECURITY = SecurityPolicy()
"""The policy in force (one console per process)."""
KEYS = ("allowed_users", "allowed_commands", "expected_listeners")


def configure_security(values: dict[str, list[str]]) -> None:
    """Apply the validated ``security:`` section (defaults for what it leaves out)."""
    defaults = SecurityPolicy()
    for key in KEYS:
        setattr(SECURITY, key, list(values.get(key, getattr(defaults, key))))
