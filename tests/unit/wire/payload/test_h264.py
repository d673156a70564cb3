from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.payload.streams import receive_all, rtp
from wire.payload import (
    H264Depacketizer,
    NalFragment,
    PacketLoss,
    PayloadDiscarded,
    PayloadError,
    PayloadPacket,
    VideoAccessUnit,
    packetize_h264,
    parse_h264_payload,
)
from wire.rtp import JitterBuffer, RtpPacket


def nal(header: int, size: int) -> bytes:
    """A NAL unit without zero bytes, so it never looks like it holds a start code."""
    return bytes([header]) + bytes((i % 251) + 1 for i in range(size - 1))


SPS = bytes.fromhex("6742c01e") + b"\x11" * 11
PPS = bytes.fromhex("68ce3c80")
SEI = bytes.fromhex("0605010280")
IDR = nal(0x65, 3000)
SLICE = nal(0x41, 500)


# --- packetizer ---------------------------------------------------------------------------


def test_parameter_sets_share_a_stap_a_and_the_idr_is_fragmented():
    packets = packetize_h264([SPS, PPS, SEI, IDR], 1200)
    stap = bytes([0x78]) + b"\x00\x0f" + SPS + b"\x00\x04" + PPS + b"\x00\x05" + SEI
    assert packets[0] == PayloadPacket(stap, False)
    # 2999 bytes after the NAL header in 3 fragments of at most 1198 bytes: 1000, 1000, 999
    assert [p.payload[:2] for p in packets[1:]] == [b"\x7c\x85", b"\x7c\x05", b"\x7c\x45"]
    assert [len(p.payload) for p in packets[1:]] == [1002, 1002, 1001]
    assert b"".join(p.payload[2:] for p in packets[1:]) == IDR[1:]
    assert [p.marker for p in packets] == [False, False, False, True]


def test_stap_a_header_takes_or_of_f_and_highest_nri():
    low = bytes([0x06]) + b"\x01\x02"
    forbidden_mid = bytes([0xA1]) + b"\x03"  # F=1, NRI=1
    [packet] = packetize_h264([low, forbidden_mid], 100)
    assert packet.payload[0] == 0x80 | 0x20 | 24


def test_nal_of_exactly_max_payload_size_goes_alone_and_one_more_byte_fragments():
    exact = nal(0x41, 100)
    assert packetize_h264([exact], 100) == [PayloadPacket(exact, True)]
    over = packetize_h264([nal(0x41, 101)], 100)
    assert [p.payload[:2] for p in over] == [b"\x5c\x81", b"\x5c\x41"]


def test_nal_that_fits_alone_but_not_in_an_aggregate_is_sent_alone():
    small, big = nal(0x06, 10), nal(0x41, 99)
    packets = packetize_h264([small, big], 100)
    assert packets == [PayloadPacket(small, False), PayloadPacket(big, True)]


def test_packetization_mode_0_sends_every_nal_alone():
    assert packetize_h264([SPS, PPS], 1200, packetization_mode=0) == [
        PayloadPacket(SPS, False),
        PayloadPacket(PPS, True),
    ]
    with pytest.raises(PayloadError) as info:
        packetize_h264([IDR], 1200, packetization_mode=0)
    assert (
        str(info.value)
        == "H.264: NAL unit of 3000 bytes exceeds 1200 bytes in packetization mode 0"
    )


@pytest.mark.parametrize(
    ("nals", "size", "mode", "message"),
    [
        ([b""], 1200, 1, "NAL unit of 0 bytes has no payload after its header"),
        ([b"\x65"], 1200, 1, "NAL unit of 1 bytes has no payload after its header"),
        ([IDR], 3, 1, "max payload size 3 is too small to packetize"),
        ([IDR], 1200, 2, "H.264: packetization mode 2 is not supported"),
    ],
)
def test_packetizer_errors(nals, size, mode, message):
    with pytest.raises(PayloadError) as info:
        packetize_h264(nals, size, packetization_mode=mode)
    assert str(info.value) == message


