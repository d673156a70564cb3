"""A sample turned into FLV tag bodies once, and each stream's position in it.

:class:`FlvPlan` holds every tag body of one repetition of the sample, built at start and shared
by all streams: legacy AVC (CodecID 7) or Enhanced RTMP ``hvc1``/``avc1`` video, AAC audio, the
sequence headers and the ``onMetaData`` an encoder announces. :class:`TagCursor` walks the plan
for one stream, looping with continuous timestamps; on the way out only the stamp bytes (frame
index, wallclock) of a video body are patched in place, never a length.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

from camsim.media.loader import AccessUnit, MediaKind, MediaSample
from wire import flv
from wire.amf0 import Amf0Value
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import VideoCodec, join_length_prefixed
from wire.codec.stamp import find_stamp, write_frame_index, write_wallclock

ENCODER_NAME = "camsim"
AAC_SAMPLE_SIZE = 16.0
_STAMP_NAL_MAX = 64
"""The stamp SEI NAL unit is 36-37 bytes; slices are far larger."""


class PlanError(ValueError):
    """The sample cannot be published the way it was asked for."""


@dataclass(frozen=True, slots=True)
class FlvFrame:
    """One audio or video tag body and when it is due within one repetition of the sample."""

    type_id: int
    """RTMP message type: 8 audio, 9 video."""
    offset_ms: int
    """Decode time from the start of the repetition, in milliseconds."""
    body: bytearray
    """The tag body; only the stamp in it is ever rewritten, in place."""
    stamp_at: int
    """Offset of the stamp's UUID in ``body``, or -1 when the frame carries none."""
    frame_index: int
    keyframe: bool


@dataclass(frozen=True)
class FlvPlan:
    """Everything a publisher sends, built once per sample and shared by every stream."""

    frames: tuple[FlvFrame, ...]
    metadata: dict[str, Amf0Value]
    video_header: bytes
    audio_header: bytes | None
    period: Fraction
    """Length of one repetition, in seconds."""
    video_frames_per_loop: int
    keyframes: tuple[int, ...]
    """Indexes in ``frames`` of the video keyframes, where a stream may start."""
    fourcc: str | None
    """The Enhanced RTMP FourCC of the video, or ``None`` for legacy AVC."""

    @classmethod
    def build(cls, sample: MediaSample, *, enhanced: bool = False) -> FlvPlan:
        video = sample.video
        if video is None:
            raise PlanError(f"{sample.path}: a video track is needed to publish")
        if video.codec is VideoCodec.H265 and not enhanced:
            raise PlanError(
                f"{sample.path}: H.265 is only carried by Enhanced RTMP; use --enhanced"
            )
        fourcc = None
        if enhanced:
            fourcc = flv.FOURCC_HVC1 if video.codec is VideoCodec.H265 else flv.FOURCC_AVC1
        units = list(sample.loop(1))  # one repetition, without audio that overlaps the seam
        frames = tuple(_frame(unit, video.codec, fourcc) for unit in units)
        keyframes = tuple(
            i
            for i, frame in enumerate(frames)
            if frame.type_id == flv.TAG_TYPE_VIDEO and frame.keyframe
        )
        if not keyframes:
            raise PlanError(f"{sample.path}: the video has no keyframe to start from")
        return cls(
            frames=frames,
            metadata=_metadata(sample, units, fourcc),
            video_header=_video_header(sample, fourcc),
            audio_header=_audio_header(sample),
            period=sample.duration,
            video_frames_per_loop=sum(1 for f in frames if f.type_id == flv.TAG_TYPE_VIDEO),
            keyframes=keyframes,
            fourcc=fourcc,
        )


