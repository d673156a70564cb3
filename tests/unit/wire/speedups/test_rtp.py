"""wire.rtp._packet against the pure-Python RtpPacket.parse: same packets, same errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.speedups.conftest import compiled
from wire.rtp import HeaderExtension, RtpError, RtpPacket
from wire.rtp.packet import _parse_py


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
