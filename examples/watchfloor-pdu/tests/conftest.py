"""A fake PDU server on a free loopback port, for the tests that poll over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from watchfloor_pdu.fake import FakePdus, serving

FROZEN = 1_700_000_000.0
"""The fake's clock: its readings are the same on every run."""


@dataclass
class Fake:
    """A running fake: change ``state`` between polls."""

    state: FakePdus
    url: str
    """Base URL, e.g. http://127.0.0.1:41234"""


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = FakePdus(racks=2, nodes=["node01", "node02", "node03", "node04"], clock=lambda: FROZEN)
    async with serving(state) as url:
        yield Fake(state, url)
