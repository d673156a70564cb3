"""The one Backoff: capped, exponential, jittered, reproducible with a seeded generator."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wire.backoff import Backoff, Jitter


def test_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=1.0, cap=8.0, jitter=Jitter.NONE)
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff.attempt == 6
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_equal_jitter_stays_in_the_upper_half() -> None:
    assert Backoff(initial=1.0, cap=8.0, random=lambda: 0.0).delay(2) == 2.0
    assert Backoff(initial=1.0, cap=8.0, random=lambda: 0.999).delay(2) == pytest.approx(3.998)


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    backoff = Backoff(initial=1.0, cap=8.0, jitter=Jitter.FULL, random=lambda: 0.0)
    assert backoff.delay(3) == 0.0
    backoff.random = lambda: 0.5
    assert backoff.delay(3) == 4.0


def test_a_seeded_generator_gives_the_same_delays() -> None:
    def delays(seed: int) -> list[float]:
        backoff = Backoff(initial=0.5, cap=30.0, random=random.Random(seed).random)
        return [backoff.next_delay() for _ in range(8)]

    assert delays(7) == delays(7)
    assert delays(7) != delays(8)


def test_the_factor_is_configurable_and_huge_attempts_wait_the_cap() -> None:
    backoff = Backoff(initial=0.1, cap=10.0, factor=3.0, jitter=Jitter.NONE)
    assert [round(backoff.delay(k), 6) for k in range(4)] == [0.1, 0.3, 0.9, 2.7]
    assert backoff.delay(10**9) == 10.0  # no overflow, however long the outage
    assert backoff.delay(-1) == 0.1


def test_a_cap_under_the_initial_delay_caps_from_the_first_attempt() -> None:
    assert Backoff(initial=1.0, cap=0.5, jitter=Jitter.NONE).delay(0) == 0.5


@pytest.mark.parametrize(
    "options",
    [{"initial": 0.0}, {"initial": -1.0}, {"cap": 0.0}, {"factor": 0.5}],
)
def test_nonsense_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**options)  # type: ignore[arg-type]


@given(
    st.floats(min_value=0.001, max_value=100.0),
    st.floats(min_value=0.001, max_value=1000.0),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(list(Jitter)),
    st.floats(min_value=0.0, max_value=0.999999),
)
def test_every_delay_is_within_zero_and_the_cap(
    initial: float, cap: float, attempt: int, jitter: Jitter, draw: float
) -> None:
    delay = Backoff(initial=initial, cap=cap, jitter=jitter, random=lambda: draw).delay(attempt)
    assert 0.0 <= delay <= min(cap, initial * 2.0 ** min(attempt, 64)) * (1 + 1e-12)
