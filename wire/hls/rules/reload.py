"""Rules over a sequence of reloads of one live media playlist (RFC 8216 §6.2.1, §6.2.2).

Each rule walks consecutive pairs (or the whole sequence) and reports at the index of the
reload where the problem became visible.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from wire.hls.playlist import MediaPlaylist, MediaSegment
from wire.hls.render import format_date_time
from wire.hls.rules.registry import Snapshot, Violation, reload_rule

# RFC 8216 §6.2.1: a new version with a new segment within 1.5 target durations.
MAX_UPDATE_INTERVAL = 1.5
# RFC 8216 §6.2.2: a removal never leaves less than three target durations.
MIN_TARGET_DURATIONS = 3


def _pairs(snapshots: Sequence[Snapshot]) -> Iterator[tuple[int, MediaPlaylist, MediaPlaylist]]:
    for index in range(1, len(snapshots)):
        yield index, snapshots[index - 1].playlist, snapshots[index].playlist


def _uri_numbers(playlist: MediaPlaylist) -> dict[str, int]:
    numbers: dict[str, int] = {}
    for number, segment in playlist.numbered():
        numbers.setdefault(segment.uri, number)
    return numbers


@reload_rule("media-sequence-never-decreases")
def media_sequence_never_decreases(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """EXT-X-MEDIA-SEQUENCE never decreases (RFC 8216 §6.2.1: it may only be incremented)."""
    for index, before, after in _pairs(snapshots):
        if after.media_sequence < before.media_sequence:
            yield Violation(
                f"EXT-X-MEDIA-SEQUENCE went from {before.media_sequence} down to "
                f"{after.media_sequence}",
                reload=index,
            )


@reload_rule("media-sequence-matches-removals")
def media_sequence_matches_removals(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """EXT-X-MEDIA-SEQUENCE rises by exactly the number of segments removed, which are removed
    from the front only: every URI keeps its sequence number and the last one never goes back
    (RFC 8216 §6.2.1, §6.2.2)."""
    for index, before, after in _pairs(snapshots):
        if after.next_media_sequence < before.next_media_sequence:
            yield Violation(
                f"the last segment went from number {before.next_media_sequence - 1} back to "
                f"{after.next_media_sequence - 1}: segments were removed from the end",
                reload=index,
            )
        old = _uri_numbers(before)
        for uri, number in _uri_numbers(after).items():
            if uri in old and old[uri] != number:
                yield Violation(
                    f"{uri} moved from sequence number {old[uri]} to {number} "
                    f"(EXT-X-MEDIA-SEQUENCE {before.media_sequence} -> {after.media_sequence})",
                    reload=index,
                )


@reload_rule("segment-unchanged")
def segment_unchanged(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """A sequence number keeps its URI, duration, discontinuity and date-time across reloads
    (RFC 8216 §6.2.1: the server only appends and removes from the front)."""
    for index, before, after in _pairs(snapshots):
        old_segments = dict(before.numbered())
        old_uris = _uri_numbers(before)
        new_uris = _uri_numbers(after)
        for number, segment in after.numbered():
            previous = old_segments.get(number)
            if previous is None:
                continue
            if previous.uri != segment.uri:
                # A URI under another number is media-sequence-matches-removals' finding.
                if segment.uri not in old_uris and previous.uri not in new_uris:
                    yield Violation(
                        f"segment {number} was {previous.uri}, is now {segment.uri}",
                        reload=index,
                    )
                continue
            for change in _changes(previous, segment):
                yield Violation(f"segment {number} ({segment.uri}): {change}", reload=index)


def _changes(before: MediaSegment, after: MediaSegment) -> Iterator[str]:
    if before.duration != after.duration:
        yield f"duration changed from {before.duration} to {after.duration}"
    if before.discontinuity != after.discontinuity:
        yield f"EXT-X-DISCONTINUITY {'removed' if before.discontinuity else 'added'}"
    if (
        before.program_date_time is not None
        and after.program_date_time is not None
        and before.program_date_time != after.program_date_time
    ):
        yield (
            f"EXT-X-PROGRAM-DATE-TIME changed from {format_date_time(before.program_date_time)} "
            f"to {format_date_time(after.program_date_time)}"
        )


@reload_rule("discontinuity-sequence-consistent")
def discontinuity_sequence_consistent(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """EXT-X-DISCONTINUITY-SEQUENCE rises by exactly the number of EXT-X-DISCONTINUITY tags
    removed with their segments (RFC 8216 §4.3.3.3, §6.2.2)."""
    for index, before, after in _pairs(snapshots):
        if after.media_sequence < before.media_sequence:
            continue  # media-sequence-never-decreases says it; nothing else can be compared
        removed = [s for n, s in before.numbered() if n < after.media_sequence]
        expected = before.discontinuity_sequence + sum(s.discontinuity for s in removed)
        message = (
            f"EXT-X-DISCONTINUITY-SEQUENCE is {after.discontinuity_sequence}, expected "
            f"{'at least ' if after.media_sequence > before.next_media_sequence else ''}"
            f"{expected} ({before.discontinuity_sequence} plus "
            f"{expected - before.discontinuity_sequence} removed discontinuities)"
        )
        if after.media_sequence > before.next_media_sequence:
            # Segments were added and removed between the two reloads, unseen.
            if after.discontinuity_sequence < expected:
                yield Violation(message, reload=index)
        elif after.discontinuity_sequence != expected:
            yield Violation(message, reload=index)


@reload_rule("target-duration-unchanged")
def target_duration_unchanged(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """EXT-X-TARGETDURATION never changes (RFC 8216 §6.2.1 allows no such change)."""
    for index, before, after in _pairs(snapshots):
        if after.target_duration != before.target_duration:
            yield Violation(
                f"EXT-X-TARGETDURATION changed from {before.target_duration} to "
                f"{after.target_duration}",
                reload=index,
            )


@reload_rule("new-segment-interval")
def new_segment_interval(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """A live playlist gains a segment within 1.5 target durations (RFC 8216 §6.2.1).

    The time a segment appeared is taken as the first reload that showed it, which is never
    earlier than when it really appeared, so sparse reloads cannot cause a false finding.
    """
    if not snapshots:
        return
    grown_at = snapshots[0].at
    next_number = snapshots[0].playlist.next_media_sequence
    reported = False
    for index, snapshot in enumerate(snapshots[1:], start=1):
        playlist = snapshot.playlist
        if playlist.endlist:
            return
        if playlist.next_media_sequence > next_number:
            grown_at, next_number, reported = snapshot.at, playlist.next_media_sequence, False
            continue
        limit = MAX_UPDATE_INTERVAL * playlist.target_duration
        if not reported and snapshot.at - grown_at > limit:
            reported = True
            yield Violation(
                f"no new segment for {snapshot.at - grown_at:.3f} s after segment "
                f"{next_number - 1}, more than {MAX_UPDATE_INTERVAL} target durations "
                f"({limit} s)",
                reload=index,
            )


@reload_rule("removal-keeps-three-target-durations")
def removal_keeps_three_target_durations(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """A segment is removed only while the playlist keeps three target durations without it
    (RFC 8216 §6.2.2)."""
    for index, before, after in _pairs(snapshots):
        minimum = MIN_TARGET_DURATIONS * after.target_duration
        if after.media_sequence > before.media_sequence and after.duration < minimum:
            yield Violation(
                f"segments were removed leaving {after.duration:.3f} s, less than "
                f"{MIN_TARGET_DURATIONS} target durations ({minimum} s)",
                reload=index,
            )


@reload_rule("endlist-final")
def endlist_final(snapshots: Sequence[Snapshot]) -> Iterator[Violation]:
    """After EXT-X-ENDLIST no segment is added and the tag stays (RFC 8216 §4.3.3.4, §6.2.1)."""
    for index, before, after in _pairs(snapshots):
        if not before.endlist:
            continue
        if not after.endlist:
            yield Violation("#EXT-X-ENDLIST disappeared", reload=index)
        if after.next_media_sequence > before.next_media_sequence:
            yield Violation(
                f"segment {after.next_media_sequence - 1} added after #EXT-X-ENDLIST",
                reload=index,
            )
