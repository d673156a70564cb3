from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.payload.streams import receive_all, rtp
from wire.payload import (
    AacDepacketizer,
    AacUnit,
    AudioAccessUnit,
    PacketLoss,
    PayloadDiscarded,
    PayloadError,
    PayloadPacket,
    packetize_aac,
    parse_aac_payload,
)
from wire.rtp import RtpPacket

A = bytes(range(1, 101))
B = bytes(range(50, 250))


def test_several_units_share_a_packet():
    [packet] = packetize_aac([A, B], 1400)
    assert packet == PayloadPacket(b"\x00\x20" + b"\x03\x20" + b"\x06\x40" + A + B, True, 0)
    assert parse_aac_payload(packet.payload) == [AacUnit(100, 0, A), AacUnit(200, 1, B)]


def test_units_that_do_not_fit_together_start_a_new_packet():
    units = [bytes([i]) * 300 for i in range(1, 4)]
    packets = packetize_aac(units, 700)
    assert [(len(p.payload), p.marker, p.unit_index) for p in packets] == [
        (2 + 2 * 2 + 600, True, 0),
        (2 + 2 + 300, True, 2),
    ]


def test_unit_larger_than_a_packet_is_fragmented_with_the_marker_on_the_last():
    unit = bytes(i % 256 for i in range(1000))
    packets = packetize_aac([A, unit, B], 404)
    assert [(len(p.payload), p.marker, p.unit_index) for p in packets] == [
        (104, True, 0),
        (404, False, 1),
        (404, False, 1),
        (204, True, 1),
        (204, True, 2),
    ]
    assert packets[1].payload[:4] == b"\x00\x10" + (1000 << 3).to_bytes(2, "big")
    assert b"".join(p.payload[4:] for p in packets[1:4]) == unit


@pytest.mark.parametrize(
    ("units", "size", "message"),
    [
        ([b"x" * 8192], 1400, "AAC: access unit of 8192 bytes, AU-size allows 1..8191"),
        ([b""], 1400, "AAC: access unit of 0 bytes, AU-size allows 1..8191"),
        ([A], 4, "AAC: max payload size 4 is too small"),
    ],
)
def test_packetizer_errors(units, size, message):
    with pytest.raises(PayloadError) as info:
        packetize_aac(units, size)
    assert str(info.value) == message


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=8191), min_size=1, max_size=6),
    st.integers(100, 1500),
)
def test_packetize_depacketize_round_trip(units, mtu):
    packets = packetize_aac(units, mtu)
    assert all(len(p.payload) <= mtu for p in packets)
    rtp_packets = [
        RtpPacket(97, i, 5000 + p.unit_index * 1024, 1, p.payload, p.marker)
        for i, p in enumerate(packets)
    ]
    events = receive_all(AacDepacketizer(), rtp_packets)
    assert events == [AudioAccessUnit(u, 5000 + i * 1024) for i, u in enumerate(units)]


def test_index_deltas_place_unit_timestamps():
    # sizes 2, 3, 1; AU-Index 5, then deltas 0 and 2: indices 5, 6, 9
    headers = (2 << 3 | 5, 3 << 3 | 0, 1 << 3 | 2)
    payload = b"\x00\x30" + b"".join(h.to_bytes(2, "big") for h in headers) + b"aabbbc"
    assert parse_aac_payload(payload) == [
        AacUnit(2, 5, b"aa"),
        AacUnit(3, 6, b"bbb"),
        AacUnit(1, 9, b"c"),
    ]
    events = AacDepacketizer().receive(RtpPacket(97, 1, 0xFFFFF000, 1, payload, True))
    assert events == [
        AudioAccessUnit(b"aa", 0xFFFFF000),
        AudioAccessUnit(b"bbb", 0xFFFFF400),
        AudioAccessUnit(b"c", 0x00000000),  # 4 frames later, across the wrap
    ]


