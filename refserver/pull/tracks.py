"""The media of a pulled RTSP presentation: from SDP to packager frames, without I/O.

Each :class:`Track` is one ``m=`` section we can package: H.264, H.265, AAC ``mpeg4-generic``,
or G.711 and Opus audio, which :mod:`refserver.pull.transcode` turns into AAC (unless told not
to). Every other section is left out with the reason in :attr:`Presentation.left_out`.
RTP packets go in through :meth:`Track.receive`, in sequence order (after a jitter buffer when
they came over UDP); :class:`~refserver.hls.Frame` values come out, on a 90 kHz timeline that
starts at ``base`` when the track's first packet (or its ``RTP-Info`` rtptime) arrives, with
a camera's clock jumps taken out (:class:`~wire.rtp.RtpTimeline`). RTP carries presentation
times only: with B-frames the decode times come from the reorder depth the SPS declares
(:class:`~wire.codec.dts.DtsEstimator`). Parameter sets come from
``sprop-*`` when they parse (cameras send truncated or padded ones: retina#42) and are replaced
by the ones sent in band.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refserver.hls import AudioConfig, Frame, FrameKind, VideoConfig
from refserver.hls.media import CLOCK_RATE
from wire.codec.aac import AudioSpecificConfig
from wire.codec.dts import DtsEstimator
from wire.codec.errors import CodecError
from wire.codec.h264 import H264Pps, H264Sps
from wire.codec.h265 import H265Pps, H265Sps, H265Vps
from wire.codec.nal import (
    H264_NAL_PPS,
    H264_NAL_SPS,
    H265_NAL_PPS,
    H265_NAL_SPS,
    H265_NAL_VPS,
    VideoCodec,
    nal_type,
)
from wire.codec.stamp import read_stamp_nalus
from wire.digits import bounded_decimal
from wire.payload import (
    AacDepacketizer,
    AudioAccessUnit,
    H264Depacketizer,
    H265Depacketizer,
    PacketLoss,
    VideoAccessUnit,
)
from wire.payload.whole import WholePayloadDepacketizer
from wire.rtp import ReceiverStatistics, RtpPacket, RtpTimeline
from wire.sdp import (
    MediaDescription,
    PayloadFormat,
    SessionDescription,
    h264_parameter_sets,
    h265_parameter_sets,
)

if TYPE_CHECKING:
    from refserver.pull.transcode import AudioTranscoder

logger = logging.getLogger(__name__)

PARAMETER_SET_TYPES = {
    VideoCodec.H264: (H264_NAL_SPS, H264_NAL_PPS),
    VideoCodec.H265: (H265_NAL_VPS, H265_NAL_SPS, H265_NAL_PPS),
}
PARAMETER_SET_PARSERS: dict[tuple[VideoCodec, int], Callable[[bytes], object]] = {
    (VideoCodec.H264, H264_NAL_SPS): H264Sps.parse,
    (VideoCodec.H264, H264_NAL_PPS): H264Pps.parse,
    (VideoCodec.H265, H265_NAL_VPS): H265Vps.parse,
    (VideoCodec.H265, H265_NAL_SPS): H265Sps.parse,
    (VideoCodec.H265, H265_NAL_PPS): H265Pps.parse,
}
Depacketizer = H264Depacketizer | H265Depacketizer | AacDepacketizer | WholePayloadDepacketizer
VIDEO_CODECS = {"H264": VideoCodec.H264, "H265": VideoCodec.H265}
SPS_TYPES = {VideoCodec.H264: H264_NAL_SPS, VideoCodec.H265: H265_NAL_SPS}
TRANSCODED_AUDIO = frozenset({"PCMU", "PCMA", "OPUS"})
"""Audio that HLS cannot carry and :mod:`refserver.pull.transcode` turns into AAC."""
MAX_AU_HEADER_BITS = 32
"""The largest sizelength, indexlength or indexdeltalength read from an fmtp (RFC 3640 §4.1)."""


class TrackLeftOut(Exception):
    """An ``m=`` section that is not packaged; the message says why."""


@dataclass(frozen=True, slots=True)
class Presentation:
    """The tracks of a session description we will set up, and each section left out with the
    reason (``"audio G726-32/8000: no transcoder for G726-32/8000"``)."""

    tracks: tuple[Track, ...]
    left_out: tuple[str, ...]


def presentation_from_sdp(sdp: SessionDescription, *, transcode_audio: bool = True) -> Presentation:
    """The first H.264/H.265 video and the first audio section of ``sdp`` that can be
    packaged: AAC as it is, G.711 or Opus transcoded to AAC when ``transcode_audio``."""
    tracks: list[Track] = []
    left_out: list[str] = []
    kinds: set[FrameKind] = set()
    for media in sdp.media:
        try:
            track = _track(media, transcode_audio)
        except TrackLeftOut as exc:
            left_out.append(f"{describe_media(media)}: {exc}")
            continue
        if track.kind in kinds:
            left_out.append(f"{describe_media(media)}: only the first {track.kind} is packaged")
            continue
        kinds.add(track.kind)
        tracks.append(track)
    return Presentation(tuple(tracks), tuple(left_out))


def describe_media(media: MediaDescription) -> str:
    """``audio PCMU/8000``: the section's type and the formats it offers."""
    formats = [f"{f.encoding_name}/{f.clock_rate}" for f in media.payload_formats()]
    return f"{media.media} {', '.join(formats or media.formats) or '(no format)'}"


