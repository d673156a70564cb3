"""Writing a :class:`~wire.hls.playlist.MediaPlaylist` as playlist text (RFC 8216 §4)."""

from __future__ import annotations

from datetime import UTC, datetime

from wire.hls.attributes import format_attributes, format_decimal
from wire.hls.playlist import (
    InitSection,
    MediaPlaylist,
    MediaSegment,
    PartialSegment,
    PreloadHint,
    ServerControl,
)


def format_date_time(value: datetime) -> str:
    """ISO 8601 with milliseconds and, for aware values, the zone (§4.3.2.6); UTC as ``Z``."""
    text = value.isoformat(timespec="milliseconds")
    if value.utcoffset() is not None and value.utcoffset() == UTC.utcoffset(None):
        text = text.removesuffix("+00:00") + "Z"
    return text


def render(playlist: MediaPlaylist) -> str:
    """The playlist as text, header tags first, one tag or URI per line, LF line endings."""
    lines = ["#EXTM3U"]
    if playlist.version is not None:
        lines.append(f"#EXT-X-VERSION:{playlist.version}")
    lines.append(f"#EXT-X-TARGETDURATION:{playlist.target_duration}")
    if playlist.server_control is not None:
        lines.append(f"#EXT-X-SERVER-CONTROL:{_server_control(playlist.server_control)}")
    if playlist.part_target is not None:
        lines.append(f"#EXT-X-PART-INF:PART-TARGET={format_decimal(playlist.part_target)}")
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}")
    if playlist.discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.discontinuity_sequence}")
    if playlist.playlist_type is not None:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{playlist.playlist_type}")
    if playlist.i_frames_only:
        lines.append("#EXT-X-I-FRAMES-ONLY")
    if playlist.independent_segments:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    init_section: InitSection | None = None
    for segment in playlist.segments:
        if segment.init_section != init_section and segment.init_section is not None:
            lines.append(f"#EXT-X-MAP:{_map(segment.init_section)}")
        init_section = segment.init_section
        lines.extend(_segment(segment))
    lines.extend(f"#EXT-X-PART:{_part(part)}" for part in playlist.trailing_parts)
    lines.extend(f"#EXT-X-PRELOAD-HINT:{_hint(hint)}" for hint in playlist.preload_hints)
    if playlist.endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _segment(segment: MediaSegment) -> list[str]:
    lines = []
    if segment.discontinuity:
        lines.append("#EXT-X-DISCONTINUITY")
    if segment.program_date_time is not None:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_date_time(segment.program_date_time)}")
    lines.extend(f"#EXT-X-PART:{_part(part)}" for part in segment.parts)
    if segment.gap:
        lines.append("#EXT-X-GAP")
    lines.append(f"#EXTINF:{format_decimal(segment.duration)},{segment.title}")
    if segment.byterange is not None:
        lines.append(f"#EXT-X-BYTERANGE:{segment.byterange}")
    lines.append(segment.uri)
    return lines


def _map(init: InitSection) -> str:
    attributes: list[tuple[str, str | int | float | bool, bool]] = [("URI", init.uri, True)]
    if init.byterange is not None:
        attributes.append(("BYTERANGE", str(init.byterange), True))
    return format_attributes(attributes)


def _part(part: PartialSegment) -> str:
    attributes: list[tuple[str, str | int | float | bool, bool]] = [
        ("DURATION", part.duration, False),
        ("URI", part.uri, True),
    ]
    if part.independent:
        attributes.append(("INDEPENDENT", True, False))
    if part.byterange is not None:
        attributes.append(("BYTERANGE", str(part.byterange), True))
    if part.gap:
        attributes.append(("GAP", True, False))
    return format_attributes(attributes)


def _hint(hint: PreloadHint) -> str:
    attributes: list[tuple[str, str | int | float | bool, bool]] = [
        ("TYPE", hint.type.value, False),
        ("URI", hint.uri, True),
    ]
    if hint.byterange_start is not None:
        attributes.append(("BYTERANGE-START", hint.byterange_start, False))
    if hint.byterange_length is not None:
        attributes.append(("BYTERANGE-LENGTH", hint.byterange_length, False))
    return format_attributes(attributes)


def _server_control(control: ServerControl) -> str:
    attributes: list[tuple[str, str | int | float | bool, bool]] = []
    if control.can_block_reload:
        attributes.append(("CAN-BLOCK-RELOAD", True, False))
    if control.can_skip_until is not None:
        attributes.append(("CAN-SKIP-UNTIL", control.can_skip_until, False))
    if control.can_skip_dateranges:
        attributes.append(("CAN-SKIP-DATERANGES", True, False))
    if control.hold_back is not None:
        attributes.append(("HOLD-BACK", control.hold_back, False))
    if control.part_hold_back is not None:
        attributes.append(("PART-HOLD-BACK", control.part_hold_back, False))
    return format_attributes(attributes)
