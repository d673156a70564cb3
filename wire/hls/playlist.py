"""The media playlist model (RFC 8216 §4.3, LL-HLS tags of rfc8216bis §4.4).

The model holds what a playlist says, not how it was spelled: tags that apply to one segment
(§4.3.2) are fields of :class:`MediaSegment`, playlist-wide tags (§4.3.3, §4.3.5) are fields of
:class:`MediaPlaylist`. ``EXT-X-MAP`` applies to every following segment, so each segment carries
the init section in effect for it; the renderer writes the tag only where it changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


def round_duration(duration: float) -> int:
    """A duration rounded to the nearest integer, halves up: how §4.3.3.1 compares EXTINF
    values with the target duration."""
    return int(duration + 0.5)


class PlaylistType(StrEnum):
    """``EXT-X-PLAYLIST-TYPE`` (§4.3.3.5)."""

    EVENT = "EVENT"
    VOD = "VOD"


class PreloadHintType(StrEnum):
    """``EXT-X-PRELOAD-HINT`` TYPE (rfc8216bis §4.4.5.3)."""

    PART = "PART"
    MAP = "MAP"


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``<n>[@<o>]`` (§4.3.2.2): ``offset`` None continues after the previous sub-range."""

    length: int
    offset: int | None = None

    def __str__(self) -> str:
        return str(self.length) if self.offset is None else f"{self.length}@{self.offset}"


@dataclass(frozen=True, slots=True)
class InitSection:
    """``EXT-X-MAP`` (§4.3.2.5): the Media Initialization Section of fMP4 segments."""

    uri: str
    byterange: ByteRange | None = None


@dataclass(frozen=True, slots=True)
class PartialSegment:
    """``EXT-X-PART`` (rfc8216bis §4.4.4.9)."""

    uri: str
    duration: float
    independent: bool = False
    byterange: ByteRange | None = None
    gap: bool = False


@dataclass(frozen=True, slots=True)
class PreloadHint:
    """``EXT-X-PRELOAD-HINT`` (rfc8216bis §4.4.5.3)."""

    type: PreloadHintType
    uri: str
    byterange_start: int | None = None
    byterange_length: int | None = None


@dataclass(frozen=True, slots=True)
class ServerControl:
    """``EXT-X-SERVER-CONTROL`` (rfc8216bis §4.4.3.8)."""

    can_block_reload: bool = False
    can_skip_until: float | None = None
    can_skip_dateranges: bool = False
    hold_back: float | None = None
    part_hold_back: float | None = None


@dataclass(frozen=True, slots=True)
class MediaSegment:
    """One Media Segment (§3) with the tags that apply to it (§4.3.2)."""

    uri: str
    duration: float
    title: str = ""
    discontinuity: bool = False
    program_date_time: datetime | None = None
    init_section: InitSection | None = None
    byterange: ByteRange | None = None
    gap: bool = False
    parts: tuple[PartialSegment, ...] = ()


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """A Media Playlist (§4.3.3).

    ``version`` None means no ``EXT-X-VERSION`` tag (protocol version 1, §4.3.1.2).
    ``trailing_parts`` are the parts of the segment still being produced (LL-HLS), listed after
    the last complete segment.
    """

    target_duration: int
    segments: tuple[MediaSegment, ...] = ()
    version: int | None = None
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    playlist_type: PlaylistType | None = None
    independent_segments: bool = False
    i_frames_only: bool = False
    endlist: bool = False
    part_target: float | None = None
    server_control: ServerControl | None = None
    trailing_parts: tuple[PartialSegment, ...] = ()
    preload_hints: tuple[PreloadHint, ...] = ()

    @property
    def duration(self) -> float:
        """The sum of the segment durations: the playlist's duration (§6.2.2)."""
        return sum(segment.duration for segment in self.segments)

    @property
    def next_media_sequence(self) -> int:
        """The Media Sequence Number the next appended segment will have (§3)."""
        return self.media_sequence + len(self.segments)

    def numbered(self) -> Iterator[tuple[int, MediaSegment]]:
        """Each segment with its Media Sequence Number (§3)."""
        return enumerate(self.segments, start=self.media_sequence)

    def discontinuity_numbers(self) -> Iterator[tuple[MediaSegment, int]]:
        """Each segment with its Discontinuity Sequence Number (§4.3.3.3)."""
        number = self.discontinuity_sequence
        for segment in self.segments:
            if segment.discontinuity:
                number += 1
            yield segment, number

    @property
    def is_live(self) -> bool:
        """No ENDLIST and no PLAYLIST-TYPE: segments may still be removed (§6.2.2)."""
        return not self.endlist and self.playlist_type is None

    def required_version(self) -> int:
        """The lowest EXT-X-VERSION that :func:`~wire.hls.render.render` output needs (§7).

        The renderer writes decimal-floating-point EXTINF durations, which need 3; byte ranges
        and I-frames-only need 4, EXT-X-MAP 6 (5 in an I-frames-only playlist).
        """
        version = 3
        if self.i_frames_only or any(s.byterange is not None for s in self.segments):
            version = 4
        if any(s.init_section is not None for s in self.segments):
            version = max(version, 5 if self.i_frames_only else 6)
        return version
