"""``camsim pcap replay --as push URL``: a captured publish, or a captured camera, as an encoder.

The media becomes a :class:`camsim.encoder.flv_source.FlvPlan`, and camsim's own encoder
publishes it (connect, releaseStream, FCPublish, createStream, publish, ``@setDataFrame``,
sequence headers, then the frames paced in real time, looped with continuous timestamps).

- From a captured RTMP publish, the tag bodies go out as they were captured, with their
  timestamps (relative to the first) and the captured ``onMetaData``.
- From a captured camera (RTP), the access units that :mod:`~camsim.pcap.extract` rebuilds are
  wrapped as FLV: AVC or Enhanced RTMP ``hvc1`` video (length-prefixed NAL units, a sequence
  header from the parameter sets), AAC audio with the SDP's AudioSpecificConfig.

``speed`` scales media time: at 2, frames go out twice as fast and their timestamps say so.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

from camsim.encoder.flv_source import FlvFrame, FlvPlan
from camsim.pcap.capture import CaptureFile
from camsim.pcap.extract import Track, recorders_of, rtp_track
from camsim.pcap.inspect import Inspector, InspectResult
from camsim.pcap.replay_camera import ReplayError
from wire import flv
from wire.amf0 import Amf0Value
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import (
    H264_NAL_AUD,
    H265_NAL_AUD,
    VideoCodec,
    join_length_prefixed,
    nal_type,
    parameter_set_types,
    split_annexb,
)
from wire.codec.stamp import find_stamp

ADTS_HEADER = 7


def load_plan(
    path: str | Path, *, select: int | None = None, speed: float = 1.0
) -> tuple[FlvPlan, str]:
    """The plan of the first publish of ``path`` (or of RTMP session/RTSP dialog ``select``),
    else of its first camera; and what it came from."""
    if speed <= 0:
        raise ReplayError(f"speed {speed} must be positive")
    with CaptureFile.open(path) as capture:
        inspector = Inspector(keep_packets=True)
        inspector.read(capture)
        result = inspector.result(capture)
    for session in result.rtmp:
        if select is not None and session.connection != select:
            continue
        for stream in session.media_streams:
            if stream.kept:
                return _from_rtmp(stream.kept, stream.metadata, speed), (
                    f"RTMP connection {session.connection} stream {stream.stream_id}"
                )
    tracks, origin = _camera_tracks(inspector, result, select)
    if tracks:
        return _from_tracks(tracks, speed), origin
    raise ReplayError(f"{path}: no RTMP publish or camera stream with H.264/H.265 video to push")


def _camera_tracks(
    inspector: Inspector, result: InspectResult, select: int | None
) -> tuple[list[Track], str]:
    recorders = recorders_of(inspector)
    chosen: list[Track] = []
    for dialog in result.dialogs:
        if select is not None and dialog.index != select:
            continue
        for stream in result.rtp_streams:
            if stream.setup is None or not stream.setup.startswith(f"dialog {dialog.index} "):
                continue
            recorder = next(r for r in recorders if r.flow == stream.flow)
            track = rtp_track(recorder, stream)
            if track is not None and track.units:
                chosen.append(track)
        if any(t.video_codec is not None for t in chosen):
            return chosen, f"RTSP dialog {dialog.index}"
        chosen = []
    return [], ""


def _from_rtmp(
    kept: list[tuple[int, int, bytes]], metadata: dict[str, Amf0Value], speed: float
) -> FlvPlan:
    video_header: bytes | None = None
    audio_header: bytes | None = None
    fourcc: str | None = None
    frames: list[FlvFrame] = []
    first: int | None = None
    for kind, timestamp, body in kept:
        if kind == flv.TAG_TYPE_VIDEO:
            tag = flv.VideoTag.parse(body)
            fourcc = tag.fourcc
            if tag.is_sequence_header:
                video_header = video_header or body
                continue
            if tag.packet_type not in _CODED:
                continue  # end of sequence, metadata: not frames, and not to repeat every pass
        else:
            tag_audio = flv.AudioTag.parse(body)
            if tag_audio.is_sequence_header:
                audio_header = audio_header or body
                continue
        first = timestamp if first is None else first
        keyframe = kind != flv.TAG_TYPE_VIDEO or tag.is_keyframe
        stamp = find_stamp(body) if kind == flv.TAG_TYPE_VIDEO else -1
        offset = round((timestamp - first) / speed)
        frames.append(
            FlvFrame(kind, offset, bytearray(body), stamp, _index(frames, stamp), keyframe)
        )
    if video_header is None:
        raise ReplayError("the captured publish has no video sequence header")
    return _plan(frames, video_header, audio_header, dict(metadata), fourcc)


def _from_tracks(tracks: list[Track], speed: float) -> FlvPlan:
    video = next(t for t in tracks if t.video_codec is not None)
    codec = video.video_codec
    assert codec is not None
    fourcc = flv.FOURCC_HVC1 if codec is VideoCodec.H265 else None
    frames: list[FlvFrame] = []
    sets: dict[int, bytes] = {}
    for unit in video.units:
        nals = [n for n in split_annexb(unit.data) if nal_type(codec, n) not in _AUDS]
        for nal in nals:
            if nal_type(codec, nal) in parameter_set_types(codec):
                sets.setdefault(nal_type(codec, nal), nal)
        dts = unit.dts if unit.dts is not None else unit.pts
        composition = round((unit.pts - dts) * 1000 / speed)
        frame_type = flv.VideoFrameType.KEY if unit.keyframe else flv.VideoFrameType.INTER
        packet_type = flv.VideoPacketType.CODED_FRAMES
        tag = (
            flv.VideoTag(
                frame_type,
                packet_type,
                join_length_prefixed(nals),
                composition,
                codec_id=flv.CODEC_ID_AVC,
            )
            if fourcc is None
            else flv.VideoTag(
                frame_type, packet_type, join_length_prefixed(nals), composition, fourcc=fourcc
            )
        )
        body = tag.serialize()
        offset = round(dts * 1000 / speed)
        stamp = find_stamp(body)
        index = _index(frames, stamp)
        frames.append(
            FlvFrame(flv.TAG_TYPE_VIDEO, offset, bytearray(body), stamp, index, unit.keyframe)
        )
    audio_header = None
    audio = next((t for t in tracks if t.audio_config is not None), None)
    if audio is not None and audio.audio_config is not None:
        config = audio.audio_config.serialize()
        audio_header = flv.AudioTag(
            flv.SOUND_FORMAT_AAC, config, packet_type=flv.AAC_SEQUENCE_HEADER
        ).serialize()
        shift = audio.start - video.start
        for unit in audio.units:
            raw = unit.data[ADTS_HEADER:]
            body = flv.AudioTag(flv.SOUND_FORMAT_AAC, raw, packet_type=flv.AAC_RAW).serialize()
            offset = round((unit.pts + shift) * 1000 / speed)
            if offset >= 0:
                frames.append(FlvFrame(flv.TAG_TYPE_AUDIO, offset, bytearray(body), -1, -1, True))
    frames.sort(key=lambda f: (f.offset_ms, f.type_id == flv.TAG_TYPE_AUDIO))
    types = parameter_set_types(codec)
    if not all(kind in sets for kind in types):
        raise ReplayError("the captured camera sent no complete set of parameter sets to announce")
    try:
        if codec is VideoCodec.H264:
            record = AvcDecoderConfigurationRecord.build(
                [sets[types[0]]], [sets[types[1]]]
            ).serialize()
        else:
            record = HevcDecoderConfigurationRecord.build(
                [sets[types[0]]], [sets[types[1]]], [sets[types[2]]]
            ).serialize()
    except CodecError as error:
        raise ReplayError(
            f"the captured parameter sets do not make a sequence header: {error}"
        ) from None
    start = flv.VideoPacketType.SEQUENCE_START
    key = flv.VideoFrameType.KEY
    header = (
        flv.VideoTag(key, start, record, codec_id=flv.CODEC_ID_AVC)
        if fourcc is None
        else flv.VideoTag(key, start, record, fourcc=fourcc)
    ).serialize()
    return _plan(frames, header, audio_header, {}, fourcc)


_AUDS = (H264_NAL_AUD, H265_NAL_AUD)
_CODED = (flv.VideoPacketType.CODED_FRAMES, flv.VideoPacketType.CODED_FRAMES_X)

ONE_PASS_PAUSE = Fraction(3600)
"""How far a one-pass plan's next repetition is pushed away: never reached before the stop."""