def _track(media: MediaDescription, transcode_audio: bool) -> Track:
    """The track of the section's first format that can be packaged; :class:`TrackLeftOut`
    with the first format's reason when none can."""
    reasons: list[str] = []
    for payload_format in media.payload_formats():
        try:
            return _format_track(media, payload_format, transcode_audio)
        except TrackLeftOut as exc:
            reasons.append(str(exc))
    if reasons:
        raise TrackLeftOut(reasons[0])
    raise TrackLeftOut("no payload format with a known encoding")


def _format_track(
    media: MediaDescription, payload_format: PayloadFormat, transcode_audio: bool
) -> Track:
    codec = payload_format.codec
    control = media.control or ""
    if media.media == "application" or "metadata" in codec.lower():
        raise TrackLeftOut("a metadata track, neither audio nor video")
    if media.media == "video":
        if codec not in VIDEO_CODECS:
            raise TrackLeftOut("only H.264 and H.265 video is packaged")
        return _video_track(control, payload_format, VIDEO_CODECS[codec])
    if media.media != "audio":
        raise TrackLeftOut("neither audio nor video")
    if codec == "MPEG4-GENERIC":
        return _aac_track(control, payload_format)
    if codec in TRANSCODED_AUDIO:
        if not transcode_audio:
            raise TrackLeftOut("transcoding to AAC is off (transcode_audio = false)")
        return _transcoded_track(control, payload_format)
    raise TrackLeftOut("no transcoder for it (AAC is packaged, G.711 and Opus transcoded)")


def _video_track(control: str, payload_format: PayloadFormat, video: VideoCodec) -> Track:
    parameters = payload_format.parameters
    sets = (
        h264_parameter_sets(parameters)
        if video is VideoCodec.H264
        else h265_parameter_sets(parameters)
    )
    depacketizer = H264Depacketizer() if video is VideoCodec.H264 else H265Depacketizer()
    track = Track(FrameKind.VIDEO, control, payload_format.payload_type, 90_000, depacketizer)
    track.codec = video
    for nal in sets.nal_units:
        usable = usable_parameter_set(video, nal)
        if usable is not None:
            track.parameter_sets[nal_type(video, usable)] = usable
    return track


