"""Synthetic frames for packager tests: H.264 with a fixed GOP, AAC at 48 kHz."""

from __future__ import annotations

from collections.abc import Iterator

from refserver.hls import AudioConfig, Frame, VideoConfig
from wire.codec.aac import AudioSpecificConfig
from wire.codec.nal import VideoCodec
from wire.codec.stamp import stamp_sei_nal

SPS = bytes.fromhex("6764000cacb40a0fd080000003008000000f078a1550")
SPS_OTHER = bytes.fromhex("6764001facb40a0fd080000003008000000f078a1550")
PPS = bytes.fromhex("68ef3cb0")
VIDEO = VideoConfig(VideoCodec.H264, (SPS, PPS))
AUDIO = AudioConfig(AudioSpecificConfig.create(48000, 2))
FRAME_TICKS = 6000  # 15 fps
AUDIO_TICKS = 1920  # 1024 samples at 48 kHz in 90 kHz ticks


def video_frames(
    count: int,
    *,
    start: int = 0,
    gop: int = 30,
    first_index: int = 0,
    wallclock_us: int | None = None,
) -> Iterator[Frame]:
    """``count`` pictures, a keyframe every ``gop``; with ``wallclock_us`` each carries a
    camsim stamp advancing with its timestamp."""
    for n in range(count):
        pts = start + n * FRAME_TICKS
        keyframe = (first_index + n) % gop == 0
        slice_nal = bytes([0x65 if keyframe else 0x41]) + bytes([n % 256]) * 40
        nalus: tuple[bytes, ...] = (slice_nal,)
        if wallclock_us is not None:
            stamp = stamp_sei_nal(VideoCodec.H264, n, wallclock_us + n * FRAME_TICKS * 100 // 9)
            nalus = (stamp, slice_nal)
        yield Frame.video(pts, pts, nalus, keyframe)


def av_frames(count: int, *, start: int = 0, gop: int = 30) -> Iterator[Frame]:
    """Video and audio interleaved in decode order over ``count`` video frames."""
    end = start + count * FRAME_TICKS
    audio_pts = start
    for frame in video_frames(count, start=start, gop=gop):
        while audio_pts < frame.dts:
            yield Frame.audio(audio_pts, b"\x21" * 50)
            audio_pts += AUDIO_TICKS
        yield frame
    while audio_pts < end:
        yield Frame.audio(audio_pts, b"\x21" * 50)
        audio_pts += AUDIO_TICKS
