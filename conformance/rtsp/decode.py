"""Decode a received H.264/H.265 stream with FFmpeg (PyAV), from its first keyframe.

Damage the decoder conceals rather than reports ("concealing ... errors") is read from its log
and counts as an error, as in the HLS suite's segment decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import av
import av.logging
from av.video.codeccontext import VideoCodecContext

from wire.codec.nal import VideoCodec, nal_type, parameter_set_types
from wire.payload.events import VideoAccessUnit

START_CODE = b"\x00\x00\x00\x01"
DECODERS = {VideoCodec.H264: "h264", VideoCodec.H265: "hevc"}


@dataclass
class DecodeResult:
    units: int = 0
    """Access units fed, from the first keyframe."""
    frames: int = 0
    width: int = 0
    height: int = 0
    error: str = ""
    skipped: int = 0
    """Access units before the first keyframe."""


def decode_units(
    codec: VideoCodec, units: Sequence[VideoAccessUnit], sprop: Sequence[bytes] = ()
) -> DecodeResult:
    """Decode ``units``; the ``sprop`` parameter sets go first when the first keyframe does not
    carry its own (a camera may rely on the SDP for them)."""
    result = DecodeResult()
    start = next((i for i, unit in enumerate(units) if unit.keyframe), None)
    if start is None:
        result.skipped = len(units)
        result.error = "no keyframe received"
        return result
    result.skipped = start
    kinds = parameter_set_types(codec)
    first = units[start]
    inline = any(nal_type(codec, nal) in kinds for nal in first.nal_units)
    prefix = b"" if inline else b"".join(START_CODE + nal for nal in sprop)
    previous_level = av.logging.get_level()
    av.logging.set_level(av.logging.INFO)
    try:
        with av.logging.Capture(local=True) as logs:
            _decode(codec, units[start:], prefix, result)
    finally:
        av.logging.set_level(previous_level)
    if not result.error:
        damage = next((e for e in logs if e[0] <= av.logging.ERROR or "concealing" in e[2]), None)
        if damage is not None:
            result.error = f"{damage[1]}: {damage[2].strip()}"
    return result


def _decode(
    codec: VideoCodec, units: Sequence[VideoAccessUnit], prefix: bytes, result: DecodeResult
) -> None:
    context = av.CodecContext.create(DECODERS[codec], "r")
    if not isinstance(context, VideoCodecContext):
        result.error = f"FFmpeg's {DECODERS[codec]} is not a video decoder"
        return
    context.options = {"err_detect": "explode"}
    try:
        for index, unit in enumerate(units):
            data = b"".join(START_CODE + nal for nal in unit.nal_units)
            if index == 0:
                data = prefix + data
            result.units += 1
            for packet in context.parse(data):
                _frames(context.decode(packet), result)
        for packet in context.parse(b""):
            _frames(context.decode(packet), result)
        _frames(context.decode(None), result)
    except av.FFmpegError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    except (ValueError, IndexError, OSError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"


def _frames(frames: Sequence[av.VideoFrame], result: DecodeResult) -> None:
    for frame in frames:
        result.frames += 1
        result.width, result.height = frame.width, frame.height
