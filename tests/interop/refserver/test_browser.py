"""A real browser plays a live stream from refserver's index page with the vendored hls.js."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.interop.refserver.browser import Browser, chromium_path
from tests.interop.refserver.conftest import RefserverProcess, ffmpeg_push

pytestmark = pytest.mark.interop("ffmpeg")

WATCH_SECONDS = 20
PLAYER_STATE = "JSON.stringify((window.refserver || {players: {}}).players[{name}] || null)"


async def watch(url: str, name: str) -> list[dict[str, Any]]:
    """Open ``url`` and sample the player's state every second for WATCH_SECONDS."""
    expression = PLAYER_STATE.replace("{name}", json.dumps(name))
    samples = []
    async with Browser() as browser:
        await browser.open(url)
        began = time.monotonic()
        while time.monotonic() - began < WATCH_SECONDS:
            await asyncio.sleep(1)
            value = await browser.evaluate(expression)
            if value is not None:
                samples.append(json.loads(value))
    return samples


@pytest.mark.slow
def test_chromium_plays_a_live_stream_from_the_index_page(
    refserver: RefserverProcess, sample_path: Path
):
    if chromium_path() is None:
        pytest.skip("real peer not installed: chromium")
    pusher = ffmpeg_push(
        sample_path, refserver.rtmp_url("test"), realtime=True, loop=True, seconds=45
    )
    try:
        deadline = time.monotonic() + 15
        while refserver.get("/live/test/index.m3u8")[0] != 200:
            assert time.monotonic() < deadline, "no playlist within 15 s"
            time.sleep(0.2)
        samples = asyncio.run(watch(refserver.http_url("/?play=test"), "test"))
    finally:
        pusher.kill()
        pusher.wait(10)

    assert len(samples) >= WATCH_SECONDS - 2
    last = samples[-1]
    fatal = [e for s in samples for e in s["errors"] if e["fatal"]]
    assert fatal == []
    assert last["fatal"] is None
    assert last["playing"] is True
    # Live playback began a few segments behind the edge and kept going.
    assert last["currentTime"] > WATCH_SECONDS / 2
    assert last["fragments"] >= WATCH_SECONDS / 2
