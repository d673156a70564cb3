"""The index page in a real browser: players not started take no room, and the page follows
streams as they come and go, starting ``?play=NAME``'s player once that stream appears."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from camsim.encoder.flv_source import FlvPlan
from camsim.media.loader import load
from refserver import server as server_module
from tests.conftest import SampleFactory
from tests.integration.refserver.harness import RtmpPublisher, RunningServer, running, server_config
from tests.interop.refserver.browser import Browser
from wire.rtmp.events import PublishStarted

pytestmark = [pytest.mark.interop("chromium"), pytest.mark.slow]

ROWS = (
    "JSON.stringify([...document.querySelectorAll('tbody[data-stream]')]"
    ".map(b => b.dataset.stream))"
)
VIDEO_DISPLAY = (
    "JSON.stringify([...document.querySelectorAll('video')].map("
    "v => [v.id, getComputedStyle(v).display, v.getBoundingClientRect().height]))"
)
EMPTY_SHOWN = "getComputedStyle(document.getElementById('empty')).display !== 'none'"


@pytest.fixture(scope="module")
def h264_plan(make_test_sample: SampleFactory) -> FlvPlan:
    return FlvPlan.build(load(make_test_sample(gop_seconds=Fraction(1))))


async def poll(browser: Browser, expression: str, wanted: Any, timeout: float = 10.0) -> Any:
    """Evaluate ``expression`` until it gives ``wanted`` (JSON-decoded) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        raw = await browser.evaluate(expression)
        value = json.loads(raw) if isinstance(raw, str) else raw
        if value == wanted:
            return value
        await asyncio.sleep(0.25)
    note = await browser.evaluate("(document.getElementById('refresh') || {}).textContent")
    raise AssertionError(
        f"{expression} is {value!r}, not {wanted!r}, after {timeout} s; refresh: {note!r}"
    )


def test_players_take_no_room_until_started_and_the_list_follows_the_streams(
    tmp_path: Path, h264_plan: FlvPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "TICK_SECONDS", 0.1)
    config = server_config(tmp_path)
    config = replace(config, limits=replace(config.limits, offline_timeout=1.0))

    async def publish(server: RunningServer, name: str) -> tuple[RtmpPublisher, asyncio.Task[None]]:
        """A publisher that keeps sending in real time until its task is cancelled."""
        publisher = RtmpPublisher(server.rtmp_port)
        assert isinstance(await publisher.publish(name), PublishStarted)
        return publisher, asyncio.create_task(
            publisher.send_plan(h264_plan, seconds=60, realtime=True)
        )

    async def unpublish(publisher: RtmpPublisher, sending: asyncio.Task[None]) -> None:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        await publisher.unpublish()

    async def scenario(server: RunningServer) -> None:
        first = await publish(server, "first")
        async with Browser() as browser:
            await browser.open(server.url("/?play=later"))
            await poll(browser, "JSON.stringify(document.readyState)", "complete")
            # Not played: its video element is hidden and takes no room.
            await poll(browser, VIDEO_DISPLAY, [["video-first", "none", 0]])
            await poll(browser, ROWS, ["first"])
            await poll(browser, EMPTY_SHOWN, False)

            # The stream named in ?play= starts playing as soon as it is listed.
            later = await publish(server, "later")
            await poll(browser, ROWS, ["first", "later"])
            await poll(browser, "window.refserver.players.later !== undefined", True)
            shown = json.loads(await browser.evaluate(VIDEO_DISPLAY))
            assert shown[0] == ["video-first", "none", 0]
            assert shown[1][:2] == ["video-later", "block"]
            assert shown[1][2] > 0

            # A stream that ends leaves the page, and its player with it.
            await unpublish(*later)
            await poll(browser, ROWS, ["first"], timeout=10)
            assert await browser.evaluate("window.refserver.players.later === undefined")
            await unpublish(*first)
            await poll(browser, ROWS, [], timeout=10)
            await poll(browser, EMPTY_SHOWN, True)

    with running(config) as server:
        asyncio.run(scenario(server))
