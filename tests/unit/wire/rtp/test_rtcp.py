from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtp import (
    ReportBlock,
    RtcpBye,
    RtcpRawPacket,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpError,
    SdesChunk,
    SdesItem,
    parse_compound,
    serialize_compound,
)
from wire.rtp.rtcp import SDES_CNAME, SDES_TOOL

SR = bytes.fromhex(
    "80c80006"  # V=2 RC=0 PT=200 length=6
    "11223344"  # SSRC
    "e0000000"
    "80000000"  # NTP 0xe0000000.80000000
    "00015f90"  # RTP timestamp 90000
    "0000000a"  # 10 packets
    "00003000"  # 12288 octets
)
SDES = bytes.fromhex("81ca000311223344010463616d310000")  # CNAME "cam1"
RR = bytes.fromhex("81c90007aabbccdd1122334419fffffe0001ffff00000010e000800000018000")
BYE = bytes.fromhex("81cb00031122334404646f6e65000000")  # reason "done"


def test_sender_report_fields_and_round_trip():
    [sr] = parse_compound(SR)
    assert sr == RtcpSenderReport(
        ssrc=0x11223344,
        ntp_timestamp=0xE0000000_80000000,
        rtp_timestamp=90000,
        packet_count=10,
        octet_count=12288,
    )
    assert sr.serialize() == SR


def test_receiver_report_block_with_negative_cumulative_loss():
    [rr] = parse_compound(RR)
    assert rr == RtcpReceiverReport(
        ssrc=0xAABBCCDD,
        reports=[
            ReportBlock(
                ssrc=0x11223344,
                fraction_lost=0x19,
                packets_lost=-2,
                highest_sequence=0x1FFFF,
                jitter=16,
                lsr=0xE0008000,
                dlsr=0x18000,
            )
        ],
    )
    assert rr.serialize() == RR


def test_sdes_cname_and_padding():
    [sdes] = parse_compound(SDES)
    assert isinstance(sdes, RtcpSdes)
    assert sdes.chunks == [SdesChunk(0x11223344, [SdesItem(SDES_CNAME, b"cam1")])]
    assert sdes.cname(0x11223344) == "cam1"
    assert sdes.cname(1) is None
    assert sdes.serialize() == SDES


def test_sdes_chunk_whose_items_end_on_a_word_boundary_gets_a_full_null_word():
    sdes = RtcpSdes([SdesChunk(1, [SdesItem(SDES_TOOL, b"ab")])])
    data = sdes.serialize()
    assert data == bytes.fromhex("81ca0003000000010602616200000000")
    assert parse_compound(data) == [sdes]


def test_bye_with_reason():
    [bye] = parse_compound(BYE)
    assert bye == RtcpBye([0x11223344], b"done")
    assert bye.serialize() == BYE


def test_compound_round_trip_keeps_unknown_types_raw():
    app = bytes.fromhex("80cc0002112233446e616d65")  # APP, name "name"
    pli = bytes.fromhex("81ce0002aabbccdd11223344")  # PSFB PLI (RFC 4585)
    data = SR + SDES + app + pli + BYE
    packets = parse_compound(data)
    assert [type(p).__name__ for p in packets] == [
        "RtcpSenderReport",
        "RtcpSdes",
        "RtcpRawPacket",
        "RtcpRawPacket",
        "RtcpBye",
    ]
    assert packets[2] == RtcpRawPacket(204, 0, bytes.fromhex("112233446e616d65"))
    assert packets[3] == RtcpRawPacket(206, 1, bytes.fromhex("aabbccdd11223344"))
    assert serialize_compound(packets) == data


def test_padding_on_the_last_packet_is_removed():
    padded = bytes.fromhex("a1cb00021122334400000004")
    assert parse_compound(padded) == [RtcpBye([0x11223344])]


def test_report_extension_is_kept():
    data = bytes.fromhex("80c90002aabbccdd01020304")
    [rr] = parse_compound(data)
    assert rr == RtcpReceiverReport(0xAABBCCDD, [], bytes.fromhex("01020304"))
    assert rr.serialize() == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTCP: empty datagram"),
        (SR[:3], "RTCP packet at offset 0: 3 bytes, header is 4"),
        (SR + SDES[:2], "RTCP packet at offset 28: 2 bytes, header is 4"),
        (b"\x40" + SR[1:], "RTCP packet at offset 0: version 1, expected 2"),
        (SR[:20], "RTCP packet at offset 0: length field says 28 bytes, 20 left"),
        (bytes.fromhex("81c8000111223344"), "RTCP SR: 4 body bytes, 1 blocks need at least 48"),
        (bytes.fromhex("81c9000111223344"), "RTCP RR: 4 body bytes, 1 blocks need at least 28"),
        (bytes.fromhex("82cb000111223344"), "RTCP BYE: 4 body bytes, 2 blocks need at least 8"),
        (
            bytes.fromhex("80cb000109616263"),
            "RTCP BYE: reason of 9 bytes overruns the packet (3 bytes left)",
        ),
        (bytes.fromhex("81ca000111223344"), "RTCP SDES: chunk not terminated by a null item"),
        (bytes.fromhex("82ca00021122334400000000"), "RTCP SDES: chunk truncated at offset 8"),
        (bytes.fromhex("81ca0002112233440109ab00"), "RTCP SDES: item of type 1 truncated"),
        (bytes.fromhex("a0cb000100000000"), "RTCP packet at offset 0: invalid padding count 0"),
        (bytes.fromhex("a0cb0000"), "RTCP packet at offset 0: invalid padding count 0"),
        (bytes.fromhex("a0cb000100000009"), "RTCP packet at offset 0: invalid padding count 9"),
    ],
)
def test_malformed_rtcp_raises_precise_errors(data, message):
    with pytest.raises(RtpError) as info:
        parse_compound(data)
    assert str(info.value) == message


