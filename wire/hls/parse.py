"""Reading playlist text into a :class:`~wire.hls.playlist.MediaPlaylist` (RFC 8216 §4).

The parser is tolerant where real servers differ harmlessly: CR LF line endings, a BOM, blank
lines, comments, EXTINF without the comma, header tags after the first segment, tags it does not
model (``EXT-X-KEY``, ``EXT-X-DATERANGE``, ``EXT-X-START``, unknown tags; §6.3.1 says clients
ignore what they do not recognize). Judging such things is :mod:`wire.hls.validate`'s job. It
raises :class:`PlaylistError` when no sensible media playlist can be read: no ``#EXTM3U``, no
``EXT-X-TARGETDURATION``, a master playlist, a malformed value, a URI without EXTINF or an EXTINF
without URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from wire.digits import UINT64_MAX, fits_decimal, shown_digits
from wire.hls.attributes import AttributeList, decimal_integer, parse_attributes
from wire.hls.errors import PlaylistError
from wire.hls.lines import EXTM3U, Line, decode, split_lines
from wire.hls.playlist import (
    ByteRange,
    InitSection,
    MediaPlaylist,
    MediaSegment,
    PartialSegment,
    PlaylistType,
    PreloadHint,
    PreloadHintType,
    ServerControl,
)

# §4.3.4: tags that only appear in master playlists.
MASTER_PLAYLIST_TAGS = frozenset(
    {
        "#EXT-X-STREAM-INF",
        "#EXT-X-MEDIA",
        "#EXT-X-I-FRAME-STREAM-INF",
        "#EXT-X-SESSION-DATA",
        "#EXT-X-SESSION-KEY",
    }
)

_DURATION = re.compile(r"([0-9]+)(\.[0-9]*)?")
_BYTERANGE = re.compile(r"([0-9]+)(@([0-9]+))?")


def parse(data: str | bytes) -> MediaPlaylist:
    """Parse a media playlist; raises :class:`PlaylistError` for what cannot be one."""
    lines = split_lines(decode(data))
    if not lines or lines[0].text != EXTM3U:
        got = repr(lines[0].text[:40]) if lines else "an empty playlist"
        raise PlaylistError(f"line {lines[0].number if lines else 1}: expected #EXTM3U, got {got}")
    builder = _Builder()
    for line in lines[1:]:
        try:
            builder.feed(line)
        except PlaylistError as exc:
            raise PlaylistError(f"line {line.number}: {exc}") from None
    return builder.finish()


def parse_date_time(text: str) -> datetime:
    """An ISO 8601 date-time (§4.3.2.6); the zone may be absent (the validator flags that)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise PlaylistError(
            f"#EXT-X-PROGRAM-DATE-TIME {text!r} is not an ISO 8601 date-time"
        ) from None


def parse_byterange(text: str, what: str) -> ByteRange:
    match = _BYTERANGE.fullmatch(text)
    length = decimal_integer(match.group(1)) if match else None
    offset = decimal_integer(match.group(3)) if match and match.group(3) else None
    if match is None or length is None or (match.group(3) and offset is None):
        raise PlaylistError(f"{what} {shown_digits(text)} is not <n>[@<o>]")
    return ByteRange(length, offset)


def _integer(line: Line) -> int:
    value = line.value or ""
    number = decimal_integer(value)
    if number is None:
        raise PlaylistError(f"{line.tag} value {shown_digits(value)} is not a decimal-integer")
    return number


def _duration(text: str, what: str) -> float:
    match = _DURATION.fullmatch(text)
    # A whole part past the decimal-integer range would make float() infinite.
    if match is None or not fits_decimal(match.group(1), UINT64_MAX):
        raise PlaylistError(
            f"{what} duration {shown_digits(text)} is not a non-negative decimal number"
        )
    return float(text)