nal_units = st.lists(
    st.tuples(st.sampled_from([0x06, 0x41, 0x65, 0x67, 0x68, 0x01]), st.integers(2, 5000)).map(
        lambda t: nal(*t)
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(nal_units, st.integers(100, 1500))
def test_packetize_depacketize_round_trip(nals, mtu):
    packets = packetize_h264(nals, mtu)
    assert all(len(p.payload) <= mtu for p in packets)
    assert [p.marker for p in packets] == [False] * (len(packets) - 1) + [True]
    events = receive_all(H264Depacketizer(), rtp(packets))
    if any(n[0] & 0x1F in (1, 5) for n in nals):
        keyframe = any(n[0] & 0x1F == 5 for n in nals)
        assert events == [VideoAccessUnit(tuple(nals), 90000, keyframe)]
    else:
        assert events == []  # no coded slice: held for the next access unit


# --- depacketizer: the field quirks --------------------------------------------------------


def test_marker_bit_on_parameter_sets_does_not_end_the_access_unit():
    packets = rtp([(SPS, True), (PPS, True), (SEI, True), *packetize_h264([IDR], 1200)])
    assert receive_all(H264Depacketizer(), packets) == [
        VideoAccessUnit((SPS, PPS, SEI, IDR), 90000, True)
    ]


def test_parameter_sets_with_their_own_timestamp_join_the_next_access_unit():
    packets = rtp([(SPS, True), (PPS, True)], timestamp=87000) + rtp(
        [(IDR[:1000], True)], timestamp=90000, first_sequence=1002
    )
    assert receive_all(H264Depacketizer(), packets) == [
        VideoAccessUnit((SPS, PPS, IDR[:1000]), 90000, True)
    ]


def test_no_marker_bit_access_units_end_on_timestamp_change():
    first = rtp([(SPS, False), (PPS, False), (IDR[:900], False)], timestamp=3000)
    second = rtp([(SLICE, False)], timestamp=6000, first_sequence=1003)
    third = rtp([(SLICE, False)], timestamp=9000, first_sequence=1004)
    depacketizer = H264Depacketizer()
    events = receive_all(depacketizer, first + second + third)
    assert events == [
        VideoAccessUnit((SPS, PPS, IDR[:900]), 3000, True),
        VideoAccessUnit((SLICE,), 6000, False),
    ]
    assert depacketizer.flush() == [VideoAccessUnit((SLICE,), 9000, False)]
    assert depacketizer.flush() == []


def test_fu_a_with_start_and_end_both_set_is_a_whole_nal():
    payload = bytes([0x7C, 0x85 | 0x40]) + IDR[1:200]
    assert parse_h264_payload(payload) == [NalFragment(b"\x65", IDR[1:200], True, True)]
    assert receive_all(H264Depacketizer(), rtp([(payload, True)])) == [
        VideoAccessUnit((IDR[:200],), 90000, True)
    ]


def test_annexb_start_codes_inside_a_single_nal_packet_are_split():
    payload = SPS + b"\x00\x00\x00\x01" + PPS + b"\x00\x00\x01" + IDR[:300]
    assert receive_all(H264Depacketizer(), rtp([(payload, True)])) == [
        VideoAccessUnit((SPS, PPS, IDR[:300]), 90000, True)
    ]


def test_payload_starting_with_a_start_code_is_split():
    payload = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS
    assert parse_h264_payload(payload) == [payload]
    packets = rtp([(payload, False), (SLICE, True)])
    assert receive_all(H264Depacketizer(), packets) == [
        VideoAccessUnit((SPS, PPS, SLICE), 90000, False)
    ]


def test_annexb_inside_stap_a_is_split():
    unit = SPS + b"\x00\x00\x00\x01" + PPS
    stap = bytes([0x78]) + len(unit).to_bytes(2, "big") + unit + b"\x00\x05" + SEI
    packets = rtp([(stap, False), (SLICE, True)])
    assert receive_all(H264Depacketizer(), packets) == [
        VideoAccessUnit((SPS, PPS, SEI, SLICE), 90000, False)
    ]


def test_sps_pps_and_idr_joined_by_start_codes_in_one_fu_a():
    # gortsplib#199: the FU header says SPS; the reassembled unit is an Annex B stream.
    stream = SPS + b"\x00\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR
    fragments = [bytes([0x67]) + stream[1:1000], stream[1000:2000], stream[2000:]]
    packets = rtp(
        [
            (b"\x7c\x87" + fragments[0][1:], False),
            (b"\x7c\x07" + fragments[1], False),
            (b"\x7c\x47" + fragments[2], True),
        ]
    )
    assert receive_all(H264Depacketizer(), packets) == [
        VideoAccessUnit((SPS, PPS, IDR), 90000, True)
    ]


def test_nal_far_over_the_mtu_in_one_packet():
    huge = nal(0x65, 10_000)
    assert receive_all(H264Depacketizer(), rtp([(huge, True)])) == [
        VideoAccessUnit((huge,), 90000, True)
    ]


def test_stap_a_and_fu_a_accepted_when_sdp_said_packetization_mode_0():
    depacketizer = H264Depacketizer()  # built the same whatever the fmtp declared
    packets = rtp(packetize_h264([SPS, PPS, IDR], 500))
    assert [p.payload[0] & 0x1F for p in packets] == [24, 28, 28, 28, 28, 28, 28, 28]
    assert receive_all(depacketizer, packets) == [VideoAccessUnit((SPS, PPS, IDR), 90000, True)]


def test_timestamp_jumps_hours_forward_and_back():
    hour = 3600 * 90000
    timestamps = [1000, 1000 + hour, (1000 - hour) & 0xFFFFFFFF, 4000]
    packets = [
        RtpPacket(96, 1000 + i, ts, 1, SLICE, marker=True) for i, ts in enumerate(timestamps)
    ]
    events = receive_all(H264Depacketizer(), packets)
    assert events == [VideoAccessUnit((SLICE,), ts, False) for ts in timestamps]


def test_old_session_packets_are_filtered_by_the_jitter_buffer_before_depacketizing():
    # Reolink: RTP of the previous session still arrives; its sequence numbers are far away.
    live = rtp(packetize_h264([SPS, PPS, IDR], 1200))
    strays = [RtpPacket(96, 41000 + 7 * i, 5555, 0x1234, SLICE, True) for i in range(3)]
    arrivals = [live[0], strays[0], live[1], strays[1], live[2], strays[2], *live[3:]]
    buffer = JitterBuffer()
    depacketizer = H264Depacketizer()
    events = []
    for packet in arrivals:
        for ready in buffer.push(packet):
            events += depacketizer.receive(ready)
    assert events == [VideoAccessUnit((SPS, PPS, IDR), 90000, True)]
    assert buffer.dropped == 3


def test_sequence_gap_drops_the_fragmented_nal_and_reports_the_loss():
    idr = packetize_h264([IDR], 1200)
    packets = rtp([*idr, (SLICE, True)])
    del packets[1]  # the middle FU-A fragment
    events = receive_all(H264Depacketizer(), packets)
    assert events == [
        PacketLoss(1001, 1002),
        PayloadDiscarded(90000, "fragmented NAL unit lost a fragment"),
        VideoAccessUnit((SLICE,), 90000, False),
    ]
    assert PacketLoss(1001, 1002).lost == 1
    assert PacketLoss(65535, 2).lost == 3


def test_gap_without_fragment_in_progress_only_reports_loss():
    packets = rtp([(SLICE, True), (SLICE, True), (SLICE, True)])
    del packets[1]
    events = receive_all(H264Depacketizer(), packets)
    assert events == [
        VideoAccessUnit((SLICE,), 90000, False),
        PacketLoss(1001, 1002),
        VideoAccessUnit((SLICE,), 90000, False),
    ]


def test_duplicate_packet_is_ignored():
    packets = rtp(packetize_h264([IDR], 1200))
    events = receive_all(H264Depacketizer(), [packets[0], packets[0], *packets[1:]])
    assert events == [VideoAccessUnit((IDR,), 90000, True)]


def test_joining_in_the_middle_of_a_fragmented_nal():
    packets = rtp([*packetize_h264([IDR], 1200), (SLICE, True)])
    events = receive_all(H264Depacketizer(), packets[1:])
    assert events == [VideoAccessUnit((SLICE,), 90000, False)]


def test_fragment_restarted_before_its_end():
    packets = rtp([(b"\x7c\x85abc", False), (b"\x7c\x85def", False), (b"\x7c\x45ghi", True)])
    assert receive_all(H264Depacketizer(), packets) == [
        PayloadDiscarded(90000, "fragmented NAL unit restarted before its end"),
        VideoAccessUnit((b"\x65defghi",), 90000, True),
    ]


def test_fragment_of_another_type_discards_the_nal():
    packets = rtp([(b"\x7c\x85abc", False), (b"\x7c\x41def", True)])
    assert receive_all(H264Depacketizer(), packets) == [
        PayloadDiscarded(90000, "fragment of another NAL unit type")
    ]


def test_fragment_unfinished_at_marker_or_timestamp_change():
    depacketizer = H264Depacketizer()
    assert depacketizer.receive(RtpPacket(96, 1, 10, 1, b"\x7c\x85abc")) == []
    assert depacketizer.receive(RtpPacket(96, 2, 20, 1, b"\x7c\x85abc")) == [
        PayloadDiscarded(10, "fragmented NAL unit unfinished at a new timestamp")
    ]
    assert depacketizer.receive(RtpPacket(96, 3, 20, 1, b"\x7c\x05abc", marker=True)) == [
        PayloadDiscarded(20, "fragmented NAL unit unfinished at the marker bit")
    ]
    depacketizer.receive(RtpPacket(96, 4, 30, 1, b"\x7c\x85abc"))
    assert depacketizer.flush() == [
        PayloadDiscarded(30, "fragmented NAL unit unfinished at the end of the stream")
    ]


def test_malformed_packet_becomes_an_event_and_drops_the_fragment():
    packets = rtp([(b"\x7c\x85abc", False), (b"\x78\x00\x09ab", False), (SLICE, True)])
    assert receive_all(H264Depacketizer(), packets) == [
        PayloadDiscarded(90000, "fragmented NAL unit interrupted by a malformed packet"),
        PayloadDiscarded(
            90000,
            "H.264 STAP-A: NAL unit of 9 bytes at offset 3 overruns the payload (2 bytes left)",
        ),
        VideoAccessUnit((SLICE,), 90000, False),
    ]


def test_access_unit_over_the_size_limit_is_dropped():
    depacketizer = H264Depacketizer(max_access_unit_size=1000)
    packets = rtp([(SLICE, False), (SLICE, False), (SLICE[:100], False), (SLICE, True)])
    packets += rtp([(SLICE[:100], True)], timestamp=93000, first_sequence=1004)
    assert receive_all(depacketizer, packets) == [
        PayloadDiscarded(90000, "access unit exceeds 1000 bytes"),
        VideoAccessUnit((SLICE[:100],), 93000, False),
    ]
    packets = rtp(packetize_h264([IDR], 600), first_sequence=1005)
    assert receive_all(depacketizer, packets) == [
        PayloadDiscarded(90000, "access unit exceeds 1000 bytes")
    ]


def test_reserved_types_are_ignored():
    for header in (0x00, 0x1E, 0x1F):
        assert parse_h264_payload(bytes([header, 1, 2])) == []


def test_reset_forgets_the_stream():
    depacketizer = H264Depacketizer()
    depacketizer.receive(RtpPacket(96, 1, 10, 1, SPS))
    depacketizer.reset()
    assert depacketizer.receive(RtpPacket(96, 500, 20, 1, SLICE, marker=True)) == [
        VideoAccessUnit((SLICE,), 20, False)
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "H.264 RTP payload: empty"),
        (b"\x7c", "H.264 FU-A: 1 byte, too short for the FU header"),
        (b"\x78", "H.264 STAP-A: no NAL units"),
        (b"\x78\x00", "H.264 STAP-A: 1 byte left at offset 1, too few for a size"),
        (b"\x78\x00\x00", "H.264 STAP-A: zero-length NAL unit at offset 3"),
        (
            b"\x78\x00\x02\x67",
            "H.264 STAP-A: NAL unit of 2 bytes at offset 3 overruns the payload (1 bytes left)",
        ),
        (
            b"\x79\x00",
            "H.264 RTP payload: STAP-B (type 25) needs the interleaved packetization mode, "
            "which is not supported",
        ),
        (
            b"\x7a\x00",
            "H.264 RTP payload: MTAP16 (type 26) needs the interleaved packetization mode, "
            "which is not supported",
        ),
        (
            b"\x7b\x00",
            "H.264 RTP payload: MTAP24 (type 27) needs the interleaved packetization mode, "
            "which is not supported",
        ),
        (
            b"\x7d\x00",
            "H.264 RTP payload: FU-B (type 29) needs the interleaved packetization mode, "
            "which is not supported",
        ),
    ],
)
def test_parse_errors(payload, message):
    with pytest.raises(PayloadError) as info:
        parse_h264_payload(payload)
    assert str(info.value) == message


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_any_payload_parses_or_raises_payload_error(payload):
    try:
        pieces = parse_h264_payload(payload)
    except PayloadError:
        return
    assert all(isinstance(p, bytes | NalFragment) for p in pieces)


