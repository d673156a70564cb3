"""One timer for the whole fleet, and how late it sends.

Every camera that has viewers is a :class:`Task` of the fleet's :class:`Scheduler`, the shared
:class:`wire.asyncio.scheduler.DeadlineScheduler`: one heap of due times served from a single
:meth:`asyncio.loop.call_at` timer. A wake-up runs every task that is due, each returns when it
is next due. Cameras start at spread-out phases of their loops (real cameras are not
synchronised), so wake-ups rarely pile up. :class:`PacingStats` records, per burst, how far after
its due time it actually went out.
"""

from __future__ import annotations

import asyncio

from wire.asyncio.scheduler import DeadlineScheduler
from wire.asyncio.scheduler import Task as Task

# Tasks due this soon after a wake-up run in it (that early) rather than in a wake-up of their
# own: fewer wake-ups, and a client's audio and video often leave in one write.
WAKE_SLACK = 0.002
DEFAULT_LATE_AFTER = 0.010
"""A burst sent more than this after its due time counts as late (a third of a 30 fps frame)."""

_BUCKET = 0.0001  # 0.1 ms histogram resolution
_BUCKETS = 2000  # up to 200 ms; later ones land in the last bucket


class PacingStats:
    """A histogram of send-time errors (|actual - due|, seconds) and the late packets."""

    def __init__(self, late_after: float = DEFAULT_LATE_AFTER) -> None:
        self.late_after = late_after
        self._histogram: list[int] = []
        self.bursts = 0
        self.packets = 0
        self.late_packets = 0
        self.max_error = 0.0
        self.reset()

    def record(self, error: float, packets: int) -> None:
        """A burst of ``packets`` packets (over all clients) went out ``error`` seconds late
        (negative: early). The histogram keeps the size of the error either way."""
        self.bursts += 1
        self.packets += packets
        size = -error if error < 0 else error
        bucket = int(size / _BUCKET)
        self._histogram[bucket if bucket < _BUCKETS else _BUCKETS - 1] += 1
        if size > self.max_error:
            self.max_error = size
        if error > self.late_after:
            self.late_packets += packets

    def percentile(self, fraction: float) -> float:
        """The send-time error below which ``fraction`` of the bursts fall (bucket upper edge)."""
        if self.bursts == 0:
            return 0.0
        wanted = fraction * self.bursts
        seen = 0
        for index, count in enumerate(self._histogram):
            seen += count
            if seen >= wanted:
                return (index + 1) * _BUCKET
        return _BUCKETS * _BUCKET

    def reset(self) -> None:
        """Forget everything (e.g. after a warm-up)."""
        self._histogram = [0] * _BUCKETS
        self.bursts = 0
        self.packets = 0
        self.late_packets = 0
        self.max_error = 0.0


class Scheduler(DeadlineScheduler):
    """The fleet's scheduler: the shared one with the camera's wake slack."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop, slack=WAKE_SLACK)