def test_headers_that_are_not_byte_aligned():
    # size 13 bits + index 2 bits, then 13 + 2: 30 bits of headers padded to 4 bytes
    bits = (3 << 2 | 1) << 15 | (2 << 2 | 0)
    payload = (30).to_bytes(2, "big") + (bits << 2).to_bytes(4, "big") + b"xyzuv"
    units = parse_aac_payload(payload, index_length=2, index_delta_length=2)
    assert units == [AacUnit(3, 1, b"xyz"), AacUnit(2, 2, b"uv")]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00", "AAC payload: 1 bytes, too short for AU-headers-length"),
        (b"\x00\x20\x00\x08", "AAC payload: AU headers of 32 bits overrun the 4-byte payload"),
        (b"\x00\x11\x00\x08\x00", "AAC payload: AU-headers-length 17 is not 16 + k*16 bits"),
        (b"\x00\x00", "AAC payload: AU-headers-length 0 is not 16 + k*16 bits"),
        (
            b"\x00\x20\x00\x10\x00\x18ab",
            "AAC payload: access unit 1 of 3 bytes overruns the payload (0 bytes left)",
        ),
        (b"\x00\x10\x00\x08ab", "AAC payload: 1 bytes after the last access unit"),
        (b"\x00\x10\x00\x00", "AAC payload: access unit 0 has AU-size 0"),
    ],
)
def test_parse_errors(payload, message):
    with pytest.raises(PayloadError) as info:
        parse_aac_payload(payload)
    assert str(info.value) == message


def fragments(unit: bytes, room: int) -> list[PayloadPacket]:
    return packetize_aac([unit], room + 4)


def test_lost_fragment_discards_the_unit_and_reports_the_loss():
    unit = bytes(range(256)) * 4
    packets = rtp([*fragments(unit, 300), (b"\x00\x10\x00\x10" + b"\x42\x43", True)])
    del packets[1]
    assert receive_all(AacDepacketizer(), packets) == [
        PacketLoss(1001, 1002),
        PayloadDiscarded(90000, "fragmented access unit lost a fragment"),
        AudioAccessUnit(b"\x42\x43", 90000),
    ]


def test_joining_in_the_middle_of_a_fragmented_unit():
    unit = bytes(range(256)) * 4
    packets = rtp(fragments(unit, 300))
    assert receive_all(AacDepacketizer(), packets[1:]) == [
        PayloadDiscarded(90000, "fragmented access unit does not add up to its AU-size")
    ]


def test_fragment_followed_by_a_complete_unit_is_discarded():
    unit = bytes(range(256)) * 4
    packets = rtp([fragments(unit, 300)[0], (b"\x00\x10\x00\x10" + b"\x42\x43", True)])
    assert receive_all(AacDepacketizer(), packets) == [
        PayloadDiscarded(90000, "fragmented access unit unfinished"),
        AudioAccessUnit(b"\x42\x43", 90000),
    ]


def test_malformed_packet_and_duplicate():
    good = rtp([(b"\x00\x10\x00\x10\x42\x43", True)] * 3)
    bad = RtpPacket(97, 1001, 90000, 1, b"\x00", True)
    events = receive_all(AacDepacketizer(), [good[0], good[0], bad, good[2]])
    assert events == [
        AudioAccessUnit(b"\x42\x43", 90000),
        PayloadDiscarded(90000, "AAC payload: 1 bytes, too short for AU-headers-length"),
        AudioAccessUnit(b"\x42\x43", 90000),
    ]


@settings(max_examples=500)
@given(st.binary(max_size=40))
def test_any_payload_parses_or_raises_payload_error(payload):
    try:
        units = parse_aac_payload(payload)
    except PayloadError:
        return
    assert units


@settings(max_examples=300)
@given(
    st.lists(
        st.builds(
            RtpPacket,
            payload_type=st.just(97),
            sequence_number=st.integers(0, 8),
            timestamp=st.sampled_from([0, 1024]),
            ssrc=st.just(1),
            payload=st.tuples(
                st.sampled_from([b"", b"\x00\x10\x00\x40", b"\x00\x20"]), st.binary(max_size=20)
            ).map(b"".join),
            marker=st.booleans(),
        ),
        max_size=20,
    )
)
def test_depacketizer_never_raises(packets):
    for event in receive_all(AacDepacketizer(), packets):
        assert isinstance(event, AudioAccessUnit | PacketLoss | PayloadDiscarded)


def test_every_prefix_of_a_payload_raises_except_a_fragment_of_the_last_unit():
    payload = packetize_aac([A, B], 1400)[0].payload
    for size in range(len(payload)):
        with pytest.raises(PayloadError):
            parse_aac_payload(payload[:size])
    with pytest.raises(PayloadError) as info:
        parse_aac_payload(payload + b"\x00")
    assert str(info.value) == "AAC payload: 1 bytes after the last access unit"
    # With one unit, a short payload is a fragment (RFC 3640 §3.2.3), not an error.
    single = packetize_aac([B], 1400)[0].payload
    assert parse_aac_payload(single[:100]) == [AacUnit(200, 0, B[:96])]
