"""MPEG-TS segments: each one starts with a PAT and a PMT, then PES packets of every frame."""

from __future__ import annotations

from refserver.hls.media import AudioConfig, Frame, FrameKind, VideoConfig
from wire.codec.aac import AudioSpecificConfig
from wire.codec.nal import VideoCodec
from wire.ts.muxer import TsMuxer


class TsSegmentWriter:
    """One TS muxer for the stream's life, so continuity counters run across segments."""

    def __init__(self, video: VideoConfig | None, audio: AudioConfig | None) -> None:
        self._muxer = TsMuxer(*_muxer_config(video, audio))
        self._data = bytearray()

    def configure(self, video: VideoConfig | None, audio: AudioConfig | None) -> bytes | None:
        """New tracks (a new PMT version); TS has no initialization section."""
        self._muxer.configure(*_muxer_config(video, audio))
        return None

    def begin(self) -> None:
        self._data = bytearray(self._muxer.tables())

    def add(self, frame: Frame) -> None:
        if frame.kind is FrameKind.VIDEO:
            self._data += self._muxer.video_access_unit(
                frame.nalus, frame.pts, frame.dts, frame.keyframe
            )
        else:
            self._data += self._muxer.audio_frame(frame.data, frame.pts)

    def end(self, end_dts: int) -> bytes:
        data, self._data = bytes(self._data), bytearray()
        return data


def _muxer_config(
    video: VideoConfig | None, audio: AudioConfig | None
) -> tuple[VideoCodec | None, AudioSpecificConfig | None, tuple[bytes, ...]]:
    return (
        video.codec if video is not None else None,
        audio.asc if audio is not None else None,
        video.parameter_sets if video is not None else (),
    )
