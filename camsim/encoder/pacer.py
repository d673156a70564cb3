"""One timer for every stream: media is sent in ticks, not by one busy task per stream.

Each stream tells the pacer when its next frame is due; the pacer wakes at the earliest such time
(but never sooner than one tick after its previous wake-up), lets every stream that is due send
all it owes in one write, and goes back to sleep. Streams whose frames fall within a tick of each
other share a wake-up, so the cost per second stays near ``streams x 1/tick`` writes at most,
whatever the frame and audio rates.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_TICK = 0.01
"""Seconds; the most a frame is sent late by the pacer, well under one frame at 60 fps."""


class PacedStream(Protocol):
    def pump(self, now: float) -> float | None:
        """Send everything due at loop time ``now``; return when more is due, or ``None``."""


@dataclass(order=True, slots=True)
class _Entry:
    when: float
    order: int
    stream: PacedStream | None = field(compare=False)


class Pacer:
    """A heap of due times, served from one :meth:`asyncio.loop.call_at` timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, tick: float = DEFAULT_TICK) -> None:
        self._loop = loop
        self.tick = tick
        self._heap: list[_Entry] = []
        self._entries: dict[PacedStream, _Entry] = {}
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._last_wake = float("-inf")

    def schedule(self, stream: PacedStream, when: float) -> None:
        """Call ``stream.pump`` at ``when`` (or within a tick of it), replacing any earlier
        schedule of the same stream."""
        self.cancel(stream)
        self._push(stream, when)
        self._arm()

    def cancel(self, stream: PacedStream) -> None:
        entry = self._entries.pop(stream, None)
        if entry is not None:
            entry.stream = None  # dropped lazily when it reaches the top of the heap

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._entries.clear()

    def _push(self, stream: PacedStream, when: float) -> None:
        entry = _Entry(when, next(self._order), stream)
        self._entries[stream] = entry
        heapq.heappush(self._heap, entry)

    def _arm(self) -> None:
        heap = self._heap
        while heap and heap[0].stream is None:
            heapq.heappop(heap)
        if not heap:
            return
        when = max(heap[0].when, self._last_wake + self.tick)
        if self._timer is not None:
            if self._timer.when() <= when:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._wake)

    def _wake(self) -> None:
        self._timer = None
        now = self._last_wake = self._loop.time()
        heap = self._heap
        again: list[tuple[PacedStream, float]] = []
        while heap and heap[0].when <= now:
            stream = heapq.heappop(heap).stream
            if stream is None:
                continue
            del self._entries[stream]
            when = stream.pump(now)
            if when is not None:
                again.append((stream, when))
        # Pushed only now, so a stream that is due again within this wake-up waits for the next.
        for stream, when in again:
            self._push(stream, when)
        self._arm()