@dataclass
class _Pending:
    """Tags seen since the last URI, applying to the next segment (§4.3.2)."""

    duration: float | None = None
    title: str = ""
    discontinuity: bool = False
    program_date_time: datetime | None = None
    byterange: ByteRange | None = None
    gap: bool = False
    parts: list[PartialSegment] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        # target_duration -1 until the tag is seen; finish() insists on it.
        self.playlist = MediaPlaylist(target_duration=-1)
        self.segments: list[MediaSegment] = []
        self.pending = _Pending()
        self.init_section: InitSection | None = None
        self.hints: list[PreloadHint] = []

    def feed(self, line: Line) -> None:
        if line.is_comment:
            return
        if line.is_uri:
            self._uri(line.text)
            return
        if line.tag in MASTER_PLAYLIST_TAGS:
            raise PlaylistError(f"{line.tag} is a master playlist tag, not a media playlist one")
        handler = _TAG_HANDLERS.get(line.tag)
        if handler is not None:
            handler(self, line)

    def _uri(self, uri: str) -> None:
        pending = self.pending
        if pending.duration is None:
            raise PlaylistError(f"URI {uri[:60]!r} without a preceding #EXTINF")
        self.segments.append(
            MediaSegment(
                uri=uri,
                duration=pending.duration,
                title=pending.title,
                discontinuity=pending.discontinuity,
                program_date_time=pending.program_date_time,
                init_section=self.init_section,
                byterange=pending.byterange,
                gap=pending.gap,
                parts=tuple(pending.parts),
            )
        )
        self.pending = _Pending()

    def finish(self) -> MediaPlaylist:
        if self.pending.duration is not None:
            raise PlaylistError("#EXTINF at the end of the playlist without a URI")
        if self.playlist.target_duration < 0:
            raise PlaylistError("no #EXT-X-TARGETDURATION tag")
        return replace(
            self.playlist,
            segments=tuple(self.segments),
            trailing_parts=tuple(self.pending.parts),
            preload_hints=tuple(self.hints),
        )

    # Playlist tags (§4.3.1, §4.3.3, §4.3.5, rfc8216bis §4.4.3).

    def _version(self, line: Line) -> None:
        self.playlist = replace(self.playlist, version=_integer(line))

    def _target_duration(self, line: Line) -> None:
        self.playlist = replace(self.playlist, target_duration=_integer(line))

    def _media_sequence(self, line: Line) -> None:
        self.playlist = replace(self.playlist, media_sequence=_integer(line))

    def _discontinuity_sequence(self, line: Line) -> None:
        self.playlist = replace(self.playlist, discontinuity_sequence=_integer(line))

    def _playlist_type(self, line: Line) -> None:
        try:
            playlist_type = PlaylistType(line.value or "")
        except ValueError:
            raise PlaylistError(
                f"#EXT-X-PLAYLIST-TYPE {line.value!r} is not EVENT or VOD"
            ) from None
        self.playlist = replace(self.playlist, playlist_type=playlist_type)

    def _independent_segments(self, line: Line) -> None:
        self.playlist = replace(self.playlist, independent_segments=True)

    def _i_frames_only(self, line: Line) -> None:
        self.playlist = replace(self.playlist, i_frames_only=True)

    def _endlist(self, line: Line) -> None:
        self.playlist = replace(self.playlist, endlist=True)

    def _part_inf(self, line: Line) -> None:
        attributes = _attributes(line)
        attributes.require("PART-TARGET")
        self.playlist = replace(self.playlist, part_target=attributes.decimal("PART-TARGET"))

    def _server_control(self, line: Line) -> None:
        attributes = _attributes(line)
        control = ServerControl(
            can_block_reload=attributes.yes("CAN-BLOCK-RELOAD"),
            can_skip_until=attributes.decimal("CAN-SKIP-UNTIL"),
            can_skip_dateranges=attributes.yes("CAN-SKIP-DATERANGES"),
            hold_back=attributes.decimal("HOLD-BACK"),
            part_hold_back=attributes.decimal("PART-HOLD-BACK"),
        )
        self.playlist = replace(self.playlist, server_control=control)

    def _skip(self, line: Line) -> None:
        raise PlaylistError("#EXT-X-SKIP: playlist delta updates are not supported")

    # Media segment tags (§4.3.2, rfc8216bis §4.4.4.9, §4.4.5.3).

    def _extinf(self, line: Line) -> None:
        duration, _, title = (line.value or "").partition(",")
        self.pending.duration = _duration(duration.strip(), "#EXTINF")
        self.pending.title = title

    def _byterange(self, line: Line) -> None:
        self.pending.byterange = parse_byterange(line.value or "", "#EXT-X-BYTERANGE")

    def _discontinuity(self, line: Line) -> None:
        self.pending.discontinuity = True

    def _program_date_time(self, line: Line) -> None:
        self.pending.program_date_time = parse_date_time(line.value or "")

    def _gap(self, line: Line) -> None:
        self.pending.gap = True

    def _map(self, line: Line) -> None:
        attributes = _attributes(line)
        attributes.require("URI")
        byterange = attributes.quoted("BYTERANGE")
        self.init_section = InitSection(
            uri=attributes.quoted("URI") or "",
            byterange=None
            if byterange is None
            else parse_byterange(byterange, "#EXT-X-MAP BYTERANGE"),
        )

    def _part(self, line: Line) -> None:
        attributes = _attributes(line)
        attributes.require("URI")
        attributes.require("DURATION")
        byterange = attributes.quoted("BYTERANGE")
        self.pending.parts.append(
            PartialSegment(
                uri=attributes.quoted("URI") or "",
                duration=attributes.decimal("DURATION") or 0.0,
                independent=attributes.yes("INDEPENDENT"),
                byterange=None
                if byterange is None
                else parse_byterange(byterange, "#EXT-X-PART BYTERANGE"),
                gap=attributes.yes("GAP"),
            )
        )

    def _preload_hint(self, line: Line) -> None:
        attributes = _attributes(line)
        attributes.require("TYPE")
        attributes.require("URI")
        kind = attributes.enumerated("TYPE")
        try:
            hint_type = PreloadHintType(kind or "")
        except ValueError:
            raise PlaylistError(f"#EXT-X-PRELOAD-HINT TYPE={kind} is not PART or MAP") from None
        self.hints.append(
            PreloadHint(
                type=hint_type,
                uri=attributes.quoted("URI") or "",
                byterange_start=attributes.integer("BYTERANGE-START"),
                byterange_length=attributes.integer("BYTERANGE-LENGTH"),
            )
        )


