"""The stamped video frames of an HLS segment, with their decode and presentation times.

The rtmp-ingest suite follows frames, not segments: every video frame camsim pushes carries a
stamp (frame index and send wallclock, :mod:`wire.codec.stamp`), so each frame found in a
segment says which pushed frame it is and when it was sent. MPEG-TS segments are read with
:func:`wire.ts.demux`, fMP4 segments with their init section's track configuration
(:func:`conformance.hls.media.analyse_init`) and :mod:`wire.fmp4`. Nothing here decodes
pictures; it never raises for bad media, it records an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from conformance.hls.media import (
    PTS_MODULUS,
    SAMPLE_IS_NON_SYNC,
    STREAM_TYPE_ADTS,
    TFHD_BASE_DATA_OFFSET,
    TFHD_DEFAULT_SAMPLE_DURATION,
    TFHD_DEFAULT_SAMPLE_FLAGS,
    TFHD_DEFAULT_SAMPLE_SIZE,
    TFHD_SAMPLE_DESCRIPTION_INDEX,
    TS_CLOCK,
    VIDEO_STREAM_TYPES,
    InitInfo,
    TrackConfig,
    analyse_init,
    detect_container,
    top_level_boxes,
)
from wire.codec.aac import split_adts
from wire.codec.errors import CodecError
from wire.codec.nal import VideoCodec, is_irap, split_annexb, split_length_prefixed
from wire.codec.stamp import SEI_PAYLOAD_SIZE, Stamp, find_stamp
from wire.fmp4 import Box, Fmp4Error, Tfdt, Trun
from wire.ts import TsError, demux


@dataclass(frozen=True, slots=True)
class Frame:
    """A video frame found in a segment; times in seconds on the segment's own clock."""

    index: int
    """The stamp's frame index, or -1 for a frame without a stamp."""
    wallclock_us: int
    dts: float
    pts: float
    keyframe: bool


@dataclass
class SegmentFrames:
    """What a segment holds for the suite: its video frames in decode order, its codecs."""

    container: str
    frames: list[Frame] = field(default_factory=list)
    video_codec: VideoCodec | None = None
    audio_frames: int = 0
    audio_sample_rate: int = 0
    audio_codec: str = ""
    error: str = ""


def stamp_of(data: bytes) -> tuple[int, int]:
    """``(frame index, wallclock_us)`` of the first stamp in ``data``, or ``(-1, 0)``."""
    offset = find_stamp(data)
    while offset >= 0:
        try:
            stamp = Stamp.parse(data, offset)
        except CodecError:
            offset = find_stamp(data, offset + SEI_PAYLOAD_SIZE)
            continue
        return stamp.frame_index, stamp.wallclock_us
    return -1, 0


def _unwrap(value: int, reference: int) -> int:
    delta = (value - reference) % PTS_MODULUS
    if delta >= PTS_MODULUS // 2:
        delta -= PTS_MODULUS
    return reference + delta


def segment_frames(data: bytes, init: InitInfo | None = None) -> SegmentFrames:
    """The frames of one media segment (``init`` for fMP4)."""
    container = detect_container(data)
    result = SegmentFrames(container)
    try:
        if container == "ts":
            _ts_frames(data, result)
        elif container == "fmp4":
            if init is None or init.error:
                raise Fmp4Error("no usable init section (EXT-X-MAP)")
            _fmp4_frames(data, init, result)
        else:
            result.error = f"neither MPEG-TS nor fMP4: starts {data[:8]!r}"
    except (TsError, Fmp4Error, CodecError, struct.error, IndexError, ValueError) as exc:
        result.error = str(exc) or type(exc).__name__
    return result


def init_info(data: bytes) -> InitInfo:
    return analyse_init(data)


