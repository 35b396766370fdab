"""The sandbox page in a real browser (Debian's Chromium, driven over the DevTools protocol): a message sent to
the phone and the phone's reply appear on an open page without a reload. Screenshots go to a temporary folder."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import uvicorn

from live.conftest import free_port
from octogate.sandbox.client import SandboxClient
from octogate.sandbox.page import SandboxPage

from .conftest import Sandbox
from .test_control import PHONE, submit

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


class Tab:
    """One page of a headless Chromium, over its DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == ident:
                assert "error" not in message, message
                return dict(message.get("result", {}))

    async def text(self, selector: str) -> str:
        result = await self.call("Runtime.evaluate", expression=f"document.querySelector({selector!r}).innerText")
        return str(result["result"].get("value", ""))

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


@pytest.fixture
async def tab(tmp_path: Path) -> AsyncIterator[Tab]:
    port = free_port()
    assert CHROMIUM is not None
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,800", "about:blank",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    pages = (await http.get(f"http://127.0.0.1:{port}/json")).json()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "chromium did not start"
                    await asyncio.sleep(0.1)
        url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
            opened = Tab(ws)
            await opened.call("Page.enable")
            yield opened
    finally:
        browser.terminate()
        await asyncio.wait_for(browser.wait(), 10)


@pytest.fixture
async def page_url(sandbox: Sandbox) -> AsyncIterator[str]:
    url = sandbox.sim.control_url
    assert url is not None
    port = free_port()
    app = SandboxPage(lambda: SandboxClient(url)).app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event for it
        assert not task.done(), "the page's server did not start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/console/sandbox"
    server.should_exit = True
    await task


async def shows(tab: Tab, words: str, within: float = 5.0) -> float:
    """Seconds until the open page shows `words` (it is never reloaded)."""
    start = time.monotonic()
    while words not in await tab.text("#sandbox-live"):
        assert time.monotonic() - start < within, f"the page does not show {words!r}"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_an_open_page_shows_new_messages_without_a_reload(
    sandbox: Sandbox, page_url: str, tab: Tab, tmp_path: Path
) -> None:
    await submit(sandbox, PHONE, "Votre colis ✓ arrive demain. Répondez 1 pour confirmer.", sender="Colis")
    await tab.call("Page.navigate", url=f"{page_url}?number=%2B33612345678")
    await shows(tab, "Votre colis ✓ arrive demain")
    await tab.call("Runtime.evaluate", expression="window.notReloaded = true")
    await tab.screenshot(tmp_path / "sandbox-1-opened.png")

    await submit(sandbox, PHONE, "Créneau : 9 h - 12 h.", sender="Colis")
    assert await shows(tab, "Créneau : 9 h - 12 h.") < 1.0  # the bound, submit to shown
    await sandbox.client.reply(PHONE, "1, merci")
    await shows(tab, "1, merci")
    still = await tab.call("Runtime.evaluate", expression="window.notReloaded === true")
    assert still["result"]["value"] is True
    await tab.screenshot(tmp_path / "sandbox-2-updated.png")
    assert (tmp_path / "sandbox-2-updated.png").stat().st_size > 10_000
