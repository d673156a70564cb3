"""The compiled framing of interleaved RTP bursts against its pure-Python reference."""

from __future__ import annotations

import array
import struct
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsim.camera.plan import build_plan
from camsim.camera.sender import _frame_interleaved_py
from camsim.media.loader import load
from camsim.media.make import default_sample
from tests.unit.wire.speedups.conftest import compiled

Outcome = tuple[str, Any, Any]


@pytest.fixture(scope="module")
def send() -> ModuleType:
    return compiled("wire.rtp._send")


def outcome(function: Callable[..., bytes], *args: Any) -> Outcome:
    """What a call returns, or the type and message of what it raises."""
    try:
        return ("returned", function(*args), None)
    except Exception as exc:  # any exception is compared
        return ("raised", type(exc), str(exc))


def both(send: ModuleType, *args: Any) -> tuple[Outcome, Outcome]:
    return outcome(send.frame_interleaved, *args), outcome(_frame_interleaved_py, *args)


def _payload(data: bytes, kind: str) -> bytes | bytearray | memoryview:
    if kind == "bytearray":
        return bytearray(data)
    if kind == "view":  # as plans hold them: a view past a 12-byte header
        return memoryview(bytes(12) + data)[12:]
    return data


payloads = st.builds(
    _payload, st.binary(max_size=1500), st.sampled_from(["bytes", "bytearray", "view"])
)
bursts = st.lists(st.tuples(st.integers(0, 0xFFFF), payloads), max_size=12).map(tuple)
u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
# Numbers in and around every field's range, and things that are not numbers at all.
anything = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 0x100, 0x10000, 2**32, 2**63, 2**64, True]),
    st.floats(allow_nan=True),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=3),
)
odd_payloads = st.one_of(
    payloads,
    st.text(max_size=5),
    st.integers(),
    st.none(),
    st.builds(lambda n: array.array("H", range(n)), st.integers(0, 5)),
    st.builds(lambda n: memoryview(bytes(2 * n)).cast("H"), st.integers(0, 5)),
)
odd_items = st.one_of(
    st.tuples(anything, odd_payloads),
    st.tuples(u16, odd_payloads),
    st.lists(st.one_of(u16, payloads), max_size=3).map(tuple),
    st.lists(st.one_of(u16, payloads), min_size=2, max_size=2),  # a list, not a tuple
    anything,
)
odd_bursts = st.one_of(
    st.lists(st.one_of(st.tuples(u16, payloads), odd_items), max_size=5).map(tuple),
    st.lists(st.tuples(u16, payloads), max_size=5),  # a list of packets
    bursts.map(iter),
    anything,
)


@settings(max_examples=400)
@given(bursts, u8, u16, u32, u32)
def test_well_formed_bursts_frame_identically(
    send: ModuleType, packets: Any, channel: int, sequence: int, timestamp: int, ssrc: int
) -> None:
    ours, reference = both(send, packets, channel, sequence, timestamp, ssrc)
    assert ours == reference
    assert ours[0] == "returned"


@settings(max_examples=1000)
@given(
    odd_bursts,
    st.one_of(u8, anything),
    st.one_of(u16, anything),
    st.one_of(u32, anything),
    st.one_of(u32, anything),
)
def test_any_input_gives_the_same_result_or_error(
    send: ModuleType, packets: Any, channel: Any, sequence: Any, timestamp: Any, ssrc: Any
) -> None:
    if isinstance(packets, type(iter(()))):
        items = list(packets)  # an iterator is consumed once: give each its own
        ours = outcome(send.frame_interleaved, iter(items), channel, sequence, timestamp, ssrc)
        theirs = outcome(_frame_interleaved_py, iter(items), channel, sequence, timestamp, ssrc)
    else:
        ours, theirs = both(send, packets, channel, sequence, timestamp, ssrc)
    assert ours == theirs


@given(bursts, bursts, u8, u16, u32, u32)
def test_a_burst_split_anywhere_frames_as_its_parts(
    send: ModuleType, first: Any, second: Any, channel: int, sequence: int, ts: int, ssrc: int
) -> None:
    """Numbering runs on across a split: the parts framed in turn are the whole framed."""
    frame = send.frame_interleaved
    after = (sequence + len(first)) & 0xFFFF
    whole = frame(first + second, channel, sequence, ts, ssrc)
    assert whole == frame(first, channel, sequence, ts, ssrc) + frame(
        second, channel, after, ts, ssrc
    )


def test_the_sequence_number_wraps(send: ModuleType) -> None:
    packets = ((0x8060, b"a"), (0x80E0, b"b"))
    framed = send.frame_interleaved(packets, 0, 0xFFFF, 1, 2)
    assert framed == _frame_interleaved_py(packets, 0, 0xFFFF, 1, 2)
    assert struct.unpack_from("!H", framed, 6) == (0xFFFF,)
    assert struct.unpack_from("!H", framed, 17 + 6) == (0,)


def test_the_frame_header_and_rtp_header(send: ModuleType) -> None:
    framed = send.frame_interleaved(((0x80E0, b"xyz"),), 6, 0x1234, 0x89ABCDEF, 0x01020304)
    assert framed == bytes.fromhex("2406000f80e0123489abcdef01020304") + b"xyz"


def test_an_empty_burst_is_nothing(send: ModuleType) -> None:
    assert send.frame_interleaved((), 0, 0, 0, 0) == b"" == _frame_interleaved_py((), 0, 0, 0, 0)


@pytest.mark.parametrize("size", [0xFFFF - 12, 0xFFFF - 11])
def test_the_largest_frame(send: ModuleType, size: int) -> None:
    """The 16-bit length holds a 65523-byte payload and its header, not one byte more."""
    packets = ((0x8060, bytes(size)),)
    ours, reference = both(send, packets, 0, 0, 0, 0)
    assert ours == reference
    assert ours[0] == ("returned" if size == 0xFFFF - 12 else "raised")


def test_every_burst_of_the_default_sample(send: ModuleType) -> None:
    """The bursts a camera sends, framed by both with numbers near every wrap."""
    plan = build_plan(load(default_sample()))
    for index, burst in enumerate(plan.bursts):
        sequence = (0xFFFF - index) & 0xFFFF
        args = (burst.wire, 2 * burst.track, sequence, 0xFFFFFFFF - index, 0xDEADBEEF)
        assert send.frame_interleaved(*args) == _frame_interleaved_py(*args)
