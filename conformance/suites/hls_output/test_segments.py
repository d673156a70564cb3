"""The media in the segments: container, decoding, keyframes, durations, timestamps."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, case, not_applicable
from conformance.hls.judge import fail_with
from conformance.hls.media import Track
from conformance.hls.observation import HlsObservation
from conformance.hls.recording import SegmentRecord
from conformance.spec import rfc8216
from reports.model import Detail

CONTINUITY_FRAMES = 3
"""A gap or overlap of up to this many frames between segments (a frame the encoder dropped)
is not a timestamp discontinuity..."""
CONTINUITY_FLOOR = 0.1
"""...nor one of up to this many seconds."""


def _fetched(hls: HlsObservation) -> list[SegmentRecord]:
    fetched = [s for s in hls.segments if s.media is not None]
    if not fetched:
        not_applicable("no segment was fetched")
    return fetched


def _containers(hls: HlsObservation) -> set[str]:
    return {s.media.container for s in hls.segments if s.media is not None}


@case(
    "HLS-SEG-001",
    "Segments are MPEG-TS with one program, or fMP4, and can be demuxed",
    level=REQUIRED,
    spec=[rfc8216("3.1"), rfc8216("3.2"), rfc8216("3.3")],
)
def test_container(hls: HlsObservation) -> None:
    details = []
    for segment in _fetched(hls):
        media = segment.media
        assert media is not None
        if media.error:
            details.append(Detail(f"{media.container}: {media.error}", segment.where))
        elif media.container == "ts" and media.programs != 1:
            details.append(
                Detail(f"the PAT lists {media.programs} programs, not one", segment.where)
            )
        elif not media.tracks:
            details.append(Detail("no audio or video track", segment.where))
    fail_with(details, "a segment cannot be read")


@case(
    "HLS-SEG-002",
    "MPEG-TS segments start with a PAT and a PMT",
    level=RECOMMENDED,
    spec=[rfc8216("3.2")],
)
def test_psi_first(hls: HlsObservation) -> None:
    if "ts" not in _containers(hls):
        not_applicable("no MPEG-TS segment")
    details = [
        Detail(
            "the first packets have PIDs "
            + ", ".join(f"0x{pid:04x}" for pid in s.media.first_pids)
            + " (expected the PAT, PID 0x0000, then the PMT)",
            s.where,
        )
        for s in _fetched(hls)
        if s.media is not None and s.media.container == "ts" and s.media.psi_first is False
    ]
    fail_with(details, "a segment does not start with PAT and PMT")


@case(
    "HLS-SEG-003",
    "Every segment decodes without errors",
    level=REQUIRED,
    spec=[rfc8216("3")],
)
def test_decodes(hls: HlsObservation) -> None:
    details = []
    for segment in _fetched(hls):
        media = segment.media
        assert media is not None
        if media.decode_error:
            details.append(Detail(media.decode_error, segment.where))
        elif media.track("video") is not None and media.frames_decoded == 0:
            details.append(Detail("no video frame decoded", segment.where))
    fail_with(details, "a segment does not decode")


@case(
    "HLS-SEG-004",
    "With EXT-X-INDEPENDENT-SEGMENTS every segment starts with a keyframe",
    level=REQUIRED,
    spec=[rfc8216("4.3.5.1")],
)
def test_independent_segments_start_with_keyframe(hls: HlsObservation) -> None:
    multivariant = hls.recording.multivariant
    claimed = any(p.independent_segments for _, p in hls.playlists) or (
        multivariant is not None and multivariant.independent_segments
    )
    if not claimed:
        not_applicable("the playlist does not claim EXT-X-INDEPENDENT-SEGMENTS")
    details = [
        Detail("the first video frame is not a keyframe (IDR / IRAP)", s.where)
        for s in _fetched(hls)
        if s.media is not None and s.media.starts_with_keyframe is False
    ]
    fail_with(details, "a segment claimed independent starts without a keyframe")


def _main_track(segment: SegmentRecord) -> Track | None:
    if segment.media is None or segment.media.error:
        return None
    return segment.media.track("video") or segment.media.track("audio")


@case(
    "HLS-SEG-005",
    "EXTINF is the segment's media duration, within a frame",
    level=REQUIRED,
    spec=[rfc8216("4.3.2.1")],
)
def test_extinf_matches_media(hls: HlsObservation) -> None:
    details = []
    judged = 0
    version = max((p.version or 1 for _, p in hls.playlists), default=1)
    for segment in hls.segments:
        track = _main_track(segment)
        if track is None or track.samples < 2:
            continue
        judged += 1
        media_duration = track.end - track.start
        # Integer EXTINF (before version 3) is the duration rounded to the nearest second.
        rounding = 0.5 if version < 3 and float(segment.extinf).is_integer() else 0.0005
        tolerance = track.sample_duration + rounding
        if abs(segment.extinf - media_duration) > tolerance:
            details.append(
                Detail(
                    f"EXTINF {segment.extinf:g} s, the {track.kind} lasts "
                    f"{media_duration:.3f} s ({track.samples} frames from "
                    f"{track.start:.3f} s)",
                    segment.where,
                )
            )
    if not judged:
        not_applicable("no segment could be analysed")
    fail_with(details, "EXTINF does not match the media")


@case(
    "HLS-SEG-006",
    "Timestamps run on from segment to segment unless EXT-X-DISCONTINUITY",
    level=REQUIRED,
    spec=[rfc8216("4.3.2.3"), rfc8216("3")],
)
def test_timestamps_continuous(hls: HlsObservation) -> None:
    details = []
    pairs = 0
    for before, after in hls.consecutive():
        assert before.media is not None
        assert after.media is not None
        pairs += 1
        for kind in ("video", "audio"):
            first = before.media.track(kind)
            second = after.media.track(kind)
            if first is None or second is None:
                continue
            step = second.start - first.end
            tolerance = max(CONTINUITY_FRAMES * first.sample_duration, CONTINUITY_FLOOR)
            if abs(step) > tolerance:
                words = "a gap" if step > 0 else "an overlap"
                details.append(
                    Detail(
                        f"{kind} ends at {first.end:.3f} s in segment {before.sequence}, "
                        f"the next starts at {second.start:.3f} s: {words} of "
                        f"{abs(step):.3f} s without EXT-X-DISCONTINUITY",
                        after.where,
                    )
                )
    if not pairs:
        not_applicable("no two consecutive segments could be analysed")
    fail_with(details, "a timestamp jump without EXT-X-DISCONTINUITY")


@case(
    "HLS-SEG-007",
    "fMP4: EXT-X-MAP names an init section of ftyp and moov with mvex",
    level=REQUIRED,
    spec=[rfc8216("3.3"), rfc8216("4.3.2.5")],
)
def test_fmp4_init(hls: HlsObservation) -> None:
    fmp4 = [s for s in _fetched(hls) if s.media is not None and s.media.container == "fmp4"]
    if not fmp4:
        not_applicable("no fMP4 segment")
    details = [
        Detail("no EXT-X-MAP applies to this fMP4 segment", s.where)
        for s in fmp4
        if s.init_uri is None
    ]
    for uri, init in hls.recording.inits.items():
        name = uri.rsplit("/", 1)[-1]
        if not init.exchange.ok:
            details.append(Detail(f"answered {init.exchange.outcome()}", f"init {name}"))
        elif init.info is None or init.info.error:
            details.append(Detail(init.info.error if init.info else "unreadable", f"init {name}"))
        elif init.info.boxes[:2] != ["ftyp", "moov"] or not init.info.has_mvex:
            details.append(
                Detail(
                    f"boxes {', '.join(init.info.boxes)}; mvex "
                    f"{'present' if init.info.has_mvex else 'absent'} (expected ftyp, moov "
                    "with mvex)",
                    f"init {name}",
                )
            )
    fail_with(details, "fMP4 initialization section")


@case(
    "HLS-SEG-008",
    "fMP4: media segments are movie fragments with a tfdt in every traf",
    level=REQUIRED,
    spec=[rfc8216("3.3")],
)
def test_fmp4_fragments(hls: HlsObservation) -> None:
    fmp4 = [s for s in _fetched(hls) if s.media is not None and s.media.container == "fmp4"]
    if not fmp4:
        not_applicable("no fMP4 segment")
    details = []
    for segment in fmp4:
        media = segment.media
        assert media is not None
        if "moof" not in media.top_boxes or "mdat" not in media.top_boxes:
            details.append(Detail(f"top-level boxes {', '.join(media.top_boxes)}", segment.where))
        if media.missing_tfdt:
            details.append(
                Detail(
                    f"no tfdt for track {', '.join(map(str, media.missing_tfdt))}", segment.where
                )
            )
    fail_with(details, "fMP4 media segment")
