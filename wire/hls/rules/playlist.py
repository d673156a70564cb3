"""Rules over one parsed media playlist."""

from __future__ import annotations

from collections.abc import Iterator

from wire.hls.playlist import round_duration
from wire.hls.render import format_date_time
from wire.hls.rules.registry import PlaylistView, Severity, Violation, playlist_rule

# RFC 8216 §6.2.2: a live playlist holds at least three target durations.
MIN_TARGET_DURATIONS = 3
# Apple HLS Authoring Specification: live playlists list at least six segments.
APPLE_MIN_SEGMENTS = 6
# rfc8216bis §4.4.3.8: PART-HOLD-BACK at least twice the part target, Apple asks for three times.
MIN_PART_HOLD_BACK = 2
APPLE_MIN_PART_HOLD_BACK = 3
# rfc8216bis §4.4.3.8: HOLD-BACK at least three target durations.
MIN_HOLD_BACK = 3
# Decimal attribute values are compared with this slack, so 0.6 counts as 3 times 0.2.
EPSILON = 1e-6


@playlist_rule("extinf-within-target-duration")
def extinf_within_target_duration(view: PlaylistView) -> Iterator[Violation]:
    """Each EXTINF rounded to the nearest integer is at most EXT-X-TARGETDURATION
    (RFC 8216 §4.3.3.1; Apple: never more than 0.5 s over)."""
    target = view.playlist.target_duration
    for number, segment in view.playlist.numbered():
        if round_duration(segment.duration) > target:
            yield Violation(
                f"segment {number} ({segment.uri}) lasts {segment.duration} s, "
                f"more than the target duration {target} s after rounding"
            )


@playlist_rule("live-no-endlist")
def live_no_endlist(view: PlaylistView) -> Iterator[Violation]:
    """A live playlist has neither EXT-X-ENDLIST nor EXT-X-PLAYLIST-TYPE (RFC 8216 §6.2.2)."""
    if not view.live:
        return
    if view.playlist.endlist:
        yield Violation("a live playlist carries #EXT-X-ENDLIST")
    if view.playlist.playlist_type is not None:
        yield Violation(
            f"a live playlist carries #EXT-X-PLAYLIST-TYPE:{view.playlist.playlist_type}"
        )


@playlist_rule("live-three-target-durations", Severity.WARNING)
def live_three_target_durations(view: PlaylistView) -> Iterator[Violation]:
    """A live playlist lists at least three target durations of media (RFC 8216 §6.2.2; only
    a warning for one playlist, which may be a stream that is just starting)."""
    playlist = view.playlist
    minimum = MIN_TARGET_DURATIONS * playlist.target_duration
    if view.live and not playlist.endlist and playlist.duration < minimum:
        yield Violation(
            f"the playlist holds {playlist.duration:.3f} s, less than "
            f"{MIN_TARGET_DURATIONS} target durations ({minimum} s)"
        )


@playlist_rule("apple-six-segments", Severity.WARNING)
def apple_six_segments(view: PlaylistView) -> Iterator[Violation]:
    """A live playlist lists at least six segments (Apple HLS Authoring Specification)."""
    count = len(view.playlist.segments)
    if view.live and not view.playlist.endlist and count < APPLE_MIN_SEGMENTS:
        yield Violation(f"the playlist lists {count} segments, fewer than {APPLE_MIN_SEGMENTS}")


@playlist_rule("program-date-time-present", Severity.WARNING)
def program_date_time_present(view: PlaylistView) -> Iterator[Violation]:
    """The first segment of a live playlist carries EXT-X-PROGRAM-DATE-TIME, so every segment
    has a wallclock time (RFC 8216 §4.3.2.6; Apple HLS Authoring Specification)."""
    segments = view.playlist.segments
    if view.live and segments and segments[0].program_date_time is None:
        yield Violation(f"the first segment ({segments[0].uri}) has no #EXT-X-PROGRAM-DATE-TIME")


