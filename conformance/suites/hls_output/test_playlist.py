"""Playlist text and tags, checked on every reload (RFC 8216 §4)."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, case, not_applicable
from conformance.hls.judge import check_rules, fail_with, need_playlists
from conformance.hls.observation import HlsObservation
from conformance.spec import apple_hls, rfc8216
from reports.model import Detail


@case(
    "HLS-PL-001",
    "The playlist starts with #EXTM3U",
    level=REQUIRED,
    spec=[rfc8216("4.3.1.1")],
    rules=["extm3u-first"],
)
def test_extm3u_first(hls: HlsObservation) -> None:
    check_rules(hls, "extm3u-first", summary="a reload does not start with #EXTM3U")


@case(
    "HLS-PL-002",
    "The playlist is UTF-8 without a byte order mark or control characters",
    level=REQUIRED,
    spec=[rfc8216("4.1")],
    rules=["no-bom", "no-control-characters"],
)
def test_text_encoding(hls: HlsObservation) -> None:
    check_rules(hls, "no-bom", "no-control-characters", summary="playlist text")


@case(
    "HLS-PL-003",
    "Every reload parses as a media playlist",
    level=REQUIRED,
    spec=[rfc8216("4"), rfc8216("4.3")],
    rules=["playlist-syntax"],
)
def test_parses(hls: HlsObservation) -> None:
    check_rules(hls, "playlist-syntax", summary="a reload cannot be read")


@case(
    "HLS-PL-004",
    "EXT-X-TARGETDURATION is present",
    level=REQUIRED,
    spec=[rfc8216("4.3.3.1")],
    rules=["target-duration-present"],
)
def test_target_duration_present(hls: HlsObservation) -> None:
    check_rules(hls, "target-duration-present", summary="no target duration")


@case(
    "HLS-PL-005",
    "Playlist-wide tags appear at most once",
    level=REQUIRED,
    spec=[rfc8216("4.3.3"), rfc8216("4.3.5")],
    rules=["singleton-tags"],
)
def test_singleton_tags(hls: HlsObservation) -> None:
    check_rules(hls, "singleton-tags", summary="a tag is repeated")


@case(
    "HLS-PL-006",
    "EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE come before the first segment",
    level=REQUIRED,
    spec=[rfc8216("4.3.3.2"), rfc8216("4.3.3.3")],
    rules=["header-before-segments"],
)
def test_header_before_segments(hls: HlsObservation) -> None:
    check_rules(hls, "header-before-segments", summary="a header tag after a segment")


@case(
    "HLS-PL-007",
    "EXT-X-VERSION covers every feature the playlist uses",
    level=REQUIRED,
    spec=[rfc8216("7"), rfc8216("4.3.1.2")],
    rules=["version-compatibility"],
)
def test_version(hls: HlsObservation) -> None:
    check_rules(hls, "version-compatibility", summary="version too low")


@case(
    "HLS-PL-008",
    "Every EXTINF, rounded, is at most the target duration",
    level=REQUIRED,
    spec=[rfc8216("4.3.3.1")],
    rules=["extinf-within-target-duration"],
)
def test_extinf_within_target(hls: HlsObservation) -> None:
    check_rules(hls, "extinf-within-target-duration", summary="a segment outlasts the target")


@case(
    "HLS-PL-009",
    "A playlist that removes segments has no EXT-X-PLAYLIST-TYPE",
    level=REQUIRED,
    spec=[rfc8216("6.2.2"), rfc8216("4.3.3.5")],
    rules=["live-no-endlist"],
)
def test_sliding_window_without_playlist_type(hls: HlsObservation) -> None:
    need_playlists(hls)
    # ENDLIST at the end of a live stream is allowed (it is HLS-RL-008's); PLAYLIST-TYPE EVENT
    # only forbids removal, VOD forbids any change.
    removed = any(s.removed_reload is not None for s in hls.segments)
    details = [
        Detail(
            f"#EXT-X-PLAYLIST-TYPE:{playlist.playlist_type} in a playlist that "
            + ("removes segments" if removed else "changes"),
            hls.where(reload),
        )
        for reload, playlist in hls.playlists
        if playlist.playlist_type is not None and (removed or playlist.playlist_type.value == "VOD")
    ]
    fail_with(details, "a live sliding window declares a playlist type")


@case(
    "HLS-PL-010",
    "A live playlist lists at least six segments",
    level=RECOMMENDED,
    spec=[apple_hls("live playlists: six segments")],
    rules=["apple-six-segments"],
)
def test_six_segments(hls: HlsObservation) -> None:
    need_playlists(hls)
    # A stream that is just starting lists fewer: judge the reloads from the first removal on,
    # when the window is as long as the server keeps it.
    removed_from = min(
        (s.removed_reload for s in hls.segments if s.removed_reload is not None), default=None
    )
    if removed_from is None:
        not_applicable("no segment was removed while observed: the window never filled")
    details = hls.findings(
        "apple-six-segments",
        only=lambda reload: reload is not None and reload.index >= removed_from,
    )
    fail_with(details, "short live window")
