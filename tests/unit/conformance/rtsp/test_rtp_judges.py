"""The RTP judges of conformance.rtsp.rtp on streams built with wire.payload's packetizers:
a well-formed stream gives no finding, and each broken rule gives its finding."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from conformance.rtsp import rtp
from conformance.rtsp.link import Target
from wire.codec.nal import VideoCodec
from wire.payload.h264 import packetize_h264
from wire.payload.h265 import packetize_h265
from wire.rtp import RtpPacket

CLOCK = 90_000
FPS = 25
SSRC = 0x1234ABCD
SPS = bytes.fromhex("6764001facb402802dd080000003008000001e078c1950")  # camsim's sample
PPS = bytes.fromhex("68ef3cb0")
IDR = b"\x65" + bytes(range(1, 250)) * 12  # 2989 bytes: three FU-A packets at 1400
SLICE = b"\x41" + bytes(range(1, 200))
H265_IDR = b"\x26\x01" + bytes(range(1, 250)) * 8


def _stream(
    units: list[list[bytes]], *, codec: VideoCodec = VideoCodec.H264, seq: int = 65530
) -> list[rtp.Received]:
    """Access units as RTP packets: one frame interval apart in time and timestamp."""
    packets = []
    for index, nal_units in enumerate(units):
        payloads = (
            packetize_h264(nal_units, 1400)
            if codec is VideoCodec.H264
            else packetize_h265(nal_units, 1400)
        )
        timestamp = (0xFFFFF000 + index * CLOCK // FPS) & 0xFFFFFFFF
        for payload in payloads:
            packet = RtpPacket(96, seq & 0xFFFF, timestamp, SSRC, payload.payload, payload.marker)
            packets.append(rtp.Received(index / FPS, packet, 12 + len(payload.payload)))
            seq += 1
    return packets


def _gop() -> list[list[bytes]]:
    return [[SPS, PPS, IDR], *([[SLICE]] * 9), [SPS, PPS, IDR], [SLICE]]


def _replace(item: rtp.Received, **changes: Any) -> rtp.Received:
    return dataclasses.replace(item, packet=dataclasses.replace(item.packet, **changes))


def test_a_well_formed_stream_gives_no_finding() -> None:
    packets = _stream(_gop())
    codec = VideoCodec.H264
    assert rtp.ssrc_changes(packets) == []
    assert rtp.sequence_report(packets) == rtp.SequenceReport(0, [])  # across 65535 -> 0
    assert rtp.timestamp_steps_back(packets, CLOCK, 0.5) == []  # across the 32-bit wrap
    assert rtp.marker_findings(packets, codec) == []
    assert rtp.fragmentation_findings(packets, codec) == []
    assert rtp.nal_unit_findings(packets, codec) == []
    fit = rtp.clock_fit(packets, CLOCK)
    assert fit is not None
    assert fit.rate == pytest.approx(CLOCK, rel=1e-6)
    assert fit.max_residual == pytest.approx(0, abs=1e-6)
    units = rtp.access_units(packets, codec)
    assert [unit.keyframe for _, unit in units] == [True, *[False] * 9, True, False]


def test_h265_stream_is_judged_with_its_own_packet_types() -> None:
    packets = _stream([[H265_IDR], [H265_IDR]], codec=VideoCodec.H265)
    assert rtp.fragmentation_findings(packets, VideoCodec.H265) == []
    assert rtp.marker_findings(packets, VideoCodec.H265) == []


def test_ssrc_change_is_found() -> None:
    packets = _stream(_gop())
    packets[5] = _replace(packets[5], ssrc=0x99)
    found = rtp.ssrc_changes(packets)
    assert [f.message for f in found] == [
        "SSRC changed from 1234ABCD to 00000099",
        "SSRC changed from 00000099 to 1234ABCD",
    ]


def test_sequence_gaps_repeats_and_steps_back() -> None:
    packets = _stream(_gop())
    gapped = packets[:3] + packets[5:]
    report = rtp.sequence_report(gapped)
    assert report.lost == 2
    assert [f.message for f in report.findings] == ["2 sequence numbers skipped"]
    repeated = rtp.sequence_report([packets[0], packets[0], packets[1]])
    assert [f.message for f in repeated.findings] == ["sequence number repeated"]
    back = rtp.sequence_report([packets[3], packets[1]])
    assert [f.message for f in back.findings] == ["sequence number went back by 2"]


def test_marker_missing_and_marker_too_early() -> None:
    packets = _stream(_gop())
    last_of_first = next(i for i, p in enumerate(packets) if p.packet.marker)
    unmarked = list(packets)
    unmarked[last_of_first] = _replace(packets[last_of_first], marker=False)
    found = rtp.marker_findings(unmarked, VideoCodec.H264)
    assert [f.message for f in found] == ["last packet of an access unit without the marker bit"]
    early = list(packets)
    early[0] = _replace(packets[0], marker=True)  # the STAP-A with SPS and PPS
    found = rtp.marker_findings(early, VideoCodec.H264)
    assert len(found) == 1
    assert found[0].message.startswith("marker bit set before the end of the access unit")
    assert "[7, 8]" in found[0].message


def test_fu_with_start_and_end_is_found() -> None:
    packets = _stream([[SLICE], [SLICE]])
    single = bytes((0x7C, 0x80 | 0x40 | 0x01)) + SLICE[1:]  # FU-A, S and E, type 1
    packets[0] = _replace(packets[0], payload=single)
    found = rtp.fragmentation_findings(packets, VideoCodec.H264)
    assert [f.message for f in found] == ["FU with both Start and End set (NAL type 1, 199 bytes)"]


def test_fu_without_start_and_interrupted_fu_are_found() -> None:
    packets = _stream([[SPS, PPS, IDR], [SLICE]])
    fu = [i for i, p in enumerate(packets) if p.packet.payload[0] & 0x1F == 28]
    assert len(fu) == 3
    without_start = [packets[0], *packets[fu[1] :]]
    renumbered = [_replace(p, sequence_number=i) for i, p in enumerate(without_start)]
    found = rtp.fragmentation_findings(renumbered, VideoCodec.H264)
    assert [f.message for f in found] == ["FU continuation without a Start fragment"] * 2
    interrupted = [packets[0], packets[fu[0]], packets[-1]]
    renumbered = [_replace(p, sequence_number=i) for i, p in enumerate(interrupted)]
    found = rtp.fragmentation_findings(renumbered, VideoCodec.H264)
    assert [f.message for f in found] == ["fragmented NAL unit interrupted before its End fragment"]


def test_start_code_inside_a_nal_unit_is_found() -> None:
    packets = _stream([[SLICE]])
    joined = SPS + b"\x00\x00\x00\x01" + PPS  # one "NAL unit" that is two, Annex B joined
    packets.insert(0, _replace(packets[0], payload=joined, marker=False))
    found = rtp.nal_unit_findings(packets, VideoCodec.H264)
    assert len(found) == 1
    assert found[0].message == (
        f"NAL unit of type 7 holds 00 00 00 at byte {len(SPS)} (a start code inside a NAL unit)"
    )


def test_clock_at_the_wrong_rate_and_a_jump() -> None:
    packets = _stream(_gop())
    slow = [_replace(p, timestamp=p.packet.timestamp // 2) for p in packets[:-1]]
    fit = rtp.clock_fit(slow, CLOCK)
    assert fit is not None
    assert fit.rate / CLOCK < 0.6
    jumped = packets[:10] + [
        _replace(p, timestamp=(p.packet.timestamp + 3 * 3600 * CLOCK) & 0xFFFFFFFF)
        for p in packets[10:]
    ]
    fit = rtp.clock_fit(jumped, CLOCK)
    assert fit is not None
    assert fit.max_residual == pytest.approx(3 * 3600, rel=1e-3)
    back = packets[:10] + [_replace(p, timestamp=p.packet.timestamp - CLOCK) for p in packets[10:]]
    found = rtp.timestamp_steps_back(back, CLOCK, 0.5)
    assert found
    assert found[0].message.startswith("timestamp 0.9")


def test_jitter_and_burstiness() -> None:
    packets = _stream([[SLICE]] * 50)
    steady = rtp.interarrival_jitter(packets, CLOCK)
    assert steady[-1][1] == pytest.approx(0, abs=1e-9)
    late = [
        dataclasses.replace(p, arrival=p.arrival + (0.02 if i % 2 else 0))
        for i, p in enumerate(packets)
    ]
    assert rtp.interarrival_jitter(late, CLOCK)[-1][1] > 0.01
    burst = rtp.burstiness(
        [dataclasses.replace(p, arrival=0.0) for p in packets[:-1]] + packets[-1:]
    )
    assert burst is not None
    assert burst.peak_packets == 49


def test_packets_that_do_not_parse_are_findings() -> None:
    good = bytes(_stream([[SLICE]])[0].packet.serialize())
    packets, problems = rtp.parse_all([(0.0, good), (0.1, b"\x40" + good[1:]), (0.2, b"\x80")])
    assert len(packets) == 1
    assert [p.message for p in problems] == [
        "RTP packet: version 1, expected 2",
        "RTP packet: 1 bytes, shorter than the 12-byte fixed header",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://127.0.0.1:8554/cam1", ("rtsp://127.0.0.1:8554/cam1", 8554, False, None, "")),
        ("rtsps://u:p@127.0.0.1/cam", ("rtsps://127.0.0.1:322/cam", 322, True, "u", "p")),
        ("rtsp://[::1]/x?y=1", ("rtsp://[::1]:554/x?y=1", 554, False, None, "")),
    ],
)
def test_target_parse(url: str, expected: tuple[object, ...]) -> None:
    target = Target.parse(url)
    assert (target.url, target.port, target.tls, target.username, target.password) == expected


def test_target_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="expected an rtsp:// or rtsps:// URL"):
        Target.parse("http://127.0.0.1/cam")
