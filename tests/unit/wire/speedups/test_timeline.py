"""The compiled timestamp unwrapper and RTP timeline (``wire.rtp._timeline``) against
:class:`PyTimestampUnwrapper` and :class:`PyRtpTimeline`.

Both run the same program: a constructor (any clock rate and step, bad ones included), then
announcements, first packets, timestamps and resets, with values in order, wrapping, jumping
back and forth by any amount, negative or far beyond 32 bits, and of the wrong type. After every
step the return value or the exception (type and text) must be the same, and so must the public
attributes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import speedups
from wire.rtp import sequence, timeline
from wire.rtp.sequence import PyTimestampUnwrapper
from wire.rtp.timeline import MAX_STEP_SECONDS, PyRtpTimeline

ATTRIBUTES = ("clock_rate", "max_step", "jumps", "announcement_ignored")


@pytest.fixture(scope="module")
def ext() -> Any:
    return compiled("wire.rtp._timeline")


def outcome(call: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return ("returned", call(*args, **kwargs))
    except Exception as exc:  # every exception: the point is that both raise the same
        return ("raised", (type(exc), str(exc)))


def state(line: Any) -> tuple[Any, ...]:
    return tuple((name, getattr(line, name)) for name in ATTRIBUTES)


# Timestamps as cameras send them (near a previous one, wrapping), and as they must not (far
# jumps, negatives, numbers past 32 bits); an odd one of the wrong type now and then.
near = st.one_of(st.sampled_from([0, 1, -1, 2, 3000]), st.integers(-3 * 90_000, 3 * 90_000))
anything = st.one_of(
    st.integers(0, 0xFFFF_FFFF),
    st.integers(-(1 << 70), 1 << 70),
    st.sampled_from([0, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, -1, True]),
)
odd = st.sampled_from([1.5, None, "0", b"\x00"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("ticks"), st.one_of(st.tuples(st.just("near"), near), anything, odd)),
        st.tuples(st.just("first"), st.integers(-70_000, 140_000), anything),
        st.tuples(
            st.just("announce"),
            st.one_of(anything, odd),
            st.one_of(st.none(), st.integers(-70_000, 140_000), odd),
        ),
        st.tuples(st.just("reset")),
    ),
    max_size=40,
)


def timestamp(value: Any, previous: int) -> Any:
    if isinstance(value, tuple):  # ("near", delta): the previous timestamp moved a little
        return (previous + value[1]) & 0xFFFF_FFFF
    return value


@settings(max_examples=400, deadline=None)
@example(  # a step of one tick, then a clock jump: the jump is taken out by that last step
    clock_rate=90_000,
    max_step=MAX_STEP_SECONDS,
    program=[
        ("first", 0, 0x1234_5678),
        ("ticks", ("near", 0)),
        ("ticks", ("near", 3000)),
        ("ticks", ("near", 1)),
        ("ticks", ("near", 0x4000_0000)),
        ("ticks", ("near", 3000)),
    ],
)
@example(  # an RTP-Info the first packet agrees with, then one that came too late
    clock_rate=90_000,
    max_step=MAX_STEP_SECONDS,
    program=[
        ("announce", 1_000_000, 7),
        ("first", 7, 1_045_000),
        ("ticks", 1_045_000),
        ("announce", 2_000_000, 8),
        ("ticks", ("near", 3000)),
    ],
)
@given(
    clock_rate=st.one_of(
        st.sampled_from([90_000, 48_000, 44_100, 8_000, 1]),
        st.integers(-5, 1 << 40),
        st.sampled_from([0.5, 90_000.0]),
    ),
    max_step=st.one_of(
        st.just(MAX_STEP_SECONDS),
        st.floats(-5, 1e6, allow_nan=False),
        st.integers(-3, 100),
        st.sampled_from([0, 1e-5]),
    ),
    program=steps,
)
def test_timeline_is_its_reference(ext: Any, clock_rate: Any, max_step: Any, program: Any) -> None:
    made = outcome(ext.RtpTimeline, clock_rate, max_step=max_step)
    expected = outcome(PyRtpTimeline, clock_rate, max_step=max_step)
    assert (made[0], made[1] if made[0] == "raised" else None) == (
        expected[0],
        expected[1] if expected[0] == "raised" else None,
    )
    if made[0] == "raised":
        return
    line, reference = made[1], expected[1]
    assert state(line) == state(reference)
    previous = 0x1234_5678
    for step in program:
        kind, *args = step
        if kind == "ticks":
            value = timestamp(args[0], previous)
            got, want = outcome(line.ticks, value), outcome(reference.ticks, value)
            if isinstance(value, int):
                previous = value & 0xFFFF_FFFF
        elif kind == "first":
            got = outcome(line.first_packet, args[0], args[1])
            want = outcome(reference.first_packet, args[0], args[1])
        elif kind == "announce":
            got = outcome(line.announce, args[0], args[1])
            want = outcome(reference.announce, args[0], args[1])
        else:
            got, want = outcome(line.reset), outcome(reference.reset)
        assert got == want, step
        assert state(line) == state(reference), step


def test_the_default_step_is_the_references(ext: Any) -> None:
    assert ext.RtpTimeline(90_000).max_step == PyRtpTimeline(90_000).max_step == 900_000
    assert ext.RtpTimeline(48_000, max_step=1).max_step == 48_000


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(anything, st.tuples(st.just("near"), near), st.just("reset"), odd)))
def test_unwrapper_is_its_reference(ext: Any, program: list[Any]) -> None:
    unwrapper, reference = ext.TimestampUnwrapper(), PyTimestampUnwrapper()
    previous = 0
    for step in program:
        if step == "reset":
            unwrapper.reset()
            reference.reset()
            continue
        value = timestamp(step, previous)
        assert outcome(unwrapper.unwrap, value) == outcome(reference.unwrap, value), step
        if isinstance(value, int):
            previous = value & 0xFFFF_FFFF


def test_the_pure_timeline_unwraps_with_the_pure_unwrapper() -> None:
    assert isinstance(PyRtpTimeline(90_000)._unwrapper, PyTimestampUnwrapper)


def test_the_exported_classes_follow_the_switch() -> None:
    if speedups.disabled():
        assert timeline.RtpTimeline is PyRtpTimeline
        assert sequence.TimestampUnwrapper is PyTimestampUnwrapper
    else:
        ext = compiled("wire.rtp._timeline")
        assert timeline.RtpTimeline is ext.RtpTimeline
        assert sequence.TimestampUnwrapper is ext.TimestampUnwrapper
