"""The console on the real app and a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from console_web import client_of
from octogate.console.app import WithConsole, build_console
from octogate.console.security import Throttle
from octogate.http.app import OctopushApp


@pytest.fixture
def console(app: OctopushApp) -> WithConsole:
    return WithConsole(app, build_console(app.gateway, throttle=Throttle(per_login=5, per_address=100)))


@pytest.fixture
async def web(console: WithConsole) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(console) as client:
        yield client
