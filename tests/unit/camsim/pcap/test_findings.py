"""Findings: each problem is made in a capture of a known stream, and found with its packets."""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from camsim.media.loader import MediaSample, load
from camsim.pcap import impair
from camsim.pcap.findings import Finding, Severity
from camsim.pcap.inspect import InspectResult, inspect_capture
from camsim.pcap.synth import CameraCapture, StreamTruth, camera_capture, write_capture
from tests.conftest import SampleFactory
from wire.pcapng import tcp_packet


@pytest.fixture(scope="module")
def sample(make_test_sample: SampleFactory) -> MediaSample:
    return load(make_test_sample())


@pytest.fixture(scope="module")
def capture(sample: MediaSample) -> CameraCapture:
    return camera_capture(sample, transport="udp", seconds=12)


def _inspect(packets: list[impair.Packet], tmp_path: Path) -> InspectResult:
    return inspect_capture(write_capture(tmp_path / "capture.pcapng", packets))


def _found(result: InspectResult, code: str) -> list[Finding]:
    return [f for f in result.findings if f.code == code]


def _rewrite_video(
    capture: CameraCapture, edit: Callable[[int, bytearray], bytes | None]
) -> list[impair.Packet]:
    video = capture.streams[0]
    return impair.rewrite_udp(capture.packets, video.rtp_ports[1], edit)


def _packet_number(capture: CameraCapture, stream: StreamTruth, rtp_index: int) -> int:
    """The capture's packet number (from 1) of the stream's rtp_index-th packet."""
    return stream.packet_indexes[rtp_index] + 1


def test_ssrc_change_without_a_new_setup(capture: CameraCapture, tmp_path: Path) -> None:
    video = capture.streams[0]
    change_at = video.packets // 2

    def new_source(index: int, rtp: bytearray) -> bytes:
        if index >= change_at:
            struct.pack_into("!I", rtp, 8, 0xCAFEBABE)
        return bytes(rtp)

    result = _inspect(_rewrite_video(capture, new_source), tmp_path)
    (finding,) = _found(result, "ssrc-change")
    packet = _packet_number(capture, video, change_at)
    assert finding.packets == (packet,)
    assert f"to CAFEBABE at packet {packet}" in finding.message
    assert "without a new SETUP" in finding.message
    assert {s.ssrc for s in result.rtp_streams} >= {video.ssrc, 0xCAFEBABE}


def test_marker_never_set(capture: CameraCapture, tmp_path: Path) -> None:
    def no_marker(index: int, rtp: bytearray) -> bytes:
        rtp[1] &= 0x7F
        return bytes(rtp)

    result = _inspect(_rewrite_video(capture, no_marker), tmp_path)
    (finding,) = _found(result, "marker-never-set")
    assert finding.severity is Severity.WARNING
    video = capture.streams[0]
    assert f"never set in {video.packets} packets" in finding.message
    # Frames are still counted: they end where the timestamp changes.
    (stream,) = [s for s in result.rtp_streams if s.ssrc == video.ssrc]
    assert stream.frames == video.frames
    assert not _found(
        inspect_capture(write_capture(tmp_path / "ok.pcapng", capture.packets)), "marker-never-set"
    )


def test_rtp_clock_running_fast_against_rtcp_sr(sample: MediaSample, tmp_path: Path) -> None:
    capture = camera_capture(sample, transport="udp", seconds=24)
    video = capture.streams[0]
    first = video.first_sequence * 10

    def fast(index: int, rtp: bytearray) -> bytes:
        (timestamp,) = struct.unpack_from("!I", rtp, 4)
        struct.pack_into("!I", rtp, 4, (first + round((timestamp - first) * 1.003)) & 0xFFFFFFFF)
        return bytes(rtp)

    # The sender reports come from the same (fast) clock: rewrite their RTP timestamps too.
    def fast_report(index: int, rtcp: bytearray) -> bytes:
        (timestamp,) = struct.unpack_from("!I", rtcp, 16)
        struct.pack_into("!I", rtcp, 16, (first + round((timestamp - first) * 1.003)) & 0xFFFFFFFF)
        return bytes(rtcp)

    packets = _rewrite_video(capture, fast)
    packets = impair.rewrite_udp(packets, video.rtp_ports[1] + 1, fast_report)
    result = _inspect(packets, tmp_path)
    (finding,) = _found(result, "clock-drift-sr")
    assert "run 0.30% fast against RTCP SR" in finding.message
    (stream,) = [s for s in result.rtp_streams if s.ssrc == video.ssrc]
    assert stream.clock_drift_sr == pytest.approx(0.003, abs=2e-5)
    # The capture clock measures it too, below the margin kept for network jitter.
    assert stream.clock_drift_arrival == pytest.approx(0.003, abs=2e-4)
    assert not _found(result, "clock-drift-arrival")


