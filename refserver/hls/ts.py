"""MPEG-TS segments: each one starts with a PAT and a PMT, then PES packets of every frame.

Audio frames are gathered into one PES until it holds :data:`AUDIO_PES_BYTES` or spans
:data:`AUDIO_PES_TICKS`, as FFmpeg's muxer (``pes_payload_size``) and nginx-rtmp
(``hls_max_audio_delay``) do; a gap in the audio timeline, or the end of the segment, closes the
PES early so that every frame keeps its time.
"""

from __future__ import annotations

from refserver.hls.media import VIDEO, AudioConfig, Frame, VideoConfig, describe_object_type
from wire.codec.aac import AOT_AAC_LTP, AOT_AAC_MAIN, FREQUENCY_INDEX_ESCAPE, AudioSpecificConfig
from wire.codec.nal import VideoCodec
from wire.ts.muxer import TsMuxer

AUDIO_PES_BYTES = 2930
"""FFmpeg's default ``pes_payload_size``."""
AUDIO_PES_TICKS = 27000
"""300 ms in 90 kHz ticks: nginx-rtmp's default ``hls_max_audio_delay``."""


ADTS_OBJECT_TYPES = range(AOT_AAC_MAIN, AOT_AAC_LTP + 1)
"""ADTS has two bits of profile, the audio object type minus one (ISO/IEC 13818-7 §6.2.1)."""
ADTS_MAX_CHANNEL_CONFIGURATION = 7


def adts_problem(audio: AudioConfig) -> str | None:
    """Why an AAC configuration cannot be carried in ADTS, as MPEG-TS carries AAC; None when
    it can. HE-AAC is fine: ADTS carries its AAC LC core and decoders find SBR in band."""
    asc = audio.asc
    if asc.object_type not in ADTS_OBJECT_TYPES:
        return f"{describe_object_type(asc.object_type)} cannot be carried in ADTS"
    if asc.sampling_frequency_index == FREQUENCY_INDEX_ESCAPE:
        return f"a sample rate of {asc.sample_rate} Hz has no ADTS sampling frequency index"
    if asc.channel_configuration > ADTS_MAX_CHANNEL_CONFIGURATION:
        return f"channel configuration {asc.channel_configuration} cannot be carried in ADTS"
    return None


class TsSegmentWriter:
    """One TS muxer for the stream's life, so continuity counters run across segments."""

    def __init__(self, video: VideoConfig | None, audio: AudioConfig | None) -> None:
        self._muxer = TsMuxer(*_muxer_config(video, audio))
        self._parts: list[bytes] = []
        self._audio: list[bytes] = []
        self._audio_pts = self._audio_next = self._audio_bytes = 0
        self._frame_ticks = audio.frame_ticks if audio is not None else 0

    def configure(self, video: VideoConfig | None, audio: AudioConfig | None) -> bytes | None:
        """New tracks (a new PMT version); TS has no initialization section."""
        self._flush_audio()
        self._muxer.configure(*_muxer_config(video, audio))
        self._frame_ticks = audio.frame_ticks if audio is not None else 0
        return None

    def begin(self) -> None:
        self._parts = [self._muxer.tables()]

    def add(self, frame: Frame) -> None:
        if frame.kind is VIDEO:
            self._parts.append(
                self._muxer.video_access_unit(frame.nalus, frame.pts, frame.dts, frame.keyframe)
            )
            return
        data, pts = frame.data, frame.pts
        if self._audio and (
            abs(pts - self._audio_next) * 2 > self._frame_ticks
            or pts - self._audio_pts >= AUDIO_PES_TICKS
            or self._audio_bytes + len(data) > AUDIO_PES_BYTES
        ):
            self._flush_audio()
        if not self._audio:
            self._audio_pts, self._audio_next = pts, pts
        self._audio.append(data)
        self._audio_bytes += len(data)
        self._audio_next += self._frame_ticks

    def end(self, end_dts: int) -> bytes:
        self._flush_audio()
        data = b"".join(self._parts)
        self._parts = []
        return data

    def _flush_audio(self) -> None:
        if self._audio:
            self._parts.append(self._muxer.audio_frames(self._audio, self._audio_pts))
            self._audio, self._audio_bytes = [], 0


def _muxer_config(
    video: VideoConfig | None, audio: AudioConfig | None
) -> tuple[VideoCodec | None, AudioSpecificConfig | None, tuple[bytes, ...]]:
    return (
        video.codec if video is not None else None,
        audio.asc if audio is not None else None,
        video.parameter_sets if video is not None else (),
    )