packet_streams = st.lists(
    st.builds(
        RtpPacket,
        payload_type=st.just(96),
        sequence_number=st.integers(0, 12),
        timestamp=st.sampled_from([0, 3000, 6000]),
        ssrc=st.just(1),
        payload=st.binary(max_size=40)
        | st.tuples(st.sampled_from([b"\x7c", b"\x78", b"\x65"]), st.binary(max_size=30)).map(
            b"".join
        ),
        marker=st.booleans(),
    ),
    max_size=20,
)


@settings(max_examples=300)
@given(packet_streams)
def test_depacketizer_never_raises(packets):
    depacketizer = H264Depacketizer(max_access_unit_size=200)
    events = receive_all(depacketizer, packets) + depacketizer.flush()
    for event in events:
        assert isinstance(event, VideoAccessUnit | PacketLoss | PayloadDiscarded)
        if isinstance(event, VideoAccessUnit):
            assert all(len(n) >= 1 and b"\x00\x00\x01" not in n for n in event.nal_units)


def test_every_prefix_of_a_stap_a_parses_whole_units_or_raises():
    stap = packetize_h264([SPS, PPS, SEI], 1200)[0].payload
    ends = {1 + 2 + len(SPS), 1 + 4 + len(SPS) + len(PPS), len(stap)}
    for size in range(len(stap) + 1):
        if size in ends:
            units = parse_h264_payload(stap[:size])
            assert units == [SPS, PPS, SEI][: len(units)]
        else:
            with pytest.raises(PayloadError):
                parse_h264_payload(stap[:size])
    with pytest.raises(PayloadError, match="1 byte left at offset 31"):
        parse_h264_payload(stap + b"\x00")
