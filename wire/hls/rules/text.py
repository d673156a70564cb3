"""Rules over the playlist text: what the parsed model no longer shows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from wire.digits import shown_digits
from wire.hls.attributes import decimal_integer
from wire.hls.lines import BOM, EXTM3U
from wire.hls.rules.registry import TextView, Violation, text_rule

# Tags that may appear at most once in a media playlist (§4.3.1.2, §4.3.3, §4.3.5;
# rfc8216bis §4.4.3.7, §4.4.3.8).
SINGLETON_TAGS = (
    "#EXTM3U",
    "#EXT-X-VERSION",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-ENDLIST",
    "#EXT-X-PLAYLIST-TYPE",
    "#EXT-X-I-FRAMES-ONLY",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-START",
    "#EXT-X-PART-INF",
    "#EXT-X-SERVER-CONTROL",
)

# §4.3.3.2, §4.3.3.3: these must come before the first Media Segment.
HEADER_TAGS = ("#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE")

# §4.1: no control characters except CR and LF.
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# ISO 8601 with fractional seconds (at least milliseconds) and a zone: Z or ±hh:mm / ±hhmm.
_DATE_TIME_WITH_MS_AND_ZONE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3,}(Z|[+-]\d{2}(:?\d{2})?)"
)


@text_rule("extm3u-first")
def extm3u_first(view: TextView) -> Iterator[Violation]:
    """The first line is #EXTM3U (RFC 8216 §4.3.1.1)."""
    if not view.lines or view.lines[0].text != EXTM3U or view.lines[0].number != 1:
        first = view.lines[0].text[:40] if view.lines else ""
        yield Violation(f"the first line is {first!r}, not #EXTM3U", line=1)


@text_rule("no-bom")
def no_bom(view: TextView) -> Iterator[Violation]:
    """The playlist has no byte order mark (RFC 8216 §4.1)."""
    if view.text.startswith(BOM):
        yield Violation("the playlist starts with a byte order mark", line=1)


@text_rule("no-control-characters")
def no_control_characters(view: TextView) -> Iterator[Violation]:
    """No control characters other than CR and LF (RFC 8216 §4.1)."""
    for number, raw in enumerate(view.text.split("\n"), start=1):
        match = _CONTROL.search(raw.removesuffix("\r"))
        if match is not None:
            yield Violation(f"control character U+{ord(match.group()):04X}", line=number)


@text_rule("target-duration-present")
def target_duration_present(view: TextView) -> Iterator[Violation]:
    """EXT-X-TARGETDURATION is present (RFC 8216 §4.3.3.1: REQUIRED)."""
    if next(view.tags("#EXT-X-TARGETDURATION"), None) is None:
        yield Violation("no #EXT-X-TARGETDURATION tag")


@text_rule("singleton-tags")
def singleton_tags(view: TextView) -> Iterator[Violation]:
    """Playlist-wide tags appear at most once (RFC 8216 §4.3.1.2, §4.3.3, §4.3.5)."""
    counts = Counter(line.tag for line in view.tags(*SINGLETON_TAGS))
    seen: set[str] = set()
    for line in view.tags(*SINGLETON_TAGS):
        if line.tag in seen:
            yield Violation(f"{line.tag} appears {counts[line.tag]} times", line=line.number)
        seen.add(line.tag)


@text_rule("header-before-segments")
def header_before_segments(view: TextView) -> Iterator[Violation]:
    """EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE come before the first segment
    (RFC 8216 §4.3.3.2, §4.3.3.3)."""
    first_segment = next(
        (line.number for line in view.lines if line.is_uri or line.tag == "#EXTINF"), None
    )
    if first_segment is None:
        return
    for line in view.tags(*HEADER_TAGS):
        if line.number > first_segment:
            yield Violation(
                f"{line.tag} after the first segment (line {first_segment})", line=line.number
            )


@text_rule("version-compatibility")
def version_compatibility(view: TextView) -> Iterator[Violation]:
    """EXT-X-VERSION is at least what the features used need (RFC 8216 §7): decimal EXTINF 3,
    BYTERANGE and I-FRAMES-ONLY 4, KEYFORMAT 5, MAP 6 (5 in I-frames-only), SKIP 9."""
    declared_line = next(view.tags("#EXT-X-VERSION"), None)
    declared = 1
    if declared_line is not None:
        value = declared_line.value or ""
        number = decimal_integer(value)
        if number is None:
            yield Violation(
                f"EXT-X-VERSION {shown_digits(value)} is not an integer", declared_line.number
            )
            return
        declared = number
    i_frames_only = next(view.tags("#EXT-X-I-FRAMES-ONLY"), None) is not None
    for line in view.lines:
        needed, feature = _version_needed(line.tag, line.value or "", i_frames_only)
        if needed > declared:
            yield Violation(
                f"{feature} needs EXT-X-VERSION {needed}, the playlist declares {declared}",
                line=line.number,
            )


def _version_needed(tag: str, value: str, i_frames_only: bool) -> tuple[int, str]:
    if tag == "#EXTINF" and "." in value.partition(",")[0]:
        return 3, "a decimal-floating-point EXTINF duration"
    if tag in ("#EXT-X-BYTERANGE", "#EXT-X-I-FRAMES-ONLY"):
        return 4, tag
    if tag == "#EXT-X-KEY" and "KEYFORMAT" in value:
        return 5, "EXT-X-KEY with KEYFORMAT"
    if tag == "#EXT-X-MAP":
        return (5, tag) if i_frames_only else (6, tag)
    if tag == "#EXT-X-SKIP":
        return 9, tag
    return 1, tag


@text_rule("program-date-time-format")
def program_date_time_format(view: TextView) -> Iterator[Violation]:
    """EXT-X-PROGRAM-DATE-TIME has milliseconds and a time zone (RFC 8216 §4.3.2.6; Apple HLS
    Authoring Specification)."""
    for line in view.tags("#EXT-X-PROGRAM-DATE-TIME"):
        value = line.value or ""
        if not _DATE_TIME_WITH_MS_AND_ZONE.fullmatch(value):
            yield Violation(
                f"{value!r} lacks milliseconds or a time zone (e.g. 2024-05-01T12:00:00.000Z)",
                line=line.number,
            )
