"""The playlist across reloads: how a live window moves (RFC 8216 §6.2.1, §6.2.2)."""

from __future__ import annotations

from conformance.case import REQUIRED, case, not_applicable
from conformance.hls.judge import check_rules, fail_with, need_playlists
from conformance.hls.observation import HlsObservation
from conformance.spec import rfc8216
from reports.model import Detail


@case(
    "HLS-RL-001",
    "EXT-X-MEDIA-SEQUENCE never decreases",
    level=REQUIRED,
    spec=[rfc8216("6.2.1"), rfc8216("4.3.3.2")],
    rules=["media-sequence-never-decreases"],
)
def test_media_sequence_never_decreases(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "media-sequence-never-decreases", summary="the media sequence went back")


@case(
    "HLS-RL-002",
    "Segments leave from the front and EXT-X-MEDIA-SEQUENCE counts them",
    level=REQUIRED,
    spec=[rfc8216("6.2.1"), rfc8216("6.2.2")],
    rules=["media-sequence-matches-removals"],
)
def test_media_sequence_matches_removals(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "media-sequence-matches-removals", summary="sequence numbers moved")


@case(
    "HLS-RL-003",
    "A segment keeps its URI, duration, discontinuity and date across reloads",
    level=REQUIRED,
    spec=[rfc8216("6.2.1")],
    rules=["segment-unchanged"],
)
def test_segment_unchanged(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "segment-unchanged", summary="a listed segment changed")


@case(
    "HLS-RL-004",
    "EXT-X-DISCONTINUITY-SEQUENCE counts the discontinuities removed",
    level=REQUIRED,
    spec=[rfc8216("4.3.3.3"), rfc8216("6.2.2")],
    rules=["discontinuity-sequence-consistent"],
)
def test_discontinuity_sequence(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "discontinuity-sequence-consistent", summary="wrong discontinuity sequence")


@case(
    "HLS-RL-005",
    "EXT-X-TARGETDURATION never changes",
    level=REQUIRED,
    spec=[rfc8216("6.2.1")],
    rules=["target-duration-unchanged"],
)
def test_target_duration_unchanged(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "target-duration-unchanged", summary="the target duration changed")


@case(
    "HLS-RL-006",
    "A new segment appears within 1.5 target durations",
    level=REQUIRED,
    spec=[rfc8216("6.2.1")],
    rules=["new-segment-interval"],
)
def test_new_segment_interval(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "new-segment-interval", summary="the playlist stalled")


@case(
    "HLS-RL-007",
    "A removal leaves at least three target durations in the playlist",
    level=REQUIRED,
    spec=[rfc8216("6.2.2")],
    rules=["removal-keeps-three-target-durations"],
)
def test_removal_keeps_three_target_durations(hls: HlsObservation) -> None:
    need_playlists(hls, 2)
    check_rules(hls, "removal-keeps-three-target-durations", summary="the window got too short")


@case(
    "HLS-RL-008",
    "After EXT-X-ENDLIST nothing is added and the tag stays",
    level=REQUIRED,
    spec=[rfc8216("4.3.3.4"), rfc8216("6.2.1")],
    rules=["endlist-final"],
)
def test_endlist_final(hls: HlsObservation) -> None:
    if not any(playlist.endlist for _, playlist in hls.playlists):
        not_applicable("the stream did not end while observed (no EXT-X-ENDLIST)")
    check_rules(hls, "endlist-final", summary="the playlist changed after ENDLIST")


@case(
    "HLS-RL-009",
    "A removed segment stays downloadable for its duration plus the playlist's",
    level=REQUIRED,
    spec=[rfc8216("6.2.2")],
)
def test_removed_segments_available(hls: HlsObservation) -> None:
    probes = [p for p in hls.recording.removal_probes if p.exchange is not None]
    if not probes:
        not_applicable("no segment was removed from the playlist while observed")
    details = []
    for probe in probes:
        assert probe.exchange is not None
        name = probe.uri.rsplit("/", 1)[-1]
        where = f"segment {probe.sequence} ({name}), removed by reload {probe.removed_reload}"
        if not probe.exchange.ok:
            details.append(
                Detail(
                    f"answered {probe.exchange.outcome()} at most "
                    f"{probe.elapsed_bound:.2f} s after its removal; it must stay for "
                    f"{probe.required:.2f} s (its duration plus the playlist's)",
                    where,
                )
            )
        elif probe.same_bytes is False:
            details.append(Detail("answered with other bytes than while it was listed", where))
    fail_with(details, "a removed segment vanished too early")
