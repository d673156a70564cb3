"""One timer for many paced tasks: a heap of due times served from a single event-loop timer.

Each task says when it is next due; the scheduler sleeps until the earliest due time, runs every
task that is due, and goes back to sleep. A thousand cameras or encoders then cost one timer,
not a thousand. Two knobs shape the wake-ups:

- ``slack``: tasks due this soon after a wake-up run in it, a little early, instead of in a
  wake-up of their own (fewer wake-ups; a camera's audio and video often leave in one write);
- ``min_interval``: wake-ups are at least this far apart, so the cost per second stays near
  ``1 / min_interval`` wake-ups whatever the tasks' rates (a frame may then go out up to
  ``min_interval`` late).

A task's :meth:`~Task.run` gets the time it was due and returns when it is next due (``None``
to leave). A task that is due again within the same wake-up runs again in it::

    from wire.asyncio.scheduler import DeadlineScheduler

    class Ticker:
        def run(self, due: float) -> float | None:
            send_burst()
            return due + 0.033

    scheduler = DeadlineScheduler(asyncio.get_running_loop(), slack=0.002)
    scheduler.schedule(Ticker(), loop.time())
    ...
    scheduler.close()

The loop may be anything with ``time()`` and ``call_at(when, callback)``, such as a fake clock
in a test.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Task(Protocol):
    def run(self, due: float) -> float | None:
        """Do the work due at ``due`` (loop time); return when next due, or None to stop."""


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the scheduler needs of an event loop (``asyncio.AbstractEventLoop`` has it)."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object], /) -> TimerHandle: ...


@dataclass(slots=True)
class _Entry:
    task: Task | None
    """None once cancelled or rescheduled: dropped when it reaches the top of the heap."""


class DeadlineScheduler:
    """A heap of due times served from one :meth:`asyncio.loop.call_at` timer."""

    def __init__(self, loop: Clock, *, slack: float = 0.0, min_interval: float = 0.0) -> None:
        if slack < 0 or min_interval < 0:
            raise ValueError(f"slack {slack} and min_interval {min_interval} must be >= 0")
        self._loop = loop
        self.slack = slack
        self.min_interval = min_interval
        self._heap: list[tuple[float, int, _Entry]] = []  # tuples compare in C
        self._entries: dict[Task, _Entry] = {}
        self._order = itertools.count()
        self._timer: TimerHandle | None = None
        self._armed_at = float("inf")
        self._last_wake = float("-inf")

    def __len__(self) -> int:
        """How many tasks are scheduled."""
        return len(self._entries)

    def __contains__(self, task: object) -> bool:
        return task in self._entries

    @property
    def next_wake(self) -> float | None:
        """When the timer is armed to fire, or None when nothing is scheduled."""
        return None if self._timer is None else self._armed_at

    def schedule(self, task: Task, due: float) -> None:
        """Run ``task`` at ``due`` (loop time), replacing any earlier schedule of it."""
        self.cancel(task)
        self._push(task, due)
        self._arm()

    def cancel(self, task: Task) -> None:
        """Forget ``task``; a no-op when it is not scheduled."""
        entry = self._entries.pop(task, None)
        if entry is not None:
            entry.task = None

    def close(self) -> None:
        """Stop the timer and forget every task."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_at = float("inf")
        self._heap.clear()
        self._entries.clear()

    def _push(self, task: Task, due: float) -> None:
        entry = _Entry(task)
        self._entries[task] = entry
        heapq.heappush(self._heap, (due, next(self._order), entry))

    def _arm(self) -> None:
        heap = self._heap
        while heap and heap[0][2].task is None:
            heapq.heappop(heap)
        if not heap:
            return
        when = max(heap[0][0], self._last_wake + self.min_interval)
        if when >= self._armed_at:
            return  # the timer already fires soon enough
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = when
        self._timer = self._loop.call_at(when, self._wake)

    def _wake(self) -> None:
        self._timer = None
        self._armed_at = float("inf")
        now = self._last_wake = self._loop.time()
        horizon = now + self.slack
        heap, entries = self._heap, self._entries
        while heap and heap[0][0] <= horizon:
            due, _, entry = heapq.heappop(heap)
            task = entry.task
            if task is None:
                continue
            del entries[task]
            next_due = task.run(due)
            # run() may have rescheduled or cancelled the task itself; that stands.
            if next_due is not None and task not in entries:
                self._push(task, next_due)
        self._arm()
