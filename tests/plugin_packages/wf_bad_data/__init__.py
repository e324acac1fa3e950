"""A plugin whose sources return malformed data: not a Batch, and a sample that is
not a number."""

from __future__ import annotations

from typing import Any

from console.api import Batch, Entity, Plugin, Sample, Source, SourceContext, SourceType


class NotABatch(Source):
    name = "notabatch"
    type = "baddata"

    async def poll(self) -> Any:
        return {"entities": [], "samples": []}


class BadSample(Source):
    name = "badsample"
    type = "baddata"

    async def poll(self) -> Batch:
        return Batch(
            entities=[Entity("node/bad01", "bad01")],
            samples=[Sample("node/bad01", "node.load1", "12 W")],  # type: ignore[arg-type]
        )


def make(context: SourceContext) -> list[Source]:
    return [NotABatch(), BadSample()]


plugin = Plugin(
    name="baddata",
    version="1.0",
    source_types=(SourceType("baddata", make, local_default=True),),
)
