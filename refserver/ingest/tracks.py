"""FLV tag bodies from one publisher in, packager track configurations and frames out.

Legacy AVC (CodecID 7) and AAC (SoundFormat 10), Enhanced RTMP ``avc1``/``hvc1`` video and
``mp4a`` audio, and the pre-standard HEVC CodecID 12 are understood. Other codecs cannot go into
MPEG-TS HLS here; their tags are skipped and reported once in :attr:`FlvTracks.unsupported`.

Timestamps are RTMP milliseconds, 32 bits wide (they wrap after ~49.7 days); they become
ever-growing 90 kHz ticks. A frame is a keyframe when it holds an IDR (H.265: IRAP) picture,
whatever the FLV frame type claims, so HLS segments always start where a decoder can.
"""

from __future__ import annotations

from refserver.hls import AudioConfig, Frame, VideoConfig
from wire import flv
from wire.codec.aac import AudioSpecificConfig
from wire.codec.errors import CodecError
from wire.codec.h264 import AvcDecoderConfigurationRecord
from wire.codec.h265 import HevcDecoderConfigurationRecord
from wire.codec.nal import (
    H265_NAL_PPS,
    H265_NAL_SPS,
    H265_NAL_VPS,
    VideoCodec,
    has_irap,
    split_length_prefixed,
)
from wire.codec.stamp import stamp_wallclock
from wire.rtp import TimestampUnwrapper

TICKS_PER_MS = 90
FOURCC_MP4A = "mp4a"

# Looked up once: every tag is checked against these, and naming an enum member costs about
# 0.1 µs on Python 3.11.
_H264 = VideoCodec.H264
_H265 = VideoCodec.H265
_COMMAND = int(flv.VideoFrameType.COMMAND)
_CODED = (int(flv.VideoPacketType.CODED_FRAMES), int(flv.VideoPacketType.CODED_FRAMES_X))
_AVC_FOURCCS = (flv.FOURCC_AVC1, None)
_AVC_CODEC_IDS = (flv.CODEC_ID_AVC, None)


class IngestError(ValueError):
    """A tag body that cannot be read; the message names the track and the cause."""


class FlvTracks:
    """One publisher's tracks. ``changed`` is set whenever a sequence header changed a track
    configuration; the caller clears it once it has passed the new configuration on."""

    def __init__(self) -> None:
        self.video: VideoConfig | None = None
        self.audio: AudioConfig | None = None
        self.changed = False
        self.unsupported: set[str] = set()
        self._length_size = 4
        # RTMP timestamps are 32-bit milliseconds that wrap (RTMP 1.0 §5.3.1.3); the same
        # nearest-value extension as for RTP timestamps applies.
        self._clock = TimestampUnwrapper()

    def video_tag(self, timestamp: int, body: bytes) -> Frame | None:
        """A video message body; returns the picture it carries, if any."""
        try:
            tag = flv.VideoTag.parse(body)
        except flv.FlvError as exc:
            raise IngestError(str(exc)) from None
        codec = self._video_codec(tag)
        if codec is None or tag.frame_type == _COMMAND:
            return None
        if tag.is_sequence_header:
            self._video_sequence_header(codec, tag.data)
            return None
        video = self.video
        if tag.packet_type not in _CODED or video is None or video.codec is not codec:
            return None
        try:
            nalus = tuple(split_length_prefixed(tag.data, self._length_size))
        except CodecError as exc:
            raise IngestError(f"video tag: {exc}") from None
        dts = self._clock.unwrap(timestamp) * TICKS_PER_MS
        try:
            keyframe = has_irap(codec, nalus)
        except CodecError as exc:  # a NAL unit shorter than the H.265 header
            raise IngestError(f"video tag: {exc}") from None
        return Frame.video(
            dts + tag.composition_time * TICKS_PER_MS,
            dts,
            nalus,
            keyframe,
            wallclock_us=stamp_wallclock(body),
        )

    def audio_tag(self, timestamp: int, body: bytes) -> Frame | None:
        """An audio message body; returns the AAC frame it carries, if any."""
        try:
            tag = flv.AudioTag.parse(body)
        except flv.FlvError as exc:
            raise IngestError(str(exc)) from None
        aac = tag.sound_format == flv.SOUND_FORMAT_AAC or (
            tag.enhanced and tag.fourcc == FOURCC_MP4A
        )
        if not aac:
            described = tag.fourcc if tag.enhanced else f"SoundFormat {tag.sound_format}"
            self.unsupported.add(f"audio {described}")
            return None
        if tag.is_sequence_header:
            try:
                asc = AudioSpecificConfig.parse(tag.data)
            except CodecError as exc:
                raise IngestError(f"audio tag: {exc}") from None
            if self.audio is None or self.audio.asc != asc:
                self.audio = AudioConfig(asc)
                self.changed = True
            return None
        if tag.packet_type != flv.AAC_RAW or self.audio is None or not tag.data:
            return None
        return Frame.audio(self._clock.unwrap(timestamp) * TICKS_PER_MS, tag.data)

    def _video_codec(self, tag: flv.VideoTag) -> VideoCodec | None:
        if tag.fourcc in _AVC_FOURCCS and tag.codec_id in _AVC_CODEC_IDS:
            return _H264
        if tag.fourcc == flv.FOURCC_HVC1 or tag.codec_id == flv.CODEC_ID_HEVC_COMMUNITY:
            return _H265
        described = tag.fourcc if tag.enhanced else f"CodecID {tag.codec_id}"
        self.unsupported.add(f"video {described}")
        return None

    def _video_sequence_header(self, codec: VideoCodec, record: bytes) -> None:
        parameter_sets: tuple[bytes, ...]
        try:
            if codec is VideoCodec.H264:
                avcc = AvcDecoderConfigurationRecord.parse(record)
                parameter_sets, length_size = avcc.sps + avcc.pps, avcc.length_size
            else:
                hvcc = HevcDecoderConfigurationRecord.parse(record)
                parameter_sets = tuple(
                    nal
                    for kind in (H265_NAL_VPS, H265_NAL_SPS, H265_NAL_PPS)
                    for nal in hvcc.nal_units(kind)
                )
                length_size = hvcc.length_size
        except CodecError as exc:
            raise IngestError(f"video sequence header: {exc}") from None
        config = VideoConfig(codec, parameter_sets)
        self._length_size = length_size
        if config != self.video:
            self.video = config
            self.changed = True
