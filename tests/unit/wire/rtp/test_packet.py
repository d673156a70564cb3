from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtp import HeaderExtension, RtpError, RtpPacket, patch_header

# V=2 P=0 X=0 CC=0, M=1 PT=96, seq 0x1234, ts 0xdeadbeef, SSRC 0x01020304, payload "abc"
SIMPLE = bytes.fromhex("80e01234deadbeef01020304") + b"abc"

# V=2 P=1 X=1 CC=2, M=0 PT=97, two CSRCs, a one-word extension, 2-byte payload, 3 bytes padding
FULL = (
    bytes.fromhex("b2611000000003e8cafebabe")
    + bytes.fromhex("0000000a0000000b")
    + bytes.fromhex("bede0001")
    + bytes.fromhex("10ff0000")
    + b"\x65\x88"
    + b"\x00\x00\x03"
)


def test_parse_simple_packet_fields():
    packet = RtpPacket.parse(SIMPLE)
    assert packet == RtpPacket(
        payload_type=96,
        sequence_number=0x1234,
        timestamp=0xDEADBEEF,
        ssrc=0x01020304,
        payload=b"abc",
        marker=True,
    )
    assert packet.serialize() == SIMPLE
    assert bytes(packet) == SIMPLE


def test_parse_csrc_extension_and_padding():
    packet = RtpPacket.parse(FULL)
    assert packet.payload_type == 97
    assert packet.marker is False
    assert packet.sequence_number == 0x1000
    assert packet.timestamp == 1000
    assert packet.ssrc == 0xCAFEBABE
    assert packet.csrc == [10, 11]
    assert packet.extension == HeaderExtension(0xBEDE, bytes.fromhex("10ff0000"))
    assert packet.payload == b"\x65\x88"
    assert packet.padding_size == 3
    assert packet.serialize() == FULL


def test_empty_payload_is_valid():
    packet = RtpPacket.parse(SIMPLE[:12])
    assert packet.payload == b""
    assert packet.serialize() == SIMPLE[:12]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SIMPLE[:7], "RTP packet: 7 bytes, shorter than the 12-byte fixed header"),
        (b"\x40" + SIMPLE[1:], "RTP packet: version 1, expected 2"),
        (FULL[:16], "RTP packet: 2 CSRCs need 20 header bytes, got 16"),
        (FULL[:22], "RTP packet: header extension truncated at offset 20"),
        (FULL[:26], "RTP packet: header extension of 4 bytes overruns the packet (2 bytes left)"),
        (
            b"\xa0" + SIMPLE[1:12],
            "RTP packet: padding count 0 is invalid with 0 bytes after the header",
        ),
        (
            b"\xa0" + SIMPLE[1:] + b"\x05",
            "RTP packet: padding count 5 is invalid with 4 bytes after the header",
        ),
        (
            b"\xa0" + SIMPLE[1:] + b"\x00",
            "RTP packet: padding count 0 is invalid with 4 bytes after the header",
        ),
    ],
)
def test_malformed_packets_raise_precise_errors(data, message):
    with pytest.raises(RtpError) as info:
        RtpPacket.parse(data)
    assert str(info.value) == message


def test_every_prefix_of_the_header_raises_and_longer_prefixes_carry_less_payload():
    for size in range(len(SIMPLE)):
        if size < 12:
            with pytest.raises(RtpError, match=f"^RTP packet: {size} bytes, shorter"):
                RtpPacket.parse(SIMPLE[:size])
        else:
            assert RtpPacket.parse(SIMPLE[:size]).payload == SIMPLE[12:size]
    for size in range(24):  # fixed header + CSRCs + extension
        with pytest.raises(RtpError):
            RtpPacket.parse(FULL[:size])


def test_trailing_bytes_are_payload():
    packet = RtpPacket.parse(SIMPLE + b"\x01\x02")
    assert packet.payload == b"abc\x01\x02"


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (RtpPacket(128, 0, 0, 0), "RTP packet: payload type 128 is not in 0..127"),
        (RtpPacket(96, 0, 0, 0, csrc=list(range(16))), "RTP packet: 16 CSRCs, at most 15"),
        (
            RtpPacket(96, 0, 0, 0, padding_size=256),
            "RTP packet: padding of 256 bytes is not in 0..255",
        ),
        (
            RtpPacket(96, 0, 0, 0, extension=HeaderExtension(1, b"abc")),
            "RTP packet: header extension data of 3 bytes is not a multiple of 4",
        ),
    ],
)
def test_serialize_rejects_fields_that_do_not_fit(packet, message):
    with pytest.raises(RtpError) as info:
        packet.serialize()
    assert str(info.value) == message


def test_serialize_rejects_out_of_range_header_field():
    with pytest.raises(RtpError, match="header field out of range"):
        RtpPacket(96, 70000, 0, 0).serialize()


def test_patch_header_rewrites_sequence_timestamp_and_ssrc_in_place():
    buf = bytearray(FULL)
    patch_header(buf, 0x1_0005, 0x1_0000_0007, 0x11223344)
    packet = RtpPacket.parse(bytes(buf))
    assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (5, 7, 0x11223344)
    assert buf[:2] == FULL[:2]
    assert buf[12:] == FULL[12:]


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    extension=st.none()
    | st.builds(
        HeaderExtension,
        st.integers(0, 0xFFFF),
        st.integers(0, 4).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    ),
    padding_size=st.integers(0, 255),
)


@settings(max_examples=300)
@given(packets)
def test_round_trip(packet):
    data = packet.serialize()
    assert RtpPacket.parse(data) == packet
    assert RtpPacket.parse(data).serialize() == data


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_any_bytes_parse_or_raise_rtp_error(data):
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert len(packet.serialize()) <= len(data)
