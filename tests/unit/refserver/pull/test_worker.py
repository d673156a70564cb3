"""The transcoding worker: units transcoded off the event loop's thread, results back on the
loop in the order they went in, a bound on what may wait, nothing delivered after close."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from refserver.hls import Frame
from refserver.pull import worker
from refserver.pull.worker import TranscodeQueue


class SlowTranscoder:
    """Takes ``delay`` seconds per unit and notes the thread it ran on."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.threads: set[int] = set()

    def transcode(self, frame: Frame) -> list[Frame]:
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        return [Frame.audio(frame.pts * 2, frame.data)]


def test_results_come_back_on_the_loop_in_order() -> None:
    transcoder = SlowTranscoder(0.001)
    delivered: list[tuple[int, int, int]] = []

    async def scenario() -> int:
        queue = TranscodeQueue(asyncio.get_running_loop())

        def deliver(frames: list[Frame], size: int) -> None:
            delivered.append((frames[0].pts, size, threading.get_ident()))

        for n in range(50):
            queue.submit(transcoder, Frame.audio(n, b"x"), n + 100, deliver)
        for _ in range(200):
            if len(delivered) == 50:
                break
            await asyncio.sleep(0.01)
        queue.close()
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert [(pts, size) for pts, size, _ in delivered] == [(2 * n, n + 100) for n in range(50)]
    assert {thread for _, _, thread in delivered} == {loop_thread}
    assert loop_thread not in transcoder.threads


def test_past_the_bound_units_are_dropped_and_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker, "MAX_PENDING_UNITS", 3)
    transcoder = SlowTranscoder(0.05)
    delivered: list[int] = []

    async def scenario() -> TranscodeQueue:
        queue = TranscodeQueue(asyncio.get_running_loop())
        for n in range(8):
            queue.submit(
                transcoder, Frame.audio(n, b"x"), 1, lambda f, s: delivered.append(f[0].pts)
            )
        for _ in range(100):
            if len(delivered) == 3:
                break
            await asyncio.sleep(0.02)
        queue.close()
        return queue

    with caplog.at_level(logging.WARNING, logger="refserver.pull.worker"):
        queue = asyncio.run(scenario())
    assert delivered == [0, 2, 4]
    assert queue.dropped == 5
    assert [r.__dict__["units"] for r in caplog.records] == [1, 2, 4]


def test_nothing_is_delivered_after_close() -> None:
    transcoder = SlowTranscoder(0.05)
    delivered: list[int] = []

    async def scenario() -> None:
        queue = TranscodeQueue(asyncio.get_running_loop())
        for n in range(5):
            queue.submit(transcoder, Frame.audio(n, b"x"), 1, lambda f, s: delivered.append(1))
        queue.close()
        await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert delivered == []
