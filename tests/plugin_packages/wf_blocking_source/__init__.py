"""A plugin whose source blocks its event loop for seconds on every poll (a badly
written driver binding): in the console it stalls the collector, never the keys.

While a poll blocks, the file named by ``WF_BLOCKING_MARK`` exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from console.api import Batch, Plugin, Source, SourceContext, SourceType

BLOCK_SECONDS = 3.0


class BlockingSource(Source):
    name = "block"
    type = "block"
    interval = 0.2
    timeout = 1.0

    async def poll(self) -> Batch:
        mark = Path(os.environ["WF_BLOCKING_MARK"])
        mark.write_text(str(time.time()))
        time.sleep(BLOCK_SECONDS)  # blocks the loop: no await
        mark.unlink()
        return Batch()


def make(context: SourceContext) -> list[Source]:
    return [BlockingSource()]


plugin = Plugin(name="blocking", version="1.0", source_types=(SourceType("block", make),))
