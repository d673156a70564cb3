"""A multivariant playlist's promises about its variants (RFC 8216 §4.3.4.2)."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, CaseRecord, case, fail, not_applicable
from conformance.hls.judge import fail_with
from conformance.hls.multivariant import Multivariant
from conformance.hls.observation import HlsObservation
from conformance.spec import apple_hls, rfc6381, rfc8216
from reports.model import Detail

BANDWIDTH_SLACK = 1.10
"""Apple: the measured peak bit rate within 10 % of BANDWIDTH."""


def _multivariant(hls: HlsObservation) -> Multivariant:
    if hls.recording.multivariant is None:
        not_applicable("the target is a media playlist, not a multivariant one")
    return hls.recording.multivariant


@case(
    "HLS-MV-001",
    "Every EXT-X-STREAM-INF has BANDWIDTH",
    level=REQUIRED,
    spec=[rfc8216("4.3.4.2")],
)
def test_bandwidth_present(hls: HlsObservation) -> None:
    details = [
        Detail(f"{variant.uri} has no BANDWIDTH", f"multivariant line {variant.line}")
        for variant in _multivariant(hls).variants
        if variant.bandwidth is None
    ]
    fail_with(details, "a variant without BANDWIDTH")


@case(
    "HLS-MV-002",
    "BANDWIDTH covers the peak segment bit rate",
    level=RECOMMENDED,
    spec=[rfc8216("4.3.4.2"), apple_hls("BANDWIDTH within 10 % of the measured peak")],
)
def test_bandwidth_covers_peak(hls: HlsObservation, case_record: CaseRecord) -> None:
    variant = _multivariant(hls).variants[0]
    rates = [(s.size * 8 / s.extinf, s) for s in hls.segments if s.status == 200 and s.extinf > 0]
    if variant.bandwidth is None or not rates:
        not_applicable("no BANDWIDTH, or no segment measured")
    peak, segment = max(rates, key=lambda item: item[0])
    case_record.measure("peak segment bit rate", round(peak), "bit/s")
    case_record.measure("BANDWIDTH", variant.bandwidth, "bit/s")
    if peak > variant.bandwidth * BANDWIDTH_SLACK:
        fail(
            f"BANDWIDTH {variant.bandwidth} bit/s, but {segment.where} peaks at "
            f"{peak:.0f} bit/s ({peak / variant.bandwidth:.0%} of it)",
            [Detail(f"{segment.size} bytes over {segment.extinf:g} s", segment.where)],
        )


@case(
    "HLS-MV-003",
    "CODECS, when present, lists every codec the media uses",
    level=REQUIRED,
    spec=[rfc8216("4.3.4.2"), rfc6381("3")],
)
def test_codecs_match(hls: HlsObservation) -> None:
    variant = _multivariant(hls).variants[0]
    if variant.codecs is None:
        not_applicable("the first variant has no CODECS")
    declared = {c.lower() for c in variant.codecs}
    used: dict[str, str] = {}
    for segment in hls.analysed():
        assert segment.media is not None
        for track in segment.media.tracks:
            used.setdefault(track.codec.lower(), segment.where)
    if not used:
        not_applicable("no segment could be analysed")
    details = [
        Detail(f"the media uses {codec}, CODECS says {','.join(variant.codecs)}", where)
        for codec, where in used.items()
        if codec not in declared
    ]
    fail_with(details, "CODECS does not match the media")


@case(
    "HLS-MV-004",
    "Every EXT-X-STREAM-INF has CODECS",
    level=RECOMMENDED,
    spec=[rfc8216("4.3.4.2")],
)
def test_codecs_present(hls: HlsObservation) -> None:
    details = [
        Detail(f"{variant.uri} has no CODECS", f"multivariant line {variant.line}")
        for variant in _multivariant(hls).variants
        if variant.codecs is None
    ]
    fail_with(details, "a variant without CODECS")
