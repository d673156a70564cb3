"""The encoder's pacer on the shared deadline scheduler, with a fake clock: streams pump what is
due by the loop's time, wake-ups at least a tick apart, one timer for all."""

from __future__ import annotations

import asyncio
import itertools
from typing import cast

from camsim.encoder.pacer import Pacer
from tests.unit.wire.asyncio.fakes import FakeLoop


class Stream:
    """Frames every ``period`` seconds from ``start``; logs the loop time of each pump."""

    def __init__(self, start: float, period: float, frames: int) -> None:
        self.next, self.period, self.frames = start, period, frames
        self.pumps: list[tuple[float, int]] = []

    def pump(self, now: float) -> float | None:
        sent = 0
        while self.frames and self.next <= now:
            self.frames -= 1
            self.next += self.period
            sent += 1
        self.pumps.append((round(now, 6), sent))
        return self.next if self.frames else None


def pacer_on(loop: FakeLoop, tick: float = 0.01) -> Pacer:
    return Pacer(cast(asyncio.AbstractEventLoop, loop), tick=tick)


def test_streams_send_everything_due_in_ticks() -> None:
    loop = FakeLoop()
    pacer = pacer_on(loop)
    audio, video = Stream(1.0, 0.0213, 5), Stream(1.0, 0.0333, 3)
    pacer.schedule(audio, 1.0)
    pacer.schedule(video, 1.0)
    loop.advance(2.0)
    # Each wake-up is at the earliest due time, but at least 10 ms after the previous one:
    # audio's 1.0426 waits for 1.0433, video's 1.0666 for 1.0739.
    assert audio.pumps == [(1.0, 1), (1.0213, 1), (1.0433, 1), (1.0639, 1), (1.0852, 1)]
    assert video.pumps == [(1.0, 1), (1.0333, 1), (1.0739, 1)]
    wakes = sorted({now for now, _ in audio.pumps + video.pumps})
    assert all(later - earlier >= 0.01 - 1e-9 for earlier, later in itertools.pairwise(wakes))


def test_a_late_wake_up_sends_the_backlog_in_one_pump() -> None:
    loop = FakeLoop(late=0.05)  # the loop was busy for 50 ms
    pacer = pacer_on(loop)
    stream = Stream(1.0, 0.02, 10)
    pacer.schedule(stream, 1.0)
    loop.advance(1.0)
    assert stream.pumps == [(1.05, 3)]


def test_cancel_and_close() -> None:
    loop = FakeLoop()
    pacer = pacer_on(loop)
    kept, dropped = Stream(1.0, 0.1, 3), Stream(1.0, 0.1, 3)
    pacer.schedule(kept, 1.0)
    pacer.schedule(dropped, 1.0)
    pacer.cancel(dropped)
    pacer.cancel(dropped)  # twice is fine
    loop.advance(1.15)
    assert (len(kept.pumps), dropped.pumps) == (2, [])
    pacer.close()
    loop.advance(5.0)
    assert len(kept.pumps) == 2
    assert loop.pending() == []
