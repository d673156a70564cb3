"""Real bytes: the RTCP and RTP of an IP camera pulled by VLC/live555, read at test time."""

from __future__ import annotations

from pathlib import Path

import pytest

from wire.payload import H264Depacketizer, VideoAccessUnit
from wire.rtp import (
    ReceiverStatistics,
    RtcpReceiverReport,
    RtcpSdes,
    RtcpSenderReport,
    RtpPacket,
    ntp_middle32,
    parse_compound,
    serialize_compound,
)

CAPTURE = "captures/camera-h264-udp-digest.pcapng"
CAMERA_RTP_PORT = 36854
CAMERA_RTCP_PORT = 36855
CLIENT_RTCP_PORT = 46049
NAT_PUNCH = bytes.fromhex("cefaedfe")  # live555's 4-byte NAT punch, not RTCP


def _datagrams(shared_dir: Path) -> list[tuple[float, int, int, bytes]]:
    path = shared_dir / CAPTURE
    if not path.exists():
        pytest.skip(f"{path} is not present")
    scapy_all = pytest.importorskip("scapy.all")
    udp = scapy_all.UDP
    return [
        (float(p.time), p[udp].sport, p[udp].dport, bytes(p[udp].payload))
        for p in scapy_all.rdpcap(str(path))
        if udp in p
    ]


@pytest.fixture(scope="module")
def datagrams(shared_dir: Path) -> list[tuple[float, int, int, bytes]]:
    return _datagrams(shared_dir)


def test_camera_sender_report_and_client_receiver_reports(datagrams):
    rtcp = [
        (sport, payload)
        for _, sport, dport, payload in datagrams
        if CAMERA_RTCP_PORT in (sport, dport) and payload != NAT_PUNCH
    ]
    assert [sport for sport, _ in rtcp] == [CAMERA_RTCP_PORT, CLIENT_RTCP_PORT, CLIENT_RTCP_PORT]
    for _, payload in rtcp:
        assert serialize_compound(parse_compound(payload)) == payload

    sr, sdes = parse_compound(rtcp[0][1])
    assert isinstance(sr, RtcpSenderReport)
    assert isinstance(sdes, RtcpSdes)
    assert (sr.ssrc, sr.rtp_timestamp, sr.packet_count) == (0x4DD55626, 0x5626, 0)
    assert sdes.cname(0x4DD55626) == "none"

    rr, client_sdes = parse_compound(rtcp[1][1])
    assert isinstance(rr, RtcpReceiverReport)
    assert isinstance(client_sdes, RtcpSdes)
    assert rr.ssrc == 0x04F68CA6
    [block] = rr.reports
    assert block.ssrc == sr.ssrc
    # live555 counts from seq|0x10000 and reports one packet "lost" below zero.
    assert (block.fraction_lost, block.packets_lost) == (251, -1)
    assert block.highest_sequence == 0x15B9D
    assert (block.jitter, block.dlsr) == (229, 0x2E42B)
    assert block.lsr == ntp_middle32(sr.ntp_timestamp)
    assert client_sdes.cname(rr.ssrc) == "Thinkpad"


def test_receiver_statistics_and_depacketizer_on_the_whole_stream(datagrams):
    packets = [
        (arrival, RtpPacket.parse(payload))
        for arrival, sport, _, payload in datagrams
        if sport == CAMERA_RTP_PORT
    ]
    assert len(packets) == 1569
    first = packets[0][1]
    stats = ReceiverStatistics(first.ssrc)
    depacketizer = H264Depacketizer()
    events = []
    for arrival, packet in packets:
        assert stats.update(packet.sequence_number, packet.timestamp, arrival * 90000) is (
            packet is not first  # the first packet is on probation (RFC 3550 A.1)
        )
        events += depacketizer.receive(packet)
    events += depacketizer.flush()

    assert stats.extended_max_sequence == first.sequence_number + 1568
    assert (stats.expected, stats.received, stats.lost) == (1568, 1568, 0)
    block = stats.report_block(now=packets[-1][0])
    assert block is not None
    assert (block.fraction_lost, block.packets_lost) == (0, 0)

    units = [e for e in events if isinstance(e, VideoAccessUnit)]
    assert units == events
    assert len(units) == len({p.timestamp for _, p in packets}) == 82
    assert units[0].keyframe
    assert [nal[0] & 0x1F for nal in units[0].nal_units] == [9, 7, 8, 6, 5]
    assert [u.timestamp for u in units] == sorted({p.timestamp for _, p in packets})
