"""The reconnect policy with time as an argument: the seeded backoff sequence, its reset after a
publish, what is never retried, and stopping during a wait."""

from __future__ import annotations

import random
import ssl

import pytest

from camsim.encoder.reconnect import (
    GaveUp,
    ReconnectEvent,
    ReconnectPolicy,
    RetryDue,
    RetryScheduled,
    retryable,
)
from wire.backoff import Backoff
from wire.session import Termination

DROPPED = Termination.peer_closed("server closed the connection during streaming")
TIMED_OUT = Termination.timed_out("RTMP handshake")


def events(policy: ReconnectPolicy) -> list[ReconnectEvent]:
    return list(iter(policy.next_event, None))


def seeded(seed: int = 7) -> Backoff:
    return Backoff(initial=1.0, cap=8.0, random=random.Random(seed).random)


def test_failures_in_a_row_wait_the_seeded_capped_exponential_sequence() -> None:
    policy = ReconnectPolicy(seeded(), reconnect=True)
    expected = seeded()  # the same draws, in the same order
    now, waits = 0.0, []
    for _ in range(6):
        policy.attempt_ended(now, TIMED_OUT, published=False)
        (scheduled,) = events(policy)
        assert isinstance(scheduled, RetryScheduled)
        assert policy.get_timer() == scheduled.at == now + scheduled.delay
        waits.append(scheduled.delay)
        policy.handle_timer(scheduled.at - 0.001)
        assert events(policy) == []
        policy.handle_timer(scheduled.at)
        assert events(policy) == [RetryDue()]
        assert policy.get_timer() is None
        now = scheduled.at + 0.5  # the next attempt fails half a second later
    # Failure f waits a draw in [c/2, c] with c = min(8, 2**f): 2, 4, 8, 8, 8, 8 s ceilings.
    assert waits == [expected.delay(f) for f in range(1, 7)]
    ceilings = [2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert policy.retries == 6


def test_an_attempt_that_published_starts_the_backoff_over() -> None:
    policy = ReconnectPolicy(Backoff(1.0, 30.0, random=lambda: 1.0), reconnect=True)
    for _ in range(3):
        policy.attempt_ended(0.0, TIMED_OUT, published=False)
    assert policy.failures == 3
    events(policy)
    policy.attempt_ended(50.0, DROPPED, published=True)
    assert policy.failures == 0
    assert events(policy) == [RetryScheduled(51.0, 1.0)]  # initial, not 2**4


@pytest.mark.parametrize(
    "termination",
    [
        Termination.refused("NetStream.Publish.BadName", "publish rejected: ..."),
        Termination.protocol_error(ssl.SSLCertVerificationError("certificate verify failed")),
    ],
)
def test_refusals_and_rejected_certificates_are_never_retried(termination: Termination) -> None:
    assert not retryable(termination)
    policy = ReconnectPolicy(seeded(), reconnect=True)
    policy.attempt_ended(1.0, termination, published=False)
    assert events(policy) == [GaveUp(termination)]
    assert policy.get_timer() is None
    assert policy.stopped


def test_without_reconnect_the_first_failure_is_the_last() -> None:
    policy = ReconnectPolicy(seeded())
    policy.attempt_ended(1.0, DROPPED, published=True)
    assert events(policy) == [GaveUp(DROPPED)]
    assert policy.get_timer() is None


def test_stop_during_the_wait_cancels_the_retry() -> None:
    policy = ReconnectPolicy(seeded(), reconnect=True)
    policy.attempt_ended(1.0, DROPPED, published=False)
    events(policy)
    policy.stop()
    assert policy.get_timer() is None
    policy.handle_timer(100.0)
    assert events(policy) == []
    policy.attempt_ended(101.0, DROPPED, published=False)
    assert events(policy) == []


def test_a_local_close_ends_the_attempts_quietly() -> None:
    policy = ReconnectPolicy(seeded(), reconnect=True)
    policy.attempt_ended(1.0, Termination.local_close(), published=True)
    assert events(policy) == []
    assert policy.stopped
    assert policy.get_timer() is None