def test_every_prefix_of_a_compound_packet_raises_or_parses_whole_packets():
    data = SR + SDES + RR + BYE
    boundaries = {len(SR), len(SR + SDES), len(SR + SDES + RR), len(data)}
    for size in range(1, len(data) + 1):
        if size in boundaries:
            assert serialize_compound(parse_compound(data[:size])) == data[:size]
        else:
            with pytest.raises(RtpError):
                parse_compound(data[:size])
    with pytest.raises(RtpError, match="offset 92: 3 bytes, header is 4"):
        parse_compound(data + b"\x80\xc8\x00")


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (
            RtcpReceiverReport(1, [ReportBlock(2, 0, 0x800000, 0, 0, 0, 0)]),
            "RTCP report block: packets_lost 8388608 is not 24-bit",
        ),
        (
            RtcpReceiverReport(1, [], b"abc"),
            "RTCP report: extension of 3 bytes is not 32-bit aligned",
        ),
        (RtcpBye([1], b"x" * 256), "RTCP BYE: reason of 256 bytes, at most 255"),
        (RtcpBye(list(range(32))), "RTCP BYE: 32 sources, at most 31"),
        (RtcpRawPacket(204, 0, b"abc"), "RTCP packet: body of 3 bytes is not 32-bit aligned"),
        (RtcpRawPacket(204, 32, b""), "RTCP packet: count 32 is not in 0..31"),
        (
            RtcpSdes([SdesChunk(1, [SdesItem(1, b"x" * 256)])]),
            "RTCP SDES: item of type 1 does not fit",
        ),
        (RtcpReceiverReport(1 << 32), "RTCP packet: SSRC 4294967296 is not a 32-bit value"),
    ],
)
def test_serialize_rejects_fields_that_do_not_fit(packet, message):
    with pytest.raises(RtpError) as info:
        packet.serialize()
    assert str(info.value) == message


u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(
    ReportBlock, u32, st.integers(0, 255), st.integers(-0x800000, 0x7FFFFF), u32, u32, u32, u32
)
words = st.integers(0, 3).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))
rtcp_packets = st.one_of(
    st.builds(
        RtcpSenderReport,
        u32,
        st.integers(0, (1 << 64) - 1),
        u32,
        u32,
        u32,
        st.lists(blocks, max_size=3),
        words,
    ),
    st.builds(RtcpReceiverReport, u32, st.lists(blocks, max_size=3), words),
    st.builds(
        RtcpSdes,
        st.lists(
            st.builds(
                SdesChunk,
                u32,
                st.lists(
                    st.builds(SdesItem, st.integers(1, 8), st.binary(max_size=20)), max_size=3
                ),
            ),
            max_size=3,
        ),
    ),
    st.builds(RtcpBye, st.lists(u32, max_size=4), st.none() | st.binary(max_size=30)),
    st.builds(RtcpRawPacket, st.integers(205, 255), st.integers(0, 31), words),
)


@settings(max_examples=300)
@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_compound_round_trip(packets):
    data = serialize_compound(packets)
    assert parse_compound(data) == packets
    assert serialize_compound(parse_compound(data)) == data


@settings(max_examples=500)
@given(st.binary(max_size=120))
def test_any_bytes_parse_or_raise_rtp_error(data):
    try:
        packets = parse_compound(data)
    except RtpError:
        return
    assert packets


@settings(max_examples=300)
@given(st.binary(min_size=4, max_size=60))
def test_well_framed_garbage_bodies_parse_or_raise_rtp_error(body):
    # Headers with consistent lengths get past the framing checks into the body parsers.
    body = body[: len(body) // 4 * 4]
    for packet_type in (200, 201, 202, 203):
        data = bytes([0x80 | (body[0] & 0x1F), packet_type]) + (len(body) // 4).to_bytes(2, "big")
        with contextlib.suppress(RtpError):
            parse_compound(data + body)