class TagCursor:
    """One stream's position in the looped plan.

    Media time counts milliseconds from the stream's first frame; the timestamp on the wire adds
    the start timestamp and wraps at 2^32. Repetition ``n`` starts at ``round(n * period)`` ms,
    so timestamps never drift from the sample's own clock however long the stream runs.
    """

    def __init__(self, plan: FlvPlan, start_timestamp: int = 0) -> None:
        self.plan = plan
        self.start_timestamp = start_timestamp
        self.loop = 0
        self.index = 0
        self._loop_base_ms = 0
        self.due_ms = plan.frames[0].offset_ms
        """Media time of the next frame."""

    @property
    def timestamp(self) -> int:
        """The RTMP timestamp of the next frame."""
        return (self.start_timestamp + self.due_ms) & 0xFFFFFFFF

    @property
    def frame(self) -> FlvFrame:
        return self.plan.frames[self.index]

    def advance(self) -> None:
        self.index += 1
        if self.index == len(self.plan.frames):
            self._enter_loop(self.loop + 1, 0)
        else:
            self.due_ms = self._loop_base_ms + self.plan.frames[self.index].offset_ms

    def seek_keyframe(self, media_ms: int) -> None:
        """Move to the first keyframe at or after ``media_ms``, as after a reconnect."""
        plan = self.plan
        period_ms = plan.period * 1000
        loop = max(int(media_ms // period_ms), 0)
        within = media_ms - round(loop * period_ms)
        offsets = [plan.frames[i].offset_ms for i in plan.keyframes]
        position = bisect.bisect_left(offsets, within)
        if position == len(offsets):
            loop, position = loop + 1, 0
        self._enter_loop(loop, plan.keyframes[position])

    def body(self, wallclock_us: int) -> bytes:
        """The next frame's tag body, its stamp carrying the continuous frame index and
        ``wallclock_us``."""
        frame = self.plan.frames[self.index]
        if frame.stamp_at >= 0:
            index = self.loop * self.plan.video_frames_per_loop + frame.frame_index
            write_frame_index(frame.body, frame.stamp_at, index)
            write_wallclock(frame.body, frame.stamp_at, wallclock_us)
        return bytes(frame.body)

    def _enter_loop(self, loop: int, index: int) -> None:
        self.loop, self.index = loop, index
        self._loop_base_ms = round(loop * self.plan.period * 1000)
        self.due_ms = self._loop_base_ms + self.plan.frames[index].offset_ms


def _ms(ticks: int, clock_rate: int) -> int:
    return round(Fraction(ticks * 1000, clock_rate))


def _frame(unit: AccessUnit, codec: VideoCodec, fourcc: str | None) -> FlvFrame:
    offset_ms = _ms(unit.dts, unit.clock_rate)
    if unit.kind is MediaKind.AUDIO:
        body = flv.AudioTag(flv.SOUND_FORMAT_AAC, unit.data, packet_type=flv.AAC_RAW).serialize()
        return FlvFrame(flv.TAG_TYPE_AUDIO, offset_ms, bytearray(body), -1, -1, True)
    composition_time = _ms(unit.pts, unit.clock_rate) - offset_ms
    frame_type = flv.VideoFrameType.KEY if unit.keyframe else flv.VideoFrameType.INTER
    data = join_length_prefixed(unit.nalus)
    if fourcc is None:
        tag = flv.VideoTag(
            frame_type,
            flv.VideoPacketType.CODED_FRAMES,
            data,
            composition_time,
            codec_id=flv.CODEC_ID_AVC,
        )
    else:
        # FFmpeg's choice: CodedFramesX, which implies a zero composition time, when it is zero.
        packet_type = (
            flv.VideoPacketType.CODED_FRAMES
            if composition_time
            else flv.VideoPacketType.CODED_FRAMES_X
        )
        tag = flv.VideoTag(frame_type, packet_type, data, composition_time, fourcc=fourcc)
    body = tag.serialize()
    stamp_at = _stamp_offset(unit, body)
    frame_index = unit.frame_index if unit.frame_index is not None and stamp_at >= 0 else -1
    return FlvFrame(
        flv.TAG_TYPE_VIDEO, offset_ms, bytearray(body), stamp_at, frame_index, unit.keyframe
    )


def _stamp_offset(unit: AccessUnit, body: bytes) -> int:
    """Where the stamp's UUID sits in ``body``: searched only inside the stamp NAL unit."""
    position = len(body) - sum(4 + len(nal) for nal in unit.nalus)
    for nal in unit.nalus:
        position += 4
        if len(nal) < _STAMP_NAL_MAX:
            found = find_stamp(nal)
            if found >= 0:
                return position + found
        position += len(nal)
    return -1


def _video_header(sample: MediaSample, fourcc: str | None) -> bytes:
    video = sample.video
    assert video is not None
    sets = video.parameter_sets
    try:
        if video.codec is VideoCodec.H265:
            record = HevcDecoderConfigurationRecord.build(
                [sets[0]], [sets[1]], [sets[2]]
            ).serialize()
        else:
            record = AvcDecoderConfigurationRecord.build([sets[0]], [sets[1]]).serialize()
    except CodecError as exc:
        raise PlanError(f"{sample.path}: parameter sets: {exc}") from exc
    key = flv.VideoFrameType.KEY
    start = flv.VideoPacketType.SEQUENCE_START
    if fourcc is None:
        return flv.VideoTag(key, start, record, codec_id=flv.CODEC_ID_AVC).serialize()
    return flv.VideoTag(key, start, record, fourcc=fourcc).serialize()


def _audio_header(sample: MediaSample) -> bytes | None:
    if sample.audio is None:
        return None
    tag = flv.AudioTag(flv.SOUND_FORMAT_AAC, sample.audio.asc, packet_type=flv.AAC_SEQUENCE_HEADER)
    return tag.serialize()


def _metadata(
    sample: MediaSample, units: list[AccessUnit], fourcc: str | None
) -> dict[str, Amf0Value]:
    """``onMetaData`` with the fields and order FFmpeg's FLV muxer writes for a live output."""
    video, audio = sample.video, sample.audio
    assert video is not None
    seconds = float(sample.duration)
    video_bytes = sum(u.size for u in units if u.kind is MediaKind.VIDEO)
    codec_id: float = float(flv.CODEC_ID_AVC)
    if fourcc is not None:
        codec_id = float(int.from_bytes(fourcc.encode("ascii"), "big"))
    metadata: dict[str, Amf0Value] = {
        "duration": 0.0,
        "width": float(video.width),
        "height": float(video.height),
        "videodatarate": video_bytes * 8 / seconds / 1000,
        "framerate": float(video.fps),
        "videocodecid": codec_id,
    }
    if audio is not None:
        audio_bytes = sum(u.size for u in units if u.kind is MediaKind.AUDIO)
        metadata.update(
            {
                "audiodatarate": audio_bytes * 8 / seconds / 1000,
                "audiosamplerate": float(audio.sample_rate),
                "audiosamplesize": AAC_SAMPLE_SIZE,
                "stereo": audio.channels == 2,
                "audiocodecid": float(flv.SOUND_FORMAT_AAC),
            }
        )
    metadata.update({"encoder": ENCODER_NAME, "filesize": 0.0})
    return metadata
