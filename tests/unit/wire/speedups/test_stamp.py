"""The compiled stamp readers (``wire.codec._stamp``) against their references.

``stamp_wallclock`` against ``_stamp_wallclock_py`` (``find_stamp`` then ``Stamp.parse``): both get
the same buffers and must give the same answer (the wallclock, or None) or raise the same
exception (type and text): FLV video tag bodies and Annex B access units carrying a stamp that
camsim wrote (H.264 and H.265, written or not, wallclocks up to 70 bits), the same with bytes
changed, cut short or repeated, arbitrary bytes with the UUID dropped in, and arbitrary bytes, as
``bytes`` and as ``bytearray``.

``read_stamp_nalus`` against ``_read_stamp_nalus_py``: the same access units split into NAL units
(stamps damaged the same ways, SEI and other NAL unit types, stamps in a NAL unit that is not an
SEI, NAL units as ``bytes``, ``bytearray`` or ``memoryview``, given as a tuple or an iterator),
read as H.264 and as H.265; the stamp returned must be equal and a ``Stamp``, and an exception
the same type and text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire import speedups
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec, join_annexb, join_length_prefixed
from wire.codec.stamp import (
    MAX_FRAME_INDEX,
    MAX_WALLCLOCK_US,
    SEI_PAYLOAD_SIZE,
    STAMP_UUID,
    Stamp,
    _read_stamp_nalus_py,
    _stamp_wallclock_py,
    find_stamp,
    read_stamp_nalus,
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
    assert (read_stamp_nalus is not _read_stamp_nalus_py) == (expected == "compiled")


NalReader = Callable[[VideoCodec, Any], Stamp | None]


@pytest.fixture(scope="module")
def fast_nalus() -> NalReader:
    reader: NalReader = compiled("wire.codec._stamp").read_stamp_nalus
    return reader


def nal_outcome(read: NalReader, codec: VideoCodec, nalus: list[Any], as_iterator: bool) -> object:
    try:
        stamp = read(codec, iter(nalus) if as_iterator else tuple(nalus))
    except Exception as exc:  # any exception is part of the behaviour compared
        return ("raised", type(exc), str(exc))
    return ("returned", type(stamp), stamp)


SEI_HEADERS = {
    VideoCodec.H264: [b"\x06", b"\x26", b"\x86"],  # type 6 whatever nal_ref_idc and F
    VideoCodec.H265: [b"\x4e\x01", b"\x50\x01", b"\x4f\x01", b"\xce\x01"],  # 39, 40, odd, F
}


@st.composite
def nal_lists(draw: st.DrawFn) -> tuple[VideoCodec, list[Any]]:
    """NAL units around stamps, damaged or whole, under SEI headers of either codec or none."""
    codec = draw(codecs)
    nalus: list[Any] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["stamp", "damaged", "reheaded", "headed", "other", "short"]))
        if kind in ("stamp", "damaged", "reheaded"):
            written = draw(codecs)
            sei = stamp_sei_nal(written, draw(st.integers(0, MAX_FRAME_INDEX)), draw(wallclocks))
            if kind == "reheaded":  # another SEI header (suffix SEI, other bits) on the message
                header = draw(st.sampled_from(SEI_HEADERS[written]))
                sei = header + sei[2 if written is VideoCodec.H265 else 1 :]
            nal = draw(damaged(st.just(sei))) if kind == "damaged" else sei
        elif kind == "headed":  # an SEI header of either codec before anything, the UUID too
            header = draw(st.sampled_from(SEI_HEADERS[draw(codecs)]))
            nal = header + draw(st.one_of(with_uuid(), st.binary(max_size=60)))
        elif kind == "other":
            nal = draw(st.binary(min_size=1, max_size=60))
        else:
            nal = draw(st.binary(max_size=1))
        form = draw(st.sampled_from([bytes, bytes, bytes, bytearray, memoryview]))
        nalus.append(form(nal))
    return codec, nalus


@settings(max_examples=800, deadline=None)
@given(case=nal_lists(), as_iterator=st.booleans())
def test_read_stamp_nalus(
    fast_nalus: NalReader, case: tuple[VideoCodec, list[Any]], as_iterator: bool
) -> None:
    codec, nalus = case
    expected = nal_outcome(_read_stamp_nalus_py, codec, nalus, as_iterator)
    assert nal_outcome(fast_nalus, codec, nalus, as_iterator) == expected


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_read_stamp_nalus_targeted(fast_nalus: NalReader, codec: VideoCodec) -> None:
    stamp = stamp_sei_nal(codec, 42, MAX_WALLCLOCK_US)
    other = VideoCodec.H265 if codec is VideoCodec.H264 else VideoCodec.H264
    slice_nal = b"\x65" + bytes(40) if codec is VideoCodec.H264 else b"\x26\x01" + bytes(40)
    suffix = SEI_HEADERS[codec][1]
    unmarked = bytearray(stamp)
    unmarked[-2] &= 0x7F  # the last wallclock byte loses its marker bit
    cases: list[tuple[list[Any], object]] = [
        ([], None),
        ([slice_nal], None),
        ([slice_nal, stamp], Stamp(42, MAX_WALLCLOCK_US)),
        ([stamp_sei_nal(other, 42, 9)], None),  # the other codec's SEI header
        ([suffix + stamp[len(suffix) :]], Stamp(42, MAX_WALLCLOCK_US)),  # H.265: a suffix SEI
        ([stamp[:-2], stamp], Stamp(42, MAX_WALLCLOCK_US)),  # the first has no room for it
        ([bytes(unmarked)], CodecError),
        ([memoryview(stamp)], AttributeError),  # find_stamp needs bytes.find
    ]
    for nalus, expected in cases:
        for read in (_read_stamp_nalus_py, fast_nalus):
            if isinstance(expected, type):
                with pytest.raises(expected):
                    read(codec, nalus)
            else:
                assert read(codec, nalus) == expected
