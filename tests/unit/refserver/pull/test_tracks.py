"""Pulled tracks without sockets: sprop parameter sets as cameras really send them, and the
timeline of frames when RTP-Info lies or the camera's clock jumps."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from refserver.hls import Frame, FrameKind
from refserver.pull.tracks import Track, presentation_from_sdp, usable_parameter_set
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.nal import H264_NAL_PPS, H264_NAL_SPS, VideoCodec
from wire.payload import packetize_h264
from wire.rtp import RtpPacket
from wire.sdp import SessionDescription

DATA = Path(__file__).parents[2] / "wire" / "codec" / "data"
RECORD = AvcDecoderConfigurationRecord.parse((DATA / "h264_baseline_320x240_avcc.bin").read_bytes())
SPS, PPS = RECORD.sps[0], RECORD.pps[0]
IDR = bytes([0x65]) + bytes(range(1, 200))
SLICE = bytes([0x41]) + bytes(range(1, 100))
FRAME = 6000
BASE = 900_000


def sdp(sprop: str | None) -> SessionDescription:
    fmtp = "packetization-mode=1" + (f";sprop-parameter-sets={sprop}" if sprop else "")
    text = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        f"a=fmtp:96 {fmtp}\r\na=control:trackID=0\r\n"
    )
    return SessionDescription.parse(text.encode())


def b64(nal: bytes) -> str:
    return base64.b64encode(nal).decode()


def video_track(sprop: str | None = None) -> Track:
    track = presentation_from_sdp(sdp(sprop)).tracks[0]
    track.prepare(BASE)
    return track


def test_good_sprop_parameter_sets_are_taken() -> None:
    track = video_track(f"{b64(SPS)},{b64(PPS)}")
    assert track.parameter_sets == {H264_NAL_SPS: SPS, H264_NAL_PPS: PPS}
    assert track.video is not None
    assert track.video.parameter_sets == (SPS, PPS)


def test_garbage_sprop_keeps_only_what_parses() -> None:
    # VStarcam (retina#42): the SPS cut in half, the PPS with zero bytes after it.
    track = video_track(f"{b64(SPS[: len(SPS) // 2])},{b64(PPS + bytes(16))}")
    assert track.parameter_sets == {H264_NAL_PPS: PPS}
    assert track.video is None  # until the SPS comes in band


@pytest.mark.parametrize(
    ("nal", "usable"),
    [
        (SPS, SPS),
        (SPS + b"\x00\x00", SPS),
        (SPS[:5], None),
        (b"\x00\x00", None),
        (bytes([0x65, 0x88]), None),  # a slice is no parameter set
    ],
)
def test_usable_parameter_set(nal: bytes, usable: bytes | None) -> None:
    assert usable_parameter_set(VideoCodec.H264, nal) == usable


def packets(units: list[tuple[int, list[bytes]]], first_seq: int) -> list[RtpPacket]:
    """RTP packets of (timestamp, NAL units) access units, numbered from ``first_seq``."""
    result: list[RtpPacket] = []
    for timestamp, nalus in units:
        for payload in packetize_h264(nalus, 1400):
            seq = (first_seq + len(result)) & 0xFFFF
            result.append(
                RtpPacket(
                    payload_type=96,
                    sequence_number=seq,
                    timestamp=timestamp & 0xFFFF_FFFF,
                    ssrc=0x1234,
                    marker=payload.marker,
                    payload=payload.payload,
                )
            )
    return result


def frames(track: Track, rtp: list[RtpPacket]) -> list[Frame]:
    out: list[Frame] = []
    for packet in rtp:
        out += track.receive(packet, 0.0)
    return out


def gop(start: int, count: int) -> list[tuple[int, list[bytes]]]:
    return [(start, [SPS, PPS, IDR])] + [(start + i * FRAME, [SLICE]) for i in range(1, count)]


def test_frames_start_at_base_and_no_sprop_waits_for_in_band_sets() -> None:
    track = video_track()
    got = frames(track, packets(gop(0xFFFF_0000, 4), 65530))
    assert [f.pts for f in got] == [BASE + i * FRAME for i in range(4)]
    assert [f.kind for f in got] == [FrameKind.VIDEO] * 4
    assert got[0].keyframe
    assert got[0].nalus == (SPS, PPS, IDR)
    assert track.video is not None
    assert track.video.parameter_sets == (SPS, PPS)


def test_rtp_info_ahead_of_the_first_packet_is_not_trusted() -> None:
    track = video_track(f"{b64(SPS)},{b64(PPS)}")
    track.anchor(5000 + 90_000, seq=100 + 1000)  # Hikvision, Tapo: both ahead
    got = frames(track, packets(gop(5000, 3), 100))
    assert [f.pts for f in got] == [BASE, BASE + FRAME, BASE + 2 * FRAME]


def test_rtp_info_that_agrees_places_the_first_keyframe() -> None:
    track = video_track(f"{b64(SPS)},{b64(PPS)}")
    track.anchor(5000 - 45_000, seq=100)  # PLAY started half a second before the keyframe
    got = frames(track, packets(gop(5000, 2), 100))
    assert [f.pts for f in got] == [BASE + 45_000, BASE + 45_000 + FRAME]


def test_a_camera_clock_jump_keeps_frames_continuous() -> None:
    track = video_track(f"{b64(SPS)},{b64(PPS)}")
    jump = 3 * 3600 * 90_000
    units = gop(0, 3) + [(jump + i * FRAME, [SLICE]) for i in range(3, 6)]
    got = frames(track, packets(units, 0))
    assert [f.pts for f in got] == [BASE + i * FRAME for i in range(6)]
    assert track.timeline.jumps == 1