@playlist_rule("program-date-time-order")
def program_date_time_order(view: PlaylistView) -> Iterator[Violation]:
    """Without a discontinuity between them, a later segment's EXT-X-PROGRAM-DATE-TIME is not
    earlier than an earlier one's (RFC 8216 §4.3.2.6: the date-time of the segment's first
    sample)."""
    previous = None
    for number, segment in view.playlist.numbered():
        if segment.discontinuity:
            previous = None
        stamp = segment.program_date_time
        if stamp is None:
            continue
        # Naive and aware date-times cannot be ordered; program-date-time-format flags them.
        comparable = previous is not None and (previous.tzinfo is None) == (stamp.tzinfo is None)
        if previous is not None and comparable and stamp < previous:
            yield Violation(
                f"segment {number} starts at {format_date_time(stamp)}, before "
                f"{format_date_time(previous)} of an earlier segment"
            )
        previous = stamp


@playlist_rule("part-inf-with-parts")
def part_inf_with_parts(view: PlaylistView) -> Iterator[Violation]:
    """A playlist with EXT-X-PART tags has EXT-X-PART-INF (rfc8216bis §4.4.3.7)."""
    playlist = view.playlist
    has_parts = bool(playlist.trailing_parts) or any(s.parts for s in playlist.segments)
    if has_parts and playlist.part_target is None:
        yield Violation("#EXT-X-PART without #EXT-X-PART-INF")


@playlist_rule("part-within-part-target")
def part_within_part_target(view: PlaylistView) -> Iterator[Violation]:
    """Each partial segment lasts at most PART-TARGET (rfc8216bis §4.4.4.9)."""
    target = view.playlist.part_target
    if target is None:
        return
    parts = [p for s in view.playlist.segments for p in s.parts]
    for part in parts + list(view.playlist.trailing_parts):
        if part.duration > target + EPSILON:
            yield Violation(f"part {part.uri} lasts {part.duration} s, PART-TARGET is {target} s")


@playlist_rule("part-hold-back")
def part_hold_back(view: PlaylistView) -> Iterator[Violation]:
    """With EXT-X-PART-INF, PART-HOLD-BACK is present and at least twice PART-TARGET
    (rfc8216bis §4.4.3.8)."""
    target = view.playlist.part_target
    if target is None:
        return
    control = view.playlist.server_control
    hold_back = control.part_hold_back if control is not None else None
    if hold_back is None:
        yield Violation("#EXT-X-PART-INF without PART-HOLD-BACK in #EXT-X-SERVER-CONTROL")
    elif hold_back < MIN_PART_HOLD_BACK * target - EPSILON:
        yield Violation(
            f"PART-HOLD-BACK {hold_back} s is less than {MIN_PART_HOLD_BACK} times PART-TARGET "
            f"({round(MIN_PART_HOLD_BACK * target, 6)} s)"
        )


@playlist_rule("apple-part-hold-back", Severity.WARNING)
def apple_part_hold_back(view: PlaylistView) -> Iterator[Violation]:
    """PART-HOLD-BACK is at least three times PART-TARGET (Apple HLS Authoring Specification)."""
    target = view.playlist.part_target
    control = view.playlist.server_control
    if target is None or control is None or control.part_hold_back is None:
        return
    minimum = round(APPLE_MIN_PART_HOLD_BACK * target, 6)
    if control.part_hold_back < minimum - EPSILON:
        yield Violation(
            f"PART-HOLD-BACK {control.part_hold_back} s is less than "
            f"{APPLE_MIN_PART_HOLD_BACK} times PART-TARGET ({minimum} s)"
        )


@playlist_rule("hold-back")
def hold_back(view: PlaylistView) -> Iterator[Violation]:
    """HOLD-BACK, when present, is at least three target durations (rfc8216bis §4.4.3.8)."""
    control = view.playlist.server_control
    minimum = MIN_HOLD_BACK * view.playlist.target_duration
    if control is not None and control.hold_back is not None and control.hold_back < minimum:
        yield Violation(f"HOLD-BACK {control.hold_back} s is less than {minimum} s")