def one_pass(plan: FlvPlan) -> FlvPlan:
    """``plan`` with its next repetition an hour away, so that a publish of it can be stopped
    once every frame went out (:func:`sent_once`) and nothing of a second pass is sent."""
    return dataclasses.replace(plan, period=plan.period + ONE_PASS_PAUSE)


def sent_once(plan: FlvPlan, video_frames: int, audio_frames: int) -> bool:
    """Whether that many video and audio frames are all of ``plan``'s frames."""
    video = plan.video_frames_per_loop
    audio = len(plan.frames) - video
    return video_frames >= video and audio_frames >= audio


def _index(frames: list[FlvFrame], stamp: int) -> int:
    """The frame index the encoder writes into a stamped frame: its rank among the video
    frames of one repetition (the encoder adds the repetitions before it)."""
    if stamp < 0:
        return -1
    return sum(1 for f in frames if f.type_id == flv.TAG_TYPE_VIDEO)


def _plan(
    frames: list[FlvFrame],
    video_header: bytes,
    audio_header: bytes | None,
    metadata: dict[str, Amf0Value],
    fourcc: str | None,
) -> FlvPlan:
    keyframes = tuple(
        i for i, f in enumerate(frames) if f.type_id == flv.TAG_TYPE_VIDEO and f.keyframe
    )
    if not keyframes:
        raise ReplayError("the captured video has no keyframe to start from")
    videos = [f for f in frames if f.type_id == flv.TAG_TYPE_VIDEO]
    step = (videos[-1].offset_ms - videos[0].offset_ms) / max(len(videos) - 1, 1)
    period = Fraction(max(f.offset_ms for f in frames) + max(round(step), 1), 1000)
    return FlvPlan(
        frames=tuple(frames),
        metadata=metadata,
        video_header=video_header,
        audio_header=audio_header,
        period=period,
        video_frames_per_loop=len(videos),
        keyframes=keyframes,
        fourcc=fourcc,
    )