def _ts_frames(data: bytes, result: SegmentFrames) -> None:
    _, packets = demux(data)
    reference: int | None = None
    for packet in packets:
        if packet.stream_type in VIDEO_STREAM_TYPES:
            codec = VIDEO_STREAM_TYPES[packet.stream_type]
            result.video_codec = codec
            pts = packet.pts
            dts = packet.dts if packet.dts is not None else pts
            if pts is None or dts is None:
                raise TsError("a video PES without a PTS")
            reference = dts if reference is None else reference
            nalus = [n for n in split_annexb(packet.data) if n]
            index, wallclock = stamp_of(packet.data)
            result.frames.append(
                Frame(
                    index,
                    wallclock,
                    _unwrap(dts, reference) / TS_CLOCK,
                    _unwrap(pts, reference) / TS_CLOCK,
                    any(is_irap(codec, nal) for nal in nalus),
                )
            )
        elif packet.stream_type == STREAM_TYPE_ADTS:
            for header, _ in split_adts(packet.data):
                result.audio_frames += 1
                result.audio_sample_rate = header.sample_rate
                result.audio_codec = header.audio_specific_config().codec_string


def _fmp4_frames(data: bytes, init: InitInfo, result: SegmentFrames) -> None:
    for offset, moof in ((o, b) for o, b in top_level_boxes(data) if b.kind == "moof"):
        for traf in (c for c in moof.children() if c.kind == "traf"):
            _traf(data, offset, traf, init, result)


def _traf(data: bytes, moof_offset: int, traf: Box, init: InitInfo, result: SegmentFrames) -> None:
    children = traf.children()
    tfhd = next(c for c in children if c.kind == "tfhd")
    _, flags, rest = tfhd.full_header()
    (track_id,) = struct.unpack_from(">I", rest)
    config = init.tracks.get(track_id)
    if config is None:
        raise Fmp4Error(f"traf of track {track_id}, which the init section does not describe")
    pos = 4
    base = moof_offset
    if flags & TFHD_BASE_DATA_OFFSET:
        (base,) = struct.unpack_from(">Q", rest, pos)
        pos += 8
    if flags & TFHD_SAMPLE_DESCRIPTION_INDEX:
        pos += 4
    default_duration, default_size, default_flags = (
        config.default_duration,
        0,
        config.default_flags,
    )
    if flags & TFHD_DEFAULT_SAMPLE_DURATION:
        (default_duration,) = struct.unpack_from(">I", rest, pos)
        pos += 4
    if flags & TFHD_DEFAULT_SAMPLE_SIZE:
        (default_size,) = struct.unpack_from(">I", rest, pos)
        pos += 4
    if flags & TFHD_DEFAULT_SAMPLE_FLAGS:
        (default_flags,) = struct.unpack_from(">I", rest, pos)
    tfdt = next((c for c in children if c.kind == "tfdt"), None)
    if tfdt is None:
        raise Fmp4Error(f"traf of track {track_id} without tfdt")
    decode_time = Tfdt.parse(tfdt).base_media_decode_time
    for trun_box in (c for c in children if c.kind == "trun"):
        trun = Trun.parse(trun_box)
        position = base + (trun.data_offset or 0)
        for number, entry in enumerate(trun.entries):
            duration = entry.duration if entry.duration is not None else default_duration
            size = entry.size if entry.size is not None else default_size
            sample_flags = entry.flags if entry.flags is not None else default_flags
            if number == 0 and trun.first_sample_flags is not None:
                sample_flags = trun.first_sample_flags
            sample = data[position : position + size]
            offset = entry.composition_offset or 0
            _sample(config, sample, decode_time, offset, sample_flags, result)
            decode_time += duration
            position += size


def _sample(
    config: TrackConfig, sample: bytes, dts: int, offset: int, flags: int, result: SegmentFrames
) -> None:
    scale = config.timescale or 1
    if config.kind == "audio":
        result.audio_frames += 1
        result.audio_codec = config.codec
        result.audio_sample_rate = scale
        return
    if config.kind != "video" or config.video_codec is None:
        return
    result.video_codec = config.video_codec
    nalus = split_length_prefixed(sample, config.length_size)
    index, wallclock = stamp_of(sample)
    keyframe = not flags & SAMPLE_IS_NON_SYNC and any(
        is_irap(config.video_codec, nal) for nal in nalus if nal
    )
    result.frames.append(Frame(index, wallclock, dts / scale, (dts + offset) / scale, keyframe))
