"""Low-Latency HLS, when the playlist uses it (rfc8216bis §4.4.3.7-8, §4.4.4.9, §6.2.5.2)."""

from __future__ import annotations

from conformance.case import RECOMMENDED, REQUIRED, case, not_applicable
from conformance.hls.judge import check_rules, fail_with
from conformance.hls.observation import HlsObservation
from conformance.hls.recording import BlockingProbe
from conformance.spec import apple_hls, rfc8216bis
from reports.model import Detail

BLOCKING_SLACK = 1.0


def _uses_parts(hls: HlsObservation) -> bool:
    return any(
        p.part_target is not None or p.trailing_parts or any(s.parts for s in p.segments)
        for _, p in hls.playlists
    )


def _need_parts(hls: HlsObservation) -> None:
    if not _uses_parts(hls):
        not_applicable("the playlist has no EXT-X-PART-INF or EXT-X-PART (not LL-HLS)")


@case(
    "HLS-LL-001",
    "A playlist with EXT-X-PART has EXT-X-PART-INF",
    level=REQUIRED,
    spec=[rfc8216bis("4.4.3.7")],
    rules=["part-inf-with-parts"],
)
def test_part_inf(hls: HlsObservation) -> None:
    _need_parts(hls)
    check_rules(hls, "part-inf-with-parts", summary="parts without PART-INF")


@case(
    "HLS-LL-002",
    "Every partial segment lasts at most PART-TARGET",
    level=REQUIRED,
    spec=[rfc8216bis("4.4.4.9")],
    rules=["part-within-part-target"],
)
def test_part_duration(hls: HlsObservation) -> None:
    _need_parts(hls)
    check_rules(hls, "part-within-part-target", summary="a part outlasts PART-TARGET")


@case(
    "HLS-LL-003",
    "PART-HOLD-BACK is at least twice PART-TARGET",
    level=REQUIRED,
    spec=[rfc8216bis("4.4.3.8")],
    rules=["part-hold-back"],
)
def test_part_hold_back(hls: HlsObservation) -> None:
    _need_parts(hls)
    check_rules(hls, "part-hold-back", summary="PART-HOLD-BACK")


@case(
    "HLS-LL-004",
    "PART-HOLD-BACK is at least three times PART-TARGET",
    level=RECOMMENDED,
    spec=[apple_hls("low latency: PART-HOLD-BACK")],
    rules=["apple-part-hold-back"],
)
def test_apple_part_hold_back(hls: HlsObservation) -> None:
    _need_parts(hls)
    check_rules(hls, "apple-part-hold-back", summary="PART-HOLD-BACK")


@case(
    "HLS-LL-005",
    "HOLD-BACK, when present, is at least three target durations",
    level=REQUIRED,
    spec=[rfc8216bis("4.4.3.8")],
    rules=["hold-back"],
)
def test_hold_back(hls: HlsObservation) -> None:
    if not any(
        p.server_control is not None and p.server_control.hold_back is not None
        for _, p in hls.playlists
    ):
        not_applicable("no HOLD-BACK in EXT-X-SERVER-CONTROL")
    check_rules(hls, "hold-back", summary="HOLD-BACK")


def _probe(hls: HlsObservation, name: str) -> BlockingProbe:
    probe = next((p for p in hls.recording.blocking_probes if p.name == name), None)
    if probe is None or probe.exchange is None:
        not_applicable("the playlist does not offer blocking reloads (CAN-BLOCK-RELOAD=YES)")
    return probe


@case(
    "HLS-LL-006",
    "A blocking reload for the next segment waits for it and delivers it",
    level=REQUIRED,
    spec=[rfc8216bis("6.2.5.2")],
)
def test_blocking_reload(hls: HlsObservation) -> None:
    probe = _probe(hls, "next-segment")
    assert probe.exchange is not None
    target = hls.target_duration or 0
    details = []
    if not probe.exchange.ok:
        details.append(Detail(f"answered {probe.exchange.outcome()}", probe.url))
    elif not probe.delivered:
        details.append(
            Detail(
                f"answered after {probe.waited:.2f} s without segment {probe.expected_sequence}",
                probe.url,
            )
        )
    elif probe.waited > 3 * target + BLOCKING_SLACK:
        details.append(Detail(f"answered after {probe.waited:.2f} s", probe.url))
    fail_with(details, "blocking reload")


@case(
    "HLS-LL-007",
    "_HLS_part without _HLS_msn is answered 400",
    level=REQUIRED,
    spec=[rfc8216bis("6.2.5.2")],
)
def test_part_without_msn(hls: HlsObservation) -> None:
    probe = _probe(hls, "part-without-msn")
    assert probe.exchange is not None
    if probe.exchange.status != 400:
        fail_with(
            [Detail(f"answered {probe.exchange.outcome()}, expected 400", probe.url)],
            "a malformed blocking request was not refused",
        )


@case(
    "HLS-LL-008",
    "_HLS_msn more than two segments ahead is answered 400",
    level=REQUIRED,
    spec=[rfc8216bis("6.2.5.2")],
)
def test_msn_too_far(hls: HlsObservation) -> None:
    probe = _probe(hls, "msn-too-far")
    assert probe.exchange is not None
    if probe.exchange.status != 400:
        fail_with(
            [
                Detail(
                    f"answered {probe.exchange.outcome()} after {probe.waited:.2f} s, "
                    "expected 400 at once",
                    probe.url,
                )
            ],
            "a request far past the live edge was not refused",
        )