def _aac_track(control: str, payload_format: PayloadFormat) -> Track:
    config = payload_format.parameters.get("config", "")
    try:
        asc = AudioSpecificConfig.parse(bytes.fromhex(config))
    except (ValueError, CodecError) as exc:
        raise TrackLeftOut(f"MPEG4-GENERIC config={config[:40]!r} does not read: {exc}") from None
    aac = _aac_depacketizer(payload_format.parameters, asc)
    clock_rate = payload_format.clock_rate
    if not clock_rate:
        raise TrackLeftOut("MPEG4-GENERIC with an RTP clock rate of 0")
    track = Track(FrameKind.AUDIO, control, payload_format.payload_type, clock_rate, aac)
    track.audio = AudioConfig(asc)
    return track


def _transcoded_track(control: str, payload_format: PayloadFormat) -> Track:
    # PyAV loads FFmpeg's libraries: only for a camera that needs them.
    from refserver.pull.transcode import AudioSource, AudioTranscoder, TranscodeError

    try:
        transcoder = AudioTranscoder(AudioSource.of(payload_format))
    except TranscodeError as exc:
        raise TrackLeftOut(str(exc)) from None
    track = Track(
        FrameKind.AUDIO,
        control,
        payload_format.payload_type,
        payload_format.clock_rate,
        WholePayloadDepacketizer(),
    )
    track.transcoder = transcoder
    track.audio = AudioConfig(transcoder.config)
    return track


def usable_parameter_set(codec: VideoCodec, nal: bytes) -> bytes | None:
    """A parameter set from ``sprop-*`` as a decoder can use it, or None when it is unusable.

    Trailing zero bytes are dropped: a NAL unit never ends in one (H.264 §7.4.1, H.265 §7.4.2),
    so they are padding. What then fails to parse (a truncated SPS) is left out, to be taken
    from the stream instead.
    """
    nal = nal.rstrip(b"\x00")
    parse = PARAMETER_SET_PARSERS.get((codec, nal_type(codec, nal))) if nal else None
    if parse is None:
        return None
    try:
        parse(nal)
    except CodecError:
        return None
    return nal


def _aac_depacketizer(parameters: dict[str, str], asc: AudioSpecificConfig) -> AacDepacketizer:
    def number(name: str, default: int) -> int:
        value = parameters.get(name)
        if not value:
            return default
        bits = bounded_decimal(value, MAX_AU_HEADER_BITS)
        if bits is None:
            raise TrackLeftOut(f"MPEG4-GENERIC {name}={value[:40]!r} is not a number of bits")
        return bits

    return AacDepacketizer(
        samples_per_frame=asc.samples_per_frame,
        size_length=number("sizelength", 13),
        index_length=number("indexlength", 3),
        index_delta_length=number("indexdeltalength", 3),
    )


