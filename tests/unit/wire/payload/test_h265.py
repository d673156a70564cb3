from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.payload.streams import receive_all, rtp
from wire.payload import (
    H265Depacketizer,
    NalFragment,
    PacketLoss,
    PayloadDiscarded,
    PayloadError,
    PayloadPacket,
    VideoAccessUnit,
    packetize_h265,
    parse_h265_payload,
)
from wire.rtp import RtpPacket


def nal(nal_type: int, size: int, second: int = 0x01) -> bytes:
    return bytes([nal_type << 1, second]) + bytes((i % 251) + 1 for i in range(size - 2))


VPS = nal(32, 24)
SPS = nal(33, 40)
PPS = nal(34, 8)
SEI = nal(39, 12)
IDR = nal(19, 3000)
TRAIL = nal(1, 400)


def test_parameter_sets_share_an_ap_and_the_idr_is_fragmented():
    packets = packetize_h265([VPS, SPS, PPS, IDR], 1200)
    ap = b"\x60\x01" + b"\x00\x18" + VPS + b"\x00\x28" + SPS + b"\x00\x08" + PPS
    assert packets[0] == PayloadPacket(ap, False)
    # 2998 bytes after the header in 3 fragments of at most 1197 bytes
    assert [p.payload[:3] for p in packets[1:]] == [
        b"\x62\x01\x93",
        b"\x62\x01\x13",
        b"\x62\x01\x53",
    ]
    assert b"".join(p.payload[3:] for p in packets[1:]) == IDR[2:]
    assert [p.marker for p in packets] == [False, False, False, True]


def test_ap_header_takes_lowest_layer_id_and_tid_and_or_of_f():
    a = bytes([0x80 | (1 << 1) | 0x01, (2 << 3) | 3]) + b"\x01"  # F=1, LayerId=34, TID=3
    b = bytes([1 << 1, (1 << 3) | 2]) + b"\x02"  # LayerId=1, TID=2
    [packet] = packetize_h265([a, b], 100)
    assert packet.payload[:2] == bytes([0x80 | (48 << 1), (1 << 3) | 2])


def test_fu_payload_header_keeps_f_and_layer_id():
    unit = bytes([0x80 | (19 << 1) | 0x01, 0x0A]) + b"\x05" * 200
    packets = packetize_h265([unit], 100)
    assert packets[0].payload[:3] == bytes([0x80 | (49 << 1) | 0x01, 0x0A, 0x80 | 19])
    assert receive_all(H265Depacketizer(), rtp(packets)) == [VideoAccessUnit((unit,), 90000, True)]


