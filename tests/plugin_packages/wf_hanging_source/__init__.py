"""A plugin whose local source never answers (a hung device, say)."""

from __future__ import annotations

import asyncio

from console.api import Batch, Plugin, Source, SourceContext, SourceType


class HangingSource(Source):
    name = "hang"
    type = "hang"
    timeout = 0.5

    async def poll(self) -> Batch:
        await asyncio.Event().wait()
        return Batch()


def make(context: SourceContext) -> list[Source]:
    return [HangingSource()]


plugin = Plugin(
    name="hanging",
    version="1.0",
    source_types=(SourceType("hang", make, local_default=True),),
)
