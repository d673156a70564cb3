"""One timer for every stream: media is sent in ticks, not by one busy task per stream.

Each stream tells the pacer when its next frame is due; the pacer wakes at the earliest such time
(but never sooner than one tick after its previous wake-up), lets every stream that is due send
all it owes in one write, and goes back to sleep. Streams whose frames fall within a tick of each
other share a wake-up, so the cost per second stays near ``streams x 1/tick`` writes at most,
whatever the frame and audio rates. The heap and the timer are the shared
:class:`wire.asyncio.scheduler.DeadlineScheduler`, with the tick as its ``min_interval``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from wire.asyncio.scheduler import DeadlineScheduler

DEFAULT_TICK = 0.01
"""Seconds; the most a frame is sent late by the pacer, well under one frame at 60 fps."""


class PacedStream(Protocol):
    def pump(self, now: float) -> float | None:
        """Send everything due at loop time ``now``; return when more is due, or ``None``."""


@dataclass(eq=False, slots=True)
class _Pumped:
    """A stream as a scheduler task: it sends what is due by the loop's time when it runs."""

    stream: PacedStream
    loop: asyncio.AbstractEventLoop

    def run(self, due: float) -> float | None:
        return self.stream.pump(self.loop.time())


class Pacer:
    """Paces streams on the shared scheduler, waking at most once per ``tick``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, tick: float = DEFAULT_TICK) -> None:
        self._loop = loop
        self.tick = tick
        self._scheduler = DeadlineScheduler(loop, min_interval=tick)
        self._tasks: dict[PacedStream, _Pumped] = {}

    def schedule(self, stream: PacedStream, when: float) -> None:
        """Call ``stream.pump`` at ``when`` (or within a tick of it), replacing any earlier
        schedule of the same stream."""
        task = self._tasks.get(stream)
        if task is None:
            task = self._tasks[stream] = _Pumped(stream, self._loop)
        self._scheduler.schedule(task, when)

    def cancel(self, stream: PacedStream) -> None:
        task = self._tasks.pop(stream, None)
        if task is not None:
            self._scheduler.cancel(task)

    def close(self) -> None:
        self._scheduler.close()
        self._tasks.clear()
