"""How segments are written: a small interface, and the formats by name (``mpegts``, ``fmp4``).

The segmenter decides where segments begin and end; a :class:`SegmentWriter` turns the frames
between into bytes, and hands back an initialization section (``EXT-X-MAP``, RFC 8216
§4.3.2.5) for formats that have one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from refserver.hls.fmp4 import Fmp4SegmentWriter, fmp4_audio_problem
from refserver.hls.media import AudioConfig, Frame, VideoConfig
from refserver.hls.ts import TsSegmentWriter, adts_problem


class SegmentWriter(Protocol):
    """Turns one segment's frames into its bytes."""

    def configure(self, video: VideoConfig | None, audio: AudioConfig | None) -> bytes | None:
        """New track configurations; returns the initialization section, None without one."""

    def begin(self) -> None:
        """A segment starts."""

    def add(self, frame: Frame) -> None:
        """A frame of the open segment, in decode order."""

    def end(self, end_dts: int) -> bytes:
        """The segment ends where the next begins, at ``end_dts`` (90 kHz); its bytes."""


WriterFactory = Callable[[VideoConfig | None, AudioConfig | None], SegmentWriter]


@dataclass(frozen=True, slots=True)
class SegmentFormat:
    """A segment format: its writer, default file names, and why it cannot carry an audio
    configuration (None when it can)."""

    name: str
    segment_name: str
    writer: WriterFactory
    audio_problem: Callable[[AudioConfig], str | None]


SEGMENT_FORMATS: dict[str, SegmentFormat] = {
    "mpegts": SegmentFormat("mpegts", "segment{sequence}.ts", TsSegmentWriter, adts_problem),
    "fmp4": SegmentFormat("fmp4", "seg-{sequence}.m4s", Fmp4SegmentWriter, fmp4_audio_problem),
}
