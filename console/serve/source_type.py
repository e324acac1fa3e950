"""The ``console`` source type, light to import: aiohttp loads only when one is made."""

from __future__ import annotations

from console.api import Option, Source, SourceContext, SourceType


def _make(context: SourceContext) -> list[Source]:
    from console.serve.source import make_relay_sources

    return make_relay_sources(context)


CONSOLE_SOURCE = SourceType(
    name="console",
    factory=_make,
    options=(
        Option("url", (str,), required=True, help="the relay of a `watchfloor serve` collector"),
        Option("token_file", (str,), required=True, help="file holding the relay's token"),
        Option("timeout", (int, float), 3.0, help="seconds before a poll is a timeout"),
    ),
    help="another console's whole fleet, read from its relay (what `serve` viewers use)",
)
"""Another console as a source (``type: console`` in the config)."""
