"""When a stream tries again after a connection attempt ended, as a sans-IO policy.

:class:`ReconnectPolicy` decides from each attempt's :class:`~wire.session.Termination` whether
to try again and when, with the shared :class:`wire.backoff.Backoff`, and owns the one timer of
the wait; the asyncio owner (:class:`~camsim.encoder.publisher.StreamPublisher`) arms it and
opens the next connection on :class:`RetryDue`. Failures that another attempt cannot change are
never retried: a refusal (NetStream.Publish.BadName, Denied...) and a certificate that does not
verify. A stream that reached media and then lost it starts the backoff over::

    policy = ReconnectPolicy(Backoff(1.0, 30.0), reconnect=True)
    policy.attempt_ended(now, termination, published=False)   # -> RetryScheduled
    policy.handle_timer(policy.get_timer())                   # -> RetryDue
"""

from __future__ import annotations

import ssl
from collections import deque
from dataclasses import dataclass

from wire.backoff import Backoff
from wire.session import Cause, Termination


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """The next attempt opens at ``at``, after ``delay`` seconds."""

    at: float
    delay: float


@dataclass(frozen=True, slots=True)
class RetryDue:
    """Open the next connection now."""


@dataclass(frozen=True, slots=True)
class GaveUp:
    """No more attempts: ``termination`` ended the last one."""

    termination: Termination


ReconnectEvent = RetryScheduled | RetryDue | GaveUp


def retryable(termination: Termination) -> bool:
    """False when trying again cannot change the answer: a refusal, or a certificate the
    server cannot make verify by itself."""
    if termination.cause is Cause.REFUSED:
        return False
    return not isinstance(termination.error, ssl.SSLCertVerificationError)


class ReconnectPolicy:
    """Attempts of one stream: without ``reconnect`` the first failure is the last.

    Attempt ``k`` after ``f`` failures in a row waits ``backoff.delay(f)``: a jittered
    ``min(cap, initial * 2**f)``, so a fleet that lost its server does not come back in
    lockstep; an attempt that published resets ``f`` to 0.
    """

    def __init__(self, backoff: Backoff, *, reconnect: bool = False) -> None:
        self.backoff = backoff
        self.reconnect = reconnect
        self.failures = 0
        """Attempts in a row that ended before publishing."""
        self.retries = 0
        """Attempts opened after the first."""
        self._retry_at: float | None = None
        self._stopped = False
        self._events: deque[ReconnectEvent] = deque()

    def attempt_ended(self, now: float, termination: Termination, *, published: bool) -> None:
        """An attempt ended for ``termination``; ``published`` when it got as far as media."""
        if self._stopped or termination.cause is Cause.LOCAL_CLOSE:
            self._stopped = True
            return
        if not self.reconnect or not retryable(termination):
            self._stopped = True
            self._events.append(GaveUp(termination))
            return
        self.failures = 0 if published else self.failures + 1
        delay = self.backoff.delay(self.failures)
        self._retry_at = now + delay
        self._events.append(RetryScheduled(self._retry_at, delay))

    def stop(self) -> None:
        """No more attempts; a wait in progress ends without :class:`RetryDue`."""
        self._stopped = True
        self._retry_at = None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def get_timer(self) -> float | None:
        return self._retry_at

    def handle_timer(self, now: float) -> None:
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self.retries += 1
            self._events.append(RetryDue())

    def next_event(self) -> ReconnectEvent | None:
        return self._events.popleft() if self._events else None
