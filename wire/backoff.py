"""Capped exponential backoff with jitter: how long to wait before the next connection attempt.

Pure and sans-IO: it returns delays and never sleeps, so a session object can turn a delay into
its next deadline (``get_timer()``) and a test can check every delay without a clock. Jitter
keeps a fleet that lost its server at the same moment from coming back in lockstep (see "Exponential
Backoff And Jitter", AWS Architecture Blog, 2015)::

    from wire.backoff import Backoff, Jitter

    backoff = Backoff(initial=1.0, cap=30.0, jitter=Jitter.EQUAL, random=random.Random(7).random)
    deadline = now + backoff.next_delay()   # 1st failure: in [0.5, 1.0]
    deadline = now + backoff.next_delay()   # 2nd failure: in [1.0, 2.0]
    backoff.reset()                         # it worked: the next failure waits ``initial`` again
"""

from __future__ import annotations

import enum
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_EXPONENT = 64
"""Attempts past this many doublings all wait the cap (and ``factor ** attempt`` never
overflows)."""


class Jitter(enum.Enum):
    """Where in ``[0, ceiling]`` a delay falls."""

    FULL = "full"
    """Anywhere in ``[0, ceiling]``: the widest spread."""
    EQUAL = "equal"
    """In the upper half, ``[ceiling / 2, ceiling]``: spread, yet never much less than the
    ceiling."""
    NONE = "none"
    """Exactly the ceiling, for tests and for callers that spread attempts themselves."""


@dataclass(slots=True)
class Backoff:
    """Attempt ``k`` (from 0) waits a jittered delay under ``min(cap, initial * factor ** k)``.

    ``random`` returns a float in ``[0, 1)``; pass a seeded ``random.Random(...).random`` for
    reproducible runs. :meth:`delay` is pure; :meth:`next_delay` counts the attempts itself.
    """

    initial: float = 1.0
    cap: float = 30.0
    factor: float = 2.0
    jitter: Jitter = Jitter.EQUAL
    random: Callable[[], float] = field(default=_random.random, repr=False)
    attempt: int = 0
    """Failures since the last :meth:`reset`: the exponent of the next :meth:`next_delay`."""

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap <= 0 or self.factor < 1:
            raise ValueError(
                f"backoff needs initial > 0, cap > 0 and factor >= 1, not initial={self.initial}, "
                f"cap={self.cap}, factor={self.factor}"
            )

    def ceiling(self, attempt: int) -> float:
        """The longest wait before attempt ``attempt`` (0 for the first retry)."""
        return min(self.cap, self.initial * self.factor ** min(max(attempt, 0), MAX_EXPONENT))

    def delay(self, attempt: int) -> float:
        """The jittered wait before attempt ``attempt``; does not count it."""
        ceiling = self.ceiling(attempt)
        if self.jitter is Jitter.FULL:
            return ceiling * self.random()
        if self.jitter is Jitter.EQUAL:
            return ceiling / 2 + ceiling / 2 * self.random()
        return ceiling

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one failure."""
        delay = self.delay(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """An attempt succeeded: the next failure waits ``initial`` (jittered) again."""
        self.attempt = 0
