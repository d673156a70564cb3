"""One timer for the whole fleet, and how late it sends.

Every camera that has viewers is a :class:`Task` in one heap of due times, served from a single
:meth:`asyncio.loop.call_at` timer: a wake-up runs every task that is due, each returns when it is
next due. Cameras start at spread-out phases of their loops (real cameras are not synchronised),
so wake-ups rarely pile up. :class:`PacingStats` records, per burst, how far after its due time it
actually went out.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass
from typing import Protocol

# Tasks due this soon after a wake-up run in it (that early) rather than in a wake-up of their
# own: fewer wake-ups, and a client's audio and video often leave in one write.
WAKE_SLACK = 0.002
DEFAULT_LATE_AFTER = 0.010
"""A burst sent more than this after its due time counts as late (a third of a 30 fps frame)."""

_BUCKET = 0.0001  # 0.1 ms histogram resolution
_BUCKETS = 2000  # up to 200 ms; later ones land in the last bucket


class Task(Protocol):
    def run(self, due: float) -> float | None:
        """Do the work due at ``due`` (loop time); return when next due, or None to stop."""


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
        bucket = min(int(abs(error) / _BUCKET), _BUCKETS - 1)
        self._histogram[bucket] += 1
        if abs(error) > self.max_error:
            self.max_error = abs(error)
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


@dataclass(slots=True)
class _Entry:
    task: Task | None


class Scheduler:
    """A heap of due times served from one timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, _Entry]] = []  # tuples compare in C
        self._entries: dict[Task, _Entry] = {}
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = float("inf")

    def __len__(self) -> int:
        return len(self._entries)

    def schedule(self, task: Task, due: float) -> None:
        """Run ``task`` at ``due`` (loop time), replacing any earlier schedule of it."""
        self.cancel(task)
        self._push(task, due)
        self._arm()

    def cancel(self, task: Task) -> None:
        entry = self._entries.pop(task, None)
        if entry is not None:
            entry.task = None  # dropped when it reaches the top of the heap

    def close(self) -> None:
        """Stop the timer and forget every task."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._entries.clear()

    def _push(self, task: Task, due: float) -> None:
        entry = _Entry(task)
        self._entries[task] = entry
        heapq.heappush(self._heap, (due, next(self._order), entry))

    def _arm(self) -> None:
        while self._heap and self._heap[0][2].task is None:
            heapq.heappop(self._heap)
        if not self._heap:
            return
        due = self._heap[0][0]
        if due >= self._armed_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = due
        self._timer = self._loop.call_at(due, self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._armed_at = float("inf")
        heap = self._heap
        horizon = self._loop.time() + WAKE_SLACK
        while heap and heap[0][0] <= horizon:
            due, _, entry = heapq.heappop(heap)
            task = entry.task
            if task is None:
                continue
            del self._entries[task]
            next_due = task.run(due)
            if next_due is not None and task not in self._entries:
                self._push(task, next_due)
        self._arm()
