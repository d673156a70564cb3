"""The compiled stamp reader (``wire.codec._stamp.stamp_wallclock``) against its reference,
``_stamp_wallclock_py`` (``find_stamp`` then ``Stamp.parse``).

Both get the same buffers and must give the same answer (the wallclock, or None) or raise the
same exception (type and text): FLV video tag bodies and Annex B access units carrying a stamp
that camsim wrote (H.264 and H.265, written or not, wallclocks up to 70 bits), the same with bytes
changed, cut short or repeated, arbitrary bytes with the UUID dropped in, and arbitrary bytes, as
``bytes`` and as ``bytearray``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import speedups
from wire.codec.nal import VideoCodec, join_annexb, join_length_prefixed
from wire.codec.stamp import (
    MAX_FRAME_INDEX,
    MAX_WALLCLOCK_US,
    SEI_PAYLOAD_SIZE,
    STAMP_UUID,
    Stamp,
    _stamp_wallclock_py,
    find_stamp,
    stamp_sei_nal,
    stamp_wallclock,
)

Reader = Callable[[Any], int | None]


@pytest.fixture(scope="module")
def fast() -> Reader:
    reader: Reader = compiled("wire.codec._stamp").stamp_wallclock
    return reader


def outcome(read: Reader, buf: Any) -> tuple[object, ...]:
    try:
        return ("returned", read(buf))
    except Exception as exc:  # any exception is part of the behaviour compared
        return ("raised", type(exc), str(exc))


def check(fast: Reader, buf: bytes) -> None:
    for form in (bytes(buf), bytearray(buf)):
        assert outcome(fast, form) == outcome(_stamp_wallclock_py, form), form.hex()


codecs = st.sampled_from([VideoCodec.H264, VideoCodec.H265])
wallclocks = st.one_of(
    st.just(0),
    st.integers(1, (1 << 63) - 1),
    st.integers(1 << 63, MAX_WALLCLOCK_US),
    st.sampled_from([1, 1 << 62, 1 << 63, (1 << 64) - 1, 1 << 64, MAX_WALLCLOCK_US]),
)


@st.composite
def stamped_bodies(draw: st.DrawFn) -> bytes:
    """An FLV AVC tag body or an Annex B access unit holding a stamp SEI between slices."""
    codec = draw(codecs)
    sei = stamp_sei_nal(codec, draw(st.integers(0, MAX_FRAME_INDEX)), draw(wallclocks))
    before = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=3))
    after = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=3))
    nalus = [*before, sei, *after]
    if draw(st.booleans()):
        return join_annexb(nalus)
    header = bytes([0x17 if draw(st.booleans()) else 0x27, 1, 0, 0, draw(st.integers(0, 255))])
    return header + join_length_prefixed(nalus)


@st.composite
def damaged(draw: st.DrawFn, bodies: st.SearchStrategy[bytes]) -> bytes:
    """A body with a few bytes of its stamp (or anywhere) changed, or cut short, or doubled."""
    body = bytearray(draw(bodies))
    anchor = find_stamp(body)
    for _ in range(draw(st.integers(1, 3))):
        if anchor >= 0 and draw(st.booleans()):
            index = anchor + draw(st.integers(0, SEI_PAYLOAD_SIZE - 1))
        else:
            index = draw(st.integers(0, len(body) - 1))
        body[index] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0xFF, body[index] ^ 0x80]))
    how = draw(st.sampled_from(["changed", "cut", "doubled"]))
    if how == "cut":
        return bytes(body[: draw(st.integers(0, len(body)))])
    if how == "doubled":
        return bytes(body) + draw(bodies)
    return bytes(body)


@st.composite
def with_uuid(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes with the UUID (or most of it) dropped in anywhere."""
    data = draw(st.binary(max_size=80))
    at = draw(st.integers(0, len(data)))
    uuid = STAMP_UUID[: draw(st.integers(1, len(STAMP_UUID)))]
    return data[:at] + uuid + data[at:]


@settings(max_examples=400, deadline=None)
@given(body=stamped_bodies())
def test_stamped_bodies(fast: Reader, body: bytes) -> None:
    check(fast, body)


@settings(max_examples=600, deadline=None)
@given(body=damaged(stamped_bodies()))
def test_damaged_bodies(fast: Reader, body: bytes) -> None:
    check(fast, body)


@settings(max_examples=400, deadline=None)
@given(data=st.one_of(with_uuid(), st.binary(max_size=200)))
def test_arbitrary_bytes(fast: Reader, data: bytes) -> None:
    check(fast, data)


@pytest.mark.parametrize(
    ("buf", "expected"),
    [
        (b"", None),
        (STAMP_UUID, None),
        (Stamp(7, 1_700_000_000_123_456).serialize(), 1_700_000_000_123_456),
        (Stamp(7, 0).serialize(), None),
        (Stamp(7, MAX_WALLCLOCK_US).serialize(), MAX_WALLCLOCK_US),
        (Stamp(7, 1 << 63).serialize(), 1 << 63),
        (Stamp(7, 5).serialize()[:-1], None),  # one byte short
        (b"\x05" * 40 + Stamp(0, 9).serialize(), 9),  # the UUID's first byte before it
        (Stamp(0, 9).serialize()[:16] + b"\x82" + Stamp(0, 9).serialize()[17:], None),
        (Stamp(0, 9).serialize()[:20] + b"\x00" + Stamp(0, 9).serialize()[21:], None),
        (Stamp(0, 9).serialize()[:-1] + b"\x09", None),  # last wallclock byte unmarked
        (STAMP_UUID + Stamp(0, 9).serialize(), None),  # the first UUID has no version byte
    ],
)
def test_targeted(fast: Reader, buf: bytes, expected: int | None) -> None:
    assert _stamp_wallclock_py(buf) == expected
    assert fast(buf) == expected
    assert fast(bytearray(buf)) == expected


def test_selection() -> None:
    expected = "compiled" if speedups.extension("wire.codec._stamp") else "pure"
    assert (stamp_wallclock is not _stamp_wallclock_py) == (expected == "compiled")
