"""A fake event loop clock: ``time()``, ``call_at()``/``call_later()`` and ``advance()``.

Time moves only when a test says so, and every callback due by then runs in order, each seeing
``time()`` at its own due time, as on an idle event loop. No sockets, no sleeping.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class FakeHandle:
    when_: float
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True

    def when(self) -> float:
        return self.when_


@dataclass
class FakeLoop:
    now: float = 0.0
    late: float = 0.0
    """How late every callback runs after its due time (an event loop under load)."""
    _queue: list[tuple[float, int, FakeHandle]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    armed: list[FakeHandle] = field(default_factory=list)
    """Every handle ever returned, in order."""

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> FakeHandle:
        handle = FakeHandle(when, callback)
        heapq.heappush(self._queue, (when, next(self._order), handle))
        self.armed.append(handle)
        return handle

    def call_later(self, delay: float, callback: Callable[[], object], /) -> FakeHandle:
        return self.call_at(self.now + delay, callback)

    def pending(self) -> list[FakeHandle]:
        return [h for _, _, h in sorted(self._queue) if not h.cancelled]

    def advance(self, to: float) -> None:
        """Run every callback due by ``to`` in due order, then leave the clock at ``to``."""
        while self._queue and self._queue[0][0] <= to:
            when, _, handle = heapq.heappop(self._queue)
            if handle.cancelled:
                continue
            self.now = max(self.now, when + self.late)
            handle.callback()
        self.now = max(self.now, to)
