"""Push-worker fixtures: a recording HTTP receiver on a loopback port, and short retry settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from callbacks.support import Receiver
from octogate.config import CallbackSettings

FAST = CallbackSettings(
    backoff_min=1, backoff_max=1, poll_interval=0.05, lease_seconds=2, connect_timeout=1.0, total_timeout=3.0,
    allow_targets=("127.0.0.0/8", "::1/128"),  # the receivers are on loopback; private targets are forbidden
)  # fmt: skip


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def fast() -> CallbackSettings:
    return FAST
