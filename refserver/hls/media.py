"""What sources hand to the HLS packager: track configurations and frames.

RTMP ingest and RTSP pull both turn what they receive into these, so the packager never knows
where media came from. Timestamps are 90 kHz ticks for every track (MPEG-TS time), integers
that keep growing (no 33-bit wrap); audio sources convert from their sample clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from wire.codec.aac import AudioSpecificConfig
from wire.codec.nal import VideoCodec

CLOCK_RATE = 90_000

AUDIO_OBJECT_TYPES = {
    1: "AAC Main", 2: "AAC LC", 3: "AAC SSR", 4: "AAC LTP", 5: "SBR", 6: "AAC Scalable",
    7: "TwinVQ", 8: "CELP", 9: "HVXC", 12: "TTSI", 13: "Main Synthetic",
    14: "Wavetable Synthesis", 15: "General MIDI", 16: "Algorithmic Synthesis and Audio FX",
    17: "ER AAC LC", 19: "ER AAC LTP", 20: "ER AAC Scalable", 21: "ER TwinVQ", 22: "ER BSAC",
    23: "ER AAC LD", 24: "ER CELP", 25: "ER HVXC", 26: "ER HILN", 27: "ER Parametric",
    28: "SSC", 29: "PS", 30: "MPEG Surround", 32: "Layer-1", 33: "Layer-2", 34: "Layer-3",
    35: "DST", 36: "ALS", 37: "SLS", 38: "SLS non-core", 39: "ER AAC ELD", 40: "SMR Simple",
    41: "SMR Main", 42: "USAC", 43: "SAOC", 44: "LD MPEG Surround", 45: "SAOC-DE",
    46: "Audio Sync",
}  # fmt: skip
"""ISO/IEC 14496-3 Table 1.17: the names of the audio object types, for messages."""


def describe_object_type(object_type: int) -> str:
    """``audio object type 19 (ER AAC LTP)``; types the table leaves out are reserved."""
    return f"audio object type {object_type} ({AUDIO_OBJECT_TYPES.get(object_type, 'reserved')})"


class FrameKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


VIDEO = FrameKind.VIDEO
AUDIO = FrameKind.AUDIO
"""The kinds as module constants for the per-frame paths: a member looked up on its enum class
(``FrameKind.VIDEO``) costs about ten times a global's lookup."""


@dataclass(frozen=True, slots=True)
class VideoConfig:
    """A video track: codec and parameter sets (VPS for H.265, SPS, PPS) as NAL units."""

    codec: VideoCodec
    parameter_sets: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """An AAC track, described by its AudioSpecificConfig."""

    asc: AudioSpecificConfig

    @property
    def frame_ticks(self) -> int:
        """One AAC frame (1024 samples, or 960 with frameLengthFlag) in 90 kHz ticks."""
        return self.asc.samples_per_frame * CLOCK_RATE // self.asc.sample_rate


@dataclass(frozen=True, slots=True, init=False)
class Frame:
    """One picture (``nalus``, without start codes) or one raw AAC frame (``data``).

    ``wallclock_us`` is the capture time when the source knows it (microseconds since the
    epoch); without it the packager looks for the camsim SEI stamp in the picture.
    """

    kind: FrameKind
    pts: int
    dts: int
    keyframe: bool = False
    nalus: tuple[bytes, ...] = ()
    data: bytes = b""
    wallclock_us: int | None = None

    def __init__(
        self,
        kind: FrameKind,
        pts: int,
        dts: int,
        keyframe: bool = False,
        nalus: tuple[bytes, ...] = (),
        data: bytes = b"",
        wallclock_us: int | None = None,
    ) -> None:
        # The generated __init__ of a frozen dataclass goes through object.__setattr__ by name
        # for every field; every frame of every stream is made here, so the slots are set
        # through their descriptors instead (the same attributes, still frozen afterwards).
        _set_kind(self, kind)
        _set_pts(self, pts)
        _set_dts(self, dts)
        _set_keyframe(self, keyframe)
        _set_nalus(self, nalus)
        _set_data(self, data)
        _set_wallclock_us(self, wallclock_us)

    @classmethod
    def video(
        cls,
        pts: int,
        dts: int,
        nalus: tuple[bytes, ...],
        keyframe: bool,
        wallclock_us: int | None = None,
    ) -> Frame:
        return cls(VIDEO, pts, dts, keyframe, nalus, b"", wallclock_us)

    @classmethod
    def audio(cls, pts: int, data: bytes) -> Frame:
        return cls(AUDIO, pts, pts, True, (), data, None)


_SETTERS = {field.name: getattr(Frame, field.name).__set__ for field in fields(Frame)}
"""Each field's slot descriptor setter, which assigns without the frozen ``__setattr__``."""
_set_kind = _SETTERS["kind"]
_set_pts = _SETTERS["pts"]
_set_dts = _SETTERS["dts"]
_set_keyframe = _SETTERS["keyframe"]
_set_nalus = _SETTERS["nalus"]
_set_data = _SETTERS["data"]
_set_wallclock_us = _SETTERS["wallclock_us"]