def test_timestamp_jump(capture: CameraCapture, tmp_path: Path) -> None:
    video = capture.streams[0]
    jump_at = video.packets // 3
    three_hours = 3 * 3600 * 90000

    def jump(index: int, rtp: bytearray) -> bytes:
        if index >= jump_at:
            (timestamp,) = struct.unpack_from("!I", rtp, 4)
            struct.pack_into("!I", rtp, 4, (timestamp + three_hours) & 0xFFFFFFFF)
        return bytes(rtp)

    result = _inspect(_rewrite_video(capture, jump), tmp_path)
    (finding,) = _found(result, "timestamp-jump")
    packet = _packet_number(capture, video, jump_at)
    assert finding.packets == (packet,)
    assert f"jumps +3.00 h at packet {packet}" in finding.message


def test_keyframe_every_12_seconds(make_test_sample: SampleFactory, tmp_path: Path) -> None:
    sample = load(
        make_test_sample(
            width=64,
            height=64,
            fps=Fraction(5),
            duration=Fraction(36),
            gop_seconds=Fraction(12),
            bitrate=50_000,
            audio=False,
        )
    )
    capture = camera_capture(sample, transport="udp")
    result = _inspect(capture.packets, tmp_path)
    (finding,) = _found(result, "keyframe-interval")
    assert "keyframe every 12.0 s" in finding.message
    (stream,) = result.rtp_streams
    assert stream.keyframes == capture.streams[0].keyframes
    assert stream.keyframe_interval == pytest.approx(12.0)


def test_no_parameter_sets_anywhere(capture: CameraCapture, tmp_path: Path) -> None:
    """The SDP without sprop and the stream without SPS/PPS: nothing can decode it."""

    def without_parameter_sets(index: int, rtp: bytearray) -> bytes | None:
        first = rtp[12] & 0x1F
        if first in (7, 8):
            return None
        if first == 24:  # a STAP-A holding them: keep what else it holds
            return None
        return bytes(rtp)

    packets = _rewrite_video(capture, without_parameter_sets)
    packets = [(t, _strip_sprop(p)) for t, p in packets]
    result = _inspect(packets, tmp_path)
    (finding,) = _found(result, "no-parameter-sets")
    assert finding.severity is Severity.ERROR
    assert "SPS, PPS neither in band nor usable in the SDP" in finding.message


def _strip_sprop(packet: bytes) -> bytes:
    fields = impair.tcp_fields(packet)
    if fields is None or b"sprop-parameter-sets=" not in fields[7]:
        return packet
    src, sport, dst, dport, seq, ack, flags, payload = fields
    start = payload.index(b";sprop-parameter-sets=")
    end = payload.index(b"\r\n", start)
    # Same length, so that the TCP sequence numbers after it still hold.
    blanked = payload[:start] + b";x-removed=" + b"x" * (end - start - 11) + payload[end:]
    return tcp_packet(src, sport, dst, dport, seq, ack, flags, blanked)


def test_setup_answered_but_no_media(capture: CameraCapture, tmp_path: Path) -> None:
    video, audio = capture.streams
    packets = impair.rewrite_udp(capture.packets, audio.rtp_ports[1], lambda i, rtp: None)
    result = _inspect(packets, tmp_path)
    (finding,) = _found(result, "setup-without-media")
    assert "trackID=1 was set up over UDP client_port 50002-50003" in finding.message
    assert finding.severity is Severity.ERROR
    assert [s.ssrc for s in result.rtp_streams] == [video.ssrc]


def test_rtp_info_that_disagrees_with_the_first_packet(
    capture: CameraCapture, tmp_path: Path
) -> None:
    video = capture.streams[0]

    def shifted(index: int, rtp: bytearray) -> bytes:
        (seq,) = struct.unpack_from("!H", rtp, 2)
        struct.pack_into("!H", rtp, 2, (seq + 1000) & 0xFFFF)
        return bytes(rtp)

    result = _inspect(_rewrite_video(capture, shifted), tmp_path)
    findings = _found(result, "rtp-info-mismatch")
    assert [f.message for f in findings if "seq=" in f.message] == [
        f"dialog 1: RTP-Info says seq={video.first_sequence} for {capture.url}/trackID=0, "
        f"the first packet has {video.first_sequence + 1000}"
    ]


def test_a_clean_capture_has_no_findings(capture: CameraCapture, tmp_path: Path) -> None:
    assert _inspect(capture.packets, tmp_path).findings == []