class Track:
    """One received RTP stream: depacketizer, timeline and reception statistics."""

    def __init__(
        self,
        kind: FrameKind,
        control: str,
        payload_type: int,
        clock_rate: int,
        depacketizer: Depacketizer,
    ) -> None:
        self.kind = kind
        self.control = control
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.codec: VideoCodec | None = None
        self.parameter_sets: dict[int, bytes] = {}
        self.audio: AudioConfig | None = None
        self.transcoder: AudioTranscoder | None = None
        """For G.711 and Opus: what turns this track's frames into AAC (``audio`` describes
        the AAC)."""
        self.depacketizer = depacketizer
        self.statistics: ReceiverStatistics | None = None
        self.lost = 0
        self.changed = True
        """The configuration changed since the caller last looked (cleared by the caller)."""
        self.timeline = RtpTimeline(clock_rate)
        self._base = 0
        self._waiting_for_keyframe = True
        self._dts: DtsEstimator | None = None
        self._payload_bytes = 0
        self._started = False  # a packet has fixed where the timeline starts

    def prepare(self, base: int) -> None:
        """Start a new session: frames begin at ``base`` ticks."""
        self.depacketizer.reset()
        self.timeline.reset()
        self._started = False
        self._base = base
        self._waiting_for_keyframe = True
        self._dts = None
        self._payload_bytes = 0

    def take_payload_bytes(self) -> int:
        """The RTP payload bytes of the packets that made the frames returned since the last
        call: what those frames cost on the wire, for the stream's bitrate."""
        taken, self._payload_bytes = self._payload_bytes, 0
        return taken

    def anchor(self, rtptime: int, seq: int | None = None) -> None:
        """The ``RTP-Info`` of this stream: ``rtptime`` is the instant the PLAY range starts,
        ``seq`` the number of the first packet; ignored when the first packet disagrees."""
        self.timeline.announce(rtptime, seq)

    @property
    def video(self) -> VideoConfig | None:
        """The video configuration, once every parameter set of the codec is known."""
        if self.codec is None:
            return None
        types = PARAMETER_SET_TYPES[self.codec]
        if any(kind not in self.parameter_sets for kind in types):
            return None
        return VideoConfig(self.codec, tuple(self.parameter_sets[kind] for kind in types))

    def receive(self, packet: RtpPacket, arrival: float) -> list[Frame]:
        """One RTP packet that arrived at ``arrival`` (seconds); the frames it completes."""
        if packet.payload_type != self.payload_type:
            return []
        seq, timestamp = packet.sequence_number, packet.timestamp
        statistics = self.statistics
        if statistics is None or statistics.ssrc != packet.ssrc:
            statistics = self.statistics = ReceiverStatistics(packet.ssrc)
        statistics.update(seq, timestamp, arrival * self.clock_rate)
        if not self._started:
            self.timeline.first_packet(seq, timestamp)
            self._started = True
        self._payload_bytes += len(packet.payload)
        events = self.depacketizer.receive(packet)
        if not events:  # most packets complete nothing
            return []
        frames: list[Frame] = []
        for event in events:
            if isinstance(event, VideoAccessUnit):
                frame = self._video(event)
                if frame is not None:
                    frames.append(frame)
            elif isinstance(event, AudioAccessUnit):
                frames.append(Frame.audio(self._ticks(event.timestamp), event.data))
            elif isinstance(event, PacketLoss):
                self.lost += event.lost
        return frames

    def _ticks(self, timestamp: int) -> int:
        return self._base + self.timeline.ticks(timestamp) * CLOCK_RATE // self.clock_rate

    def _video(self, unit: VideoAccessUnit) -> Frame | None:
        codec = self.codec
        assert codec is not None
        types = PARAMETER_SET_TYPES[codec]
        for nal in unit.nal_units:
            kind = nal_type(codec, nal)
            if kind in types and self.parameter_sets.get(kind) != nal:
                self.parameter_sets[kind] = nal
                self.changed = True
                if kind == SPS_TYPES[codec]:
                    self._dts = None
        ticks = self._ticks(unit.timestamp)
        if self._waiting_for_keyframe:
            if not unit.keyframe or self.video is None:
                self._payload_bytes = 0  # dropped, so not counted
                return None
            self._waiting_for_keyframe = False
        try:
            stamp = read_stamp_nalus(codec, unit.nal_units)
        except ValueError:  # a truncated stamp: the frame is still good
            stamp = None
        wallclock = stamp.wallclock_us if stamp is not None and stamp.stamped else None
        return Frame.video(
            ticks, self._decode_time(codec, ticks), unit.nal_units, unit.keyframe, wallclock
        )

    def _decode_time(self, codec: VideoCodec, pts: int) -> int:
        estimator = self._dts
        if estimator is None:
            sps = self.parameter_sets[SPS_TYPES[codec]]
            estimator = self._dts = DtsEstimator.for_sps(codec, sps, CLOCK_RATE)
        late = estimator.deeper_than_declared
        dts = estimator.dts(pts)
        if estimator.deeper_than_declared != late:
            logger.warning(
                "%s stream %s reorders pictures deeper than its SPS says: now %d deep",
                codec.name,
                self.control,
                estimator.depth,
            )
        return dts
