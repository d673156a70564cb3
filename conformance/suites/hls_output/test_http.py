"""What HTTP says about the playlist and segments: status, types, caching."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from conformance.case import RECOMMENDED, REQUIRED, CaseRecord, case, not_applicable
from conformance.hls.judge import fail_with
from conformance.hls.observation import HlsObservation
from conformance.spec import apple_hls, rfc8216
from reports.model import Detail, SpecRef

PLAYLIST_TYPES = ("application/vnd.apple.mpegurl", "audio/mpegurl")
SEGMENT_TYPES = {
    "ts": ("video/mp2t",),
    "fmp4": ("video/mp4", "audio/mp4", "video/iso.segment", "application/mp4"),
}
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


@case(
    "HLS-HTTP-001",
    "Every playlist reload is answered 200",
    level=REQUIRED,
    spec=[rfc8216("6.2.1")],
)
def test_reloads_answered(hls: HlsObservation) -> None:
    details = [
        Detail(f"{reload.exchange.url} answered {reload.exchange.outcome()}", hls.where(reload))
        for reload in hls.reloads
        if not reload.exchange.ok
    ]
    fail_with(details, "a playlist reload failed")


@case(
    "HLS-HTTP-002",
    "Every listed segment downloads (200) while it is listed",
    level=REQUIRED,
    spec=[rfc8216("3"), rfc8216("6.2.1")],
)
def test_segments_download(hls: HlsObservation) -> None:
    if not hls.segments:
        not_applicable("no segment was listed")
    details = [
        Detail(f"answered {f'HTTP {s.status}' if s.status else s.error}", s.where)
        for s in hls.segments
        if s.status != 200
    ]
    fail_with(details, "a listed segment could not be fetched")


@case(
    "HLS-HTTP-003",
    "The playlist is identified by its path (.m3u8) or its Content-Type",
    level=REQUIRED,
    spec=[rfc8216("4")],
)
def test_playlist_identifiable(hls: HlsObservation) -> None:
    details = []
    for reload in hls.reloads:
        if not reload.exchange.ok:
            continue
        path = urlsplit(reload.exchange.final_url or reload.exchange.url).path.lower()
        content_type = _media_type(reload.exchange.header("content-type"))
        if not path.endswith((".m3u8", ".m3u")) and content_type not in PLAYLIST_TYPES:
            details.append(
                Detail(
                    f"path {path!r} does not end in .m3u8 or .m3u and Content-Type is "
                    f"{content_type or 'absent'}",
                    hls.where(reload),
                )
            )
    fail_with(details, "a playlist neither named nor typed as one")


@case(
    "HLS-HTTP-004",
    "Playlists are served as application/vnd.apple.mpegurl",
    level=RECOMMENDED,
    spec=[rfc8216("4"), apple_hls("playlists: Content-Type")],
)
def test_playlist_content_type(hls: HlsObservation) -> None:
    details = [
        Detail(
            f"Content-Type {_media_type(r.exchange.header('content-type')) or 'absent'}, "
            f"expected {PLAYLIST_TYPES[0]}",
            hls.where(r),
        )
        for r in hls.reloads
        if r.exchange.ok and _media_type(r.exchange.header("content-type")) not in PLAYLIST_TYPES
    ]
    fail_with(details, "playlist Content-Type")


@case(
    "HLS-HTTP-005",
    "Segments are served with the MIME type of their format",
    level=RECOMMENDED,
    spec=[
        rfc8216("3.1"),
        SpecRef("RFC 3555", "4.2.9", "https://www.rfc-editor.org/rfc/rfc3555#section-4.2.9"),
        SpecRef("RFC 4337", "2", "https://www.rfc-editor.org/rfc/rfc4337#section-2"),
    ],
)
def test_segment_content_type(hls: HlsObservation) -> None:
    judged = [s for s in hls.segments if s.status == 200 and s.media is not None]
    if not judged:
        not_applicable("no segment was fetched")
    details = []
    for segment in judged:
        assert segment.media is not None
        expected = SEGMENT_TYPES.get(segment.media.container)
        seen = _media_type(segment.headers.get("content-type"))
        if expected is not None and seen not in expected:
            details.append(
                Detail(
                    f"{segment.media.container} segment served as {seen or 'no Content-Type'}, "
                    f"expected {' or '.join(expected)}",
                    segment.where,
                )
            )
    fail_with(details, "segment Content-Type")


@case(
    "HLS-HTTP-006",
    "Live playlists are not cached for more than half a target duration",
    level=RECOMMENDED,
    spec=[
        rfc8216("6.2.2"),
        rfc8216("6.3.4"),
        SpecRef("RFC 9111", "5.2.2.1", "https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.1"),
    ],
)
def test_playlist_cache_lifetime(hls: HlsObservation, case_record: CaseRecord) -> None:
    target = hls.target_duration
    if target is None:
        not_applicable("no playlist could be parsed")
    limit = target / 2
    details = []
    for reload in hls.reloads:
        if not reload.exchange.ok:
            continue
        control = reload.exchange.header("cache-control") or ""
        ages = [int(age) for age in _MAX_AGE.findall(control)]
        if ages and max(ages) > limit:
            details.append(
                Detail(
                    f"Cache-Control {control!r} lets caches serve it for {max(ages)} s, "
                    f"more than half the target duration ({limit:g} s): players would miss "
                    "new segments",
                    hls.where(reload),
                )
            )
        elif "immutable" in control.lower():
            details.append(
                Detail(f"Cache-Control {control!r} on a live playlist", hls.where(reload))
            )
    first = hls.reloads[0].exchange.header("cache-control") if hls.reloads else None
    case_record.measure("playlist Cache-Control", first or "(none)")
    segments = [s.headers.get("cache-control") for s in hls.segments if s.status == 200]
    case_record.measure(
        "segment Cache-Control", segments[0] if segments and segments[0] else "(none)"
    )
    fail_with(details, "the playlist may be cached too long")