nal_units = st.lists(
    st.tuples(st.sampled_from([1, 19, 21, 32, 33, 34, 39]), st.integers(3, 5000)).map(
        lambda t: nal(*t)
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(nal_units, st.integers(100, 1500))
def test_packetize_depacketize_round_trip(nals, mtu):
    packets = packetize_h265(nals, mtu)
    assert all(len(p.payload) <= mtu for p in packets)
    assert [p.marker for p in packets] == [False] * (len(packets) - 1) + [True]
    events = receive_all(H265Depacketizer(), rtp(packets))
    kinds = [(n[0] >> 1) & 0x3F for n in nals]
    if any(k < 32 for k in kinds):
        keyframe = any(16 <= k <= 23 for k in kinds)
        assert events == [VideoAccessUnit(tuple(nals), 90000, keyframe)]
    else:
        assert events == []


def test_marker_bit_on_parameter_sets_does_not_end_the_access_unit():
    packets = rtp(
        [(VPS, True), (SPS, True), (PPS, True), (SEI, True), *packetize_h265([IDR], 1400)]
    )
    assert receive_all(H265Depacketizer(), packets) == [
        VideoAccessUnit((VPS, SPS, PPS, SEI, IDR), 90000, True)
    ]


def test_no_marker_bit_access_units_end_on_timestamp_change():
    packets = rtp([(TRAIL, False)], timestamp=3000) + rtp(
        [(TRAIL, False)], timestamp=6000, first_sequence=1001
    )
    depacketizer = H265Depacketizer()
    assert receive_all(depacketizer, packets) == [VideoAccessUnit((TRAIL,), 3000, False)]
    assert depacketizer.flush() == [VideoAccessUnit((TRAIL,), 6000, False)]


def test_fu_with_start_and_end_both_set_is_a_whole_nal():
    payload = b"\x62\x01" + bytes([0xC0 | 19]) + IDR[2:100]
    assert parse_h265_payload(payload) == [NalFragment(IDR[:2], IDR[2:100], True, True)]
    assert receive_all(H265Depacketizer(), rtp([(payload, True)])) == [
        VideoAccessUnit((IDR[:100],), 90000, True)
    ]


def test_annexb_start_codes_inside_payloads_are_split():
    payload = b"\x00\x00\x00\x01" + VPS + b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS
    packets = rtp([(payload, True), (IDR[:500], True)])
    assert receive_all(H265Depacketizer(), packets) == [
        VideoAccessUnit((VPS, SPS, PPS, IDR[:500]), 90000, True)
    ]


def test_sequence_gap_drops_the_fragmented_nal_and_reports_the_loss():
    packets = rtp([*packetize_h265([IDR], 1000), (TRAIL, True)])
    del packets[2]
    assert receive_all(H265Depacketizer(), packets) == [
        PacketLoss(1002, 1003),
        PayloadDiscarded(90000, "fragmented NAL unit lost a fragment"),
        VideoAccessUnit((TRAIL,), 90000, False),
    ]


def test_one_byte_unit_after_a_start_code_is_discarded():
    payload = TRAIL + b"\x00\x00\x01\x02"
    assert receive_all(H265Depacketizer(), rtp([(payload, True)])) == [
        PayloadDiscarded(90000, "NAL unit of 1 bytes is shorter than its header"),
        VideoAccessUnit((TRAIL,), 90000, False),
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "H.265 RTP payload: 0 bytes, shorter than its header"),
        (b"\x02", "H.265 RTP payload: 1 bytes, shorter than its header"),
        (b"\x62\x01", "H.265 FU: 2 bytes, too short for the FU header"),
        (b"\x60\x01", "H.265 AP: no NAL units"),
        (b"\x60\x01\x00", "H.265 AP: 1 byte left at offset 2, too few for a size"),
        (
            b"\x60\x01\x00\x05\x02\x01",
            "H.265 AP: NAL unit of 5 bytes at offset 4 overruns the payload (2 bytes left)",
        ),
        (b"\x64\x01\x00", "H.265 RTP payload: PACI packets (type 50) are not supported"),
    ],
)
def test_parse_errors(payload, message):
    with pytest.raises(PayloadError) as info:
        parse_h265_payload(payload)
    assert str(info.value) == message


def test_unspecified_types_are_ignored():
    assert parse_h265_payload(bytes([51 << 1, 1, 2])) == []
    assert parse_h265_payload(bytes([63 << 1, 1, 2])) == []


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_any_payload_parses_or_raises_payload_error(payload):
    try:
        pieces = parse_h265_payload(payload)
    except PayloadError:
        return
    assert all(isinstance(p, bytes | NalFragment) for p in pieces)


@settings(max_examples=300)
@given(
    st.lists(
        st.builds(
            RtpPacket,
            payload_type=st.just(96),
            sequence_number=st.integers(0, 12),
            timestamp=st.sampled_from([0, 3000]),
            ssrc=st.just(1),
            payload=st.tuples(
                st.sampled_from([b"", b"\x62\x01", b"\x60\x01", b"\x26\x01"]),
                st.binary(max_size=30),
            ).map(b"".join),
            marker=st.booleans(),
        ),
        max_size=20,
    )
)
def test_depacketizer_never_raises(packets):
    depacketizer = H265Depacketizer(max_access_unit_size=200)
    for event in receive_all(depacketizer, packets) + depacketizer.flush():
        assert isinstance(event, VideoAccessUnit | PacketLoss | PayloadDiscarded)
