"""The ``agent`` source type, light to import: aiohttp loads only when one is made."""

from __future__ import annotations

from console.api import Option, Source, SourceContext, SourceType


def _make(context: SourceContext) -> list[Source]:
    from console.agent.client import make_agent_sources

    return make_agent_sources(context)


AGENT_SOURCE = SourceType(
    name="agent",
    factory=_make,
    options=(
        Option("url", (str,), required=True, help="http(s)://host:port; host ranges expand"),
        Option("token_file", (str,), help="file holding the agent's bearer token"),
        Option("tls_ca", (str,), help="CA that signed the agents' certificates"),
        Option("tls_cert", (str,), help="client certificate, for agents that verify clients"),
        Option("tls_key", (str,), help="key of the client certificate"),
        Option("timeout", (int, float), 3.0, help="seconds before a poll is a timeout"),
        Option(
            "stream",
            (bool,),
            True,
            help="read the agent's /v2/stream (one connection, only changes; a third of the "
            "console's CPU of polling /v1/snapshot at 1,000 agents); false: poll /v1/snapshot",
        ),
    ),
    help="a watchfloor node agent",
)
"""The agent as a source type (``type: agent`` in the config)."""
