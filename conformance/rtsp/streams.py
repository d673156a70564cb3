"""What an SDP media section says a stream is, and the stream's packets beside it.

:class:`MediaFormat` reads the first payload format of an ``m=`` section (codec, clock rate,
video codec for the NAL judges); :class:`Stream` is one received RTP stream with that format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.rtsp.rtp import Finding, Received, parse_all
from wire.codec.nal import VideoCodec
from wire.sdp import MediaDescription, PayloadFormat

VIDEO_CODECS = {"H264": VideoCodec.H264, "H265": VideoCodec.H265}


@dataclass(frozen=True)
class MediaFormat:
    media: str
    payload_types: tuple[int, ...]
    format: PayloadFormat | None

    @classmethod
    def of(cls, media: MediaDescription) -> MediaFormat:
        types = tuple(int(f) for f in media.formats if f.isdigit())
        formats = media.payload_formats()
        return cls(media.media, types, formats[0] if formats else None)

    @property
    def clock_rate(self) -> int:
        return self.format.clock_rate if self.format is not None else 0

    @property
    def video_codec(self) -> VideoCodec | None:
        return VIDEO_CODECS.get(self.format.codec) if self.format is not None else None

    @property
    def label(self) -> str:
        name = self.format.encoding_name if self.format is not None else "?"
        return f"{self.media} ({name})"


@dataclass
class Stream:
    """One track's RTP as one session received it."""

    transport: str
    track: int
    format: MediaFormat
    packets: list[Received]
    unparsed: list[Finding] = field(default_factory=list)

    @classmethod
    def build(
        cls, transport: str, track: int, fmt: MediaFormat, data: list[tuple[float, bytes]]
    ) -> Stream:
        packets, unparsed = parse_all(data)
        return cls(transport, track, fmt, packets, unparsed)

    @property
    def name(self) -> str:
        return f"{self.transport} track {self.track} {self.format.label}"