def _attributes(line: Line) -> AttributeList:
    return parse_attributes(line.tag, line.value or "")


_TAG_HANDLERS = {
    "#EXT-X-VERSION": _Builder._version,
    "#EXT-X-TARGETDURATION": _Builder._target_duration,
    "#EXT-X-MEDIA-SEQUENCE": _Builder._media_sequence,
    "#EXT-X-DISCONTINUITY-SEQUENCE": _Builder._discontinuity_sequence,
    "#EXT-X-PLAYLIST-TYPE": _Builder._playlist_type,
    "#EXT-X-INDEPENDENT-SEGMENTS": _Builder._independent_segments,
    "#EXT-X-I-FRAMES-ONLY": _Builder._i_frames_only,
    "#EXT-X-ENDLIST": _Builder._endlist,
    "#EXT-X-PART-INF": _Builder._part_inf,
    "#EXT-X-SERVER-CONTROL": _Builder._server_control,
    "#EXT-X-SKIP": _Builder._skip,
    "#EXTINF": _Builder._extinf,
    "#EXT-X-BYTERANGE": _Builder._byterange,
    "#EXT-X-DISCONTINUITY": _Builder._discontinuity,
    "#EXT-X-PROGRAM-DATE-TIME": _Builder._program_date_time,
    "#EXT-X-GAP": _Builder._gap,
    "#EXT-X-MAP": _Builder._map,
    "#EXT-X-PART": _Builder._part,
    "#EXT-X-PRELOAD-HINT": _Builder._preload_hint,
}
