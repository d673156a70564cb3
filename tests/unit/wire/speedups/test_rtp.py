"""wire.rtp._packet against the pure-Python RtpPacket.parse, and wire.rtsp._reader against the
pure-Python framing of interleaved packets: same packets, same frames, same errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire.rtp import HeaderExtension, RtpError, RtpPacket
from wire.rtp.packet import _parse_py
from wire.rtsp import reader as reader_module
from wire.rtsp.events import InterleavedFrameReceived
from wire.rtsp.message import InterleavedFrame
from wire.rtsp.reader import RtspReader, _split_frames_py


@pytest.fixture(scope="module")
def parse() -> Callable[[type[RtpPacket], bytes], RtpPacket]:
    return compiled("wire.rtp._packet").parse  # type: ignore[no-any-return]


def outcome(function: Callable[..., Any], *args: Any) -> tuple[str, object]:
    """What a call returned, or the type and message of what it raised."""
    try:
        return "returned", function(*args)
    except Exception as exc:  # any exception: its type and message are compared
        return "raised", (type(exc), str(exc))


def same(parse: Callable[[type[RtpPacket], bytes], RtpPacket], data: bytes) -> object:
    expected = outcome(_parse_py, RtpPacket, data)
    assert outcome(parse, RtpPacket, data) == expected
    return expected


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFF_FFFF),
    ssrc=st.integers(0, 0xFFFF_FFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFF_FFFF), max_size=15),
    extension=st.none()
    | st.builds(
        HeaderExtension,
        st.integers(0, 0xFFFF),
        st.binary(max_size=12).map(lambda b: b[: len(b) // 4 * 4]),
    ),
    padding_size=st.integers(0, 255),
)


@settings(max_examples=500)
@given(packets)
def test_well_formed_packets_parse_the_same(parse: Any, packet: RtpPacket) -> None:
    data = packet.serialize()
    assert same(parse, data) == ("returned", packet)


@settings(max_examples=1000)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_parse_or_fail_the_same(parse: Any, data: bytes) -> None:
    same(parse, data)


@settings(max_examples=300)
@given(st.binary(max_size=80), st.sampled_from([bytearray, memoryview]))
def test_arbitrary_buffers_parse_or_fail_the_same(
    parse: Any, data: bytes, kind: Callable[[bytes], Any]
) -> None:
    """Not bytes: the extension reads these through a buffer, bytes directly."""
    assert outcome(parse, RtpPacket, kind(data)) == outcome(_parse_py, RtpPacket, kind(data))


@settings(max_examples=1000)
@given(packets, st.data())
def test_damaged_packets_fail_the_same(parse: Any, packet: RtpPacket, data: st.DataObject) -> None:
    """Well-formed packets cut short or with one byte changed: every error path."""
    wire = bytearray(packet.serialize())
    if wire and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(wire) - 1))
        wire[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    same(parse, bytes(wire[:cut]))


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_other_buffers_parse_the_same(parse: Any, kind: Callable[[bytes], Any]) -> None:
    wire = RtpPacket(96, 7, 8, 9, b"xyz", True, [1], HeaderExtension(2, b"abcd"), 3).serialize()
    assert outcome(parse, RtpPacket, kind(wire)) == outcome(_parse_py, RtpPacket, kind(wire))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80" * 11, "RTP packet: 11 bytes, shorter than the 12-byte fixed header"),
        (bytes(12), "RTP packet: version 0, expected 2"),
        (b"\x82" + bytes(15), "RTP packet: 2 CSRCs need 20 header bytes, got 16"),
        (b"\x90" + bytes(13), "RTP packet: header extension truncated at offset 12"),
        (
            b"\x90" + bytes(11) + b"\x00\x00\x00\x02" + bytes(4),
            "RTP packet: header extension of 8 bytes overruns the packet (4 bytes left)",
        ),
        (
            b"\xa0" + bytes(11),
            "RTP packet: padding count 0 is invalid with 0 bytes after the header",
        ),
        (
            b"\xa0" + bytes(11) + b"\x01\x05",
            "RTP packet: padding count 5 is invalid with 2 bytes after the header",
        ),
    ],
)
def test_each_error_has_the_reference_message(parse: Any, data: bytes, message: str) -> None:
    with pytest.raises(RtpError) as error:
        parse(RtpPacket, data)
    assert str(error.value) == message
    assert same(parse, data) == ("raised", (RtpError, message))


def test_a_subclass_is_built_as_itself(parse: Any) -> None:
    class Stamped(RtpPacket):
        __slots__ = ()

    packet = parse(Stamped, RtpPacket(96, 1, 2, 3, b"p").serialize())
    assert type(packet) is Stamped
    assert packet == _parse_py(Stamped, RtpPacket(96, 1, 2, 3, b"p").serialize())


def test_the_payload_is_a_copy_of_its_bytes(parse: Any) -> None:
    wire = bytearray(RtpPacket(96, 1, 2, 3, b"abc").serialize())
    packet = parse(RtpPacket, wire)
    wire[-1] = 0
    assert packet.payload == b"abc"
    assert type(packet.payload) is bytes


# -- RTP and RTCP interleaved on the RTSP connection (wire.rtsp._reader) ---------------------------


@pytest.fixture(scope="module")
def split_frames() -> Callable[[bytearray, Callable[[int, bytes], object]], list[object]]:
    return compiled("wire.rtsp._reader").split_frames  # type: ignore[no-any-return]


def frame_bytes(channel: int, payload: bytes) -> bytes:
    return InterleavedFrame(channel, payload).serialize()


stream_parts = st.lists(
    st.builds(frame_bytes, st.integers(0, 255), st.binary(max_size=40))
    | st.sampled_from(
        [
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nContent-Length: 5\r\n\r\n$\x00\x00\x01",
            b"\r\n",
            b"$",
            b"\x01garbage",
        ]
    ),
    max_size=12,
).map(b"".join)


def as_tuple(channel: int, payload: bytes) -> tuple[str, int, bytes]:
    return ("frame", channel, payload)


# The two frozen dataclasses the extension builds without calling them, and any other callable.
KINDS = [InterleavedFrame, InterleavedFrameReceived, as_tuple]


@settings(max_examples=1000)
@given(stream_parts, st.binary(max_size=8), st.sampled_from(KINDS))
def test_split_frames_takes_the_same_frames(
    split_frames: Any, stream: bytes, tail: bytes, kind: Callable[[int, bytes], object]
) -> None:
    pure_buffer, fast_buffer = bytearray(stream + tail), bytearray(stream + tail)
    assert outcome(split_frames, fast_buffer, kind) == outcome(_split_frames_py, pure_buffer, kind)
    assert fast_buffer == pure_buffer


@pytest.mark.parametrize("kind", [InterleavedFrame, InterleavedFrameReceived])
def test_frames_built_in_c_are_the_dataclass_itself(split_frames: Any, kind: type[Any]) -> None:
    """Built without calling the class, yet equal, hashable, frozen and printed alike."""
    buffer = bytearray(frame_bytes(3, b"rtp") + b"$")
    (frame,) = split_frames(buffer, kind)
    assert type(frame) is kind
    assert frame == kind(3, b"rtp")
    assert hash(frame) == hash(kind(3, b"rtp"))
    assert repr(frame) == repr(kind(3, b"rtp"))
    assert type(frame.channel) is int
    assert type(frame.payload) is bytes
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.channel = 4
    assert buffer == b"$"


def test_a_failing_kind_fails_the_same(split_frames: Any) -> None:
    def refuse(channel: int, payload: bytes) -> None:
        raise ValueError(f"channel {channel}")

    stream = frame_bytes(5, b"x")
    pure_buffer, fast_buffer = bytearray(stream), bytearray(stream)
    assert outcome(split_frames, fast_buffer, refuse) == outcome(
        _split_frames_py, pure_buffer, refuse
    )
    assert outcome(split_frames, fast_buffer, refuse) == ("raised", (ValueError, "channel 5"))


def messages(reader: RtspReader, reads: list[bytes]) -> list[object]:
    """Every message, frame or error the reader gives for ``reads``, read after read."""
    out: list[object] = []
    for data in reads:
        reader.receive_data(data)
        for _ in range(100):  # a fatal error is raised again on every call
            result = outcome(reader.next_message)
            out.append(result)
            if result == ("returned", None):
                break
        out.append(("partial", reader.has_partial))
    return out


@settings(max_examples=300, deadline=None)
@given(stream_parts, st.data())
def test_a_reader_splitting_in_c_reads_any_cut_of_a_stream_alike(
    split_frames: Any, stream: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reads = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader_module, "split_frames", _split_frames_py)
        expected = messages(RtspReader(), reads)
        patch.setattr(reader_module, "split_frames", split_frames)
        assert messages(RtspReader(), reads) == expected


def messages_in_runs(reader: RtspReader, reads: list[bytes]) -> list[object]:
    """:func:`messages`, with every run of frames taken at once by ``next_frames``, as a
    connection takes them."""
    out: list[object] = []
    for data in reads:
        reader.receive_data(data)
        read: list[object] = []
        while len(read) < 100:  # counted as messages() counts its calls
            frames = reader.next_frames(InterleavedFrame)
            if frames:
                read += [("returned", frame) for frame in frames]
                continue
            read.append(outcome(reader.next_message))
            if read[-1] == ("returned", None):
                break
        out += [*read[:100], ("partial", reader.has_partial)]
    return out


@settings(max_examples=300, deadline=None)
@given(stream_parts, st.data(), st.booleans())
def test_frames_taken_in_runs_are_the_frames_read_one_by_one(
    split_frames: Any, stream: bytes, data: st.DataObject, fast: bool
) -> None:
    """Whatever the cut and whatever comes between frames (a response, its body, a malformed
    head), runs of frames leave the reader exactly where reading them one by one does."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reads = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader_module, "split_frames", _split_frames_py)
        expected = messages(RtspReader(), reads)
        patch.setattr(reader_module, "split_frames", split_frames if fast else _split_frames_py)
        assert messages_in_runs(RtspReader(), reads) == expected
