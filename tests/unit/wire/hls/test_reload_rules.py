"""Each reload rule: a conforming sequence passes, a breaking one gives exact findings."""

from __future__ import annotations

from wire.hls import MediaPlaylist, MediaSegment, render
from wire.hls.validate import RULES, Finding, Reload, check_reloads


def window(
    first: int,
    count: int,
    *,
    target: int = 2,
    dseq: int = 0,
    changes: dict[int, MediaSegment] | None = None,
) -> str:
    """A live playlist listing segments ``first`` .. ``first + count - 1`` of 2 s each.

    ``changes`` maps a sequence number to a replacement MediaSegment.
    """
    changes = changes or {}
    segments = tuple(
        changes.get(n, MediaSegment(f"s{n}.ts", 2.0)) for n in range(first, first + count)
    )
    playlist = MediaPlaylist(
        target_duration=target,
        segments=segments,
        version=3,
        media_sequence=first,
        discontinuity_sequence=dseq,
    )
    return render(playlist)


def reloads(*bodies: str, every: float = 2.0) -> list[Reload]:
    return [Reload(index * every, body) for index, body in enumerate(bodies)]


def run(*bodies: str, every: float = 2.0) -> list[Finding]:
    return check_reloads(reloads(*bodies, every=every), each_playlist=False)


def finding(rule: str, message: str, reload: int) -> Finding:
    return Finding(rule, RULES[rule].severity, message, reload=reload)


def test_sliding_window_passes():
    assert run(window(0, 3), window(0, 4), window(1, 4), window(2, 4), window(3, 4)) == []


def test_each_playlist_findings_carry_the_reload_index():
    findings = check_reloads(reloads(window(0, 6), window(1, 6) + "#EXT-X-ENDLIST\n"))
    assert [(f.rule, f.reload) for f in findings] == [
        ("program-date-time-present", 0),
        ("live-no-endlist", 1),
        ("program-date-time-present", 1),
    ]


def test_media_sequence_never_decreases():
    assert run(window(5, 4), window(4, 5)) == [
        finding("media-sequence-never-decreases", "EXT-X-MEDIA-SEQUENCE went from 5 down to 4", 1)
    ]


def test_segments_removed_from_the_end():
    assert run(window(5, 4), window(5, 3)) == [
        finding(
            "media-sequence-matches-removals",
            "the last segment went from number 8 back to 7: segments were removed from the end",
            1,
        )
    ]


def test_media_sequence_rises_by_fewer_than_removed():
    # Two segments removed, the sequence number rose by one: every URI moved.
    before = window(5, 4)
    after = render(
        MediaPlaylist(
            2,
            tuple(MediaSegment(f"s{n}.ts", 2.0) for n in (7, 8, 9, 10)),
            version=3,
            media_sequence=6,
        )
    )
    assert run(before, after) == [
        finding(
            "media-sequence-matches-removals",
            f"s{n}.ts moved from sequence number {n} to {n - 1} (EXT-X-MEDIA-SEQUENCE 5 -> 6)",
            1,
        )
        for n in (7, 8)
    ]


def test_segment_keeps_uri_and_duration():
    changed = {6: MediaSegment("s6.ts", 1.5), 7: MediaSegment("other.ts", 2.0)}
    assert run(window(5, 4), window(5, 4, changes=changed)) == [
        finding("segment-unchanged", "segment 6 (s6.ts): duration changed from 2.0 to 1.5", 1),
        finding("segment-unchanged", "segment 7 was s7.ts, is now other.ts", 1),
    ]


def test_segment_keeps_discontinuity():
    changed = {6: MediaSegment("s6.ts", 2.0, discontinuity=True)}
    assert run(window(5, 4), window(5, 4, changes=changed)) == [
        finding("segment-unchanged", "segment 6 (s6.ts): EXT-X-DISCONTINUITY added", 1)
    ]


def test_discontinuity_sequence_counts_removed_discontinuities():
    marked = {6: MediaSegment("s6.ts", 2.0, discontinuity=True)}
    good = [window(5, 4, changes=marked), window(6, 4, changes=marked), window(7, 4, dseq=1)]
    assert run(*good) == []
    assert run(window(6, 4, changes=marked), window(7, 4, dseq=0)) == [
        finding(
            "discontinuity-sequence-consistent",
            "EXT-X-DISCONTINUITY-SEQUENCE is 0, expected 1 (0 plus 1 removed discontinuities)",
            1,
        )
    ]
    assert run(window(5, 4), window(6, 4, dseq=2)) == [
        finding(
            "discontinuity-sequence-consistent",
            "EXT-X-DISCONTINUITY-SEQUENCE is 2, expected 0 (0 plus 0 removed discontinuities)",
            1,
        )
    ]


def test_discontinuity_sequence_lower_bound_when_reloads_missed_segments():
    marked = {6: MediaSegment("s6.ts", 2.0, discontinuity=True)}
    assert run(window(5, 4, changes=marked), window(20, 4, dseq=3)) == []
    assert run(window(5, 4, changes=marked), window(20, 4, dseq=0)) == [
        finding(
            "discontinuity-sequence-consistent",
            "EXT-X-DISCONTINUITY-SEQUENCE is 0, expected at least 1 "
            "(0 plus 1 removed discontinuities)",
            1,
        )
    ]


def test_target_duration_unchanged():
    assert run(window(0, 4), window(0, 5, target=3)) == [
        finding("target-duration-unchanged", "EXT-X-TARGETDURATION changed from 2 to 3", 1)
    ]


def test_new_segment_within_one_and_a_half_target_durations():
    stalled = [window(0, 4), window(0, 4), window(0, 4), window(0, 4), window(0, 5)]
    # Reloads every second: 3 s without a new segment is exactly 1.5 times 2 s, 4 s is over.
    assert run(*stalled[:4], every=1.0) == []
    assert run(*stalled, every=1.0) == []
    late = [window(0, 4)] * 5 + [window(0, 5)]
    assert run(*late, every=1.0) == [
        finding(
            "new-segment-interval",
            "no new segment for 4.000 s after segment 3, more than 1.5 target durations (3.0 s)",
            4,
        )
    ]


def test_removal_keeps_three_target_durations():
    assert run(window(0, 4), window(1, 3)) == []
    assert run(window(0, 3), window(1, 2)) == [
        finding(
            "removal-keeps-three-target-durations",
            "segments were removed leaving 4.000 s, less than 3 target durations (6 s)",
            1,
        )
    ]


def test_endlist_is_final():
    ended = window(0, 4) + "#EXT-X-ENDLIST\n"
    assert run(window(0, 3), ended, ended) == []
    assert run(ended, window(0, 5)) == [
        finding("endlist-final", "#EXT-X-ENDLIST disappeared", 1),
        finding("endlist-final", "segment 4 added after #EXT-X-ENDLIST", 1),
    ]


def test_unparseable_reload_is_skipped_by_reload_rules():
    findings = check_reloads(reloads(window(0, 6), "garbage", window(1, 6)))
    assert [(f.rule, f.reload) for f in findings if f.rule != "program-date-time-present"] == [
        ("extm3u-first", 1),
        ("target-duration-present", 1),
    ]
