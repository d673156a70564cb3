"""The test-only puller stops when it is told to, even while media is flowing.

Tests bound a pull by cancelling it (``asyncio.timeout``); a pull that lived on would hold its
test until the suite's own timeout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

from tests.integration.conformance.rtsp_client.puller import Exchange, Puller
from wire.rtsp import ClientConfig, RtspClientConnection

URL = "rtsp://127.0.0.1:8554/cam1"


def test_a_read_cancelled_as_its_data_arrives_is_cancelled(tmp_path: Path) -> None:
    """Data arriving in the same loop pass as the cancellation: the read must not return it as
    if nothing had happened (asyncio.wait_for on Python 3.11 does, and loses the cancellation)."""

    async def scenario() -> asyncio.Task[list[object]]:
        reader = asyncio.StreamReader()
        exchange = Exchange(
            Puller(URL, tmp_path, set()),
            RtspClientConnection(URL, ClientConfig()),
            reader,
            cast(asyncio.StreamWriter, None),  # nothing is written: no request is pending
        )
        task = asyncio.create_task(exchange.read(5.0))
        await asyncio.sleep(0)  # the read now waits for data
        reader.feed_data(b"$\x00\x00\x04abcd")  # one interleaved frame
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
        return task

    task = asyncio.run(scenario())
    assert task.done()
    assert task.cancelled(), f"the read returned {task.result()!r} instead of being cancelled"
