"""EXT-X-PROGRAM-DATE-TIME: present, well-formed, ordered and moving with the media."""

from __future__ import annotations

import itertools

from conformance.case import RECOMMENDED, case, not_applicable
from conformance.hls.judge import check_rules, fail_with, need_playlists
from conformance.hls.observation import HlsObservation
from conformance.spec import apple_hls, rfc8216
from reports.model import Detail
from wire.hls.render import format_date_time

DATE_TIME_TOLERANCE = 0.1
"""Seconds two consecutive dates may differ from the first segment's EXTINF."""


def _need_dates(hls: HlsObservation) -> None:
    need_playlists(hls)
    if not any(s.program_date_time for _, p in hls.playlists for s in p.segments):
        not_applicable("the playlist has no EXT-X-PROGRAM-DATE-TIME")


@case(
    "HLS-PDT-001",
    "Live playlists carry EXT-X-PROGRAM-DATE-TIME",
    level=RECOMMENDED,
    spec=[rfc8216("4.3.2.6"), apple_hls("live playlists: EXT-X-PROGRAM-DATE-TIME")],
    rules=["program-date-time-present"],
)
def test_present(hls: HlsObservation) -> None:
    need_playlists(hls)
    check_rules(hls, "program-date-time-present", summary="no program date-time")


@case(
    "HLS-PDT-002",
    "EXT-X-PROGRAM-DATE-TIME has milliseconds and a time zone",
    level=RECOMMENDED,
    spec=[rfc8216("4.3.2.6")],
    rules=["program-date-time-format"],
)
def test_format(hls: HlsObservation) -> None:
    _need_dates(hls)
    check_rules(hls, "program-date-time-format", summary="date-time format")


@case(
    "HLS-PDT-003",
    "Dates never go back within a discontinuity",
    level=RECOMMENDED,
    spec=[rfc8216("4.3.2.6")],
    rules=["program-date-time-order"],
)
def test_order(hls: HlsObservation) -> None:
    _need_dates(hls)
    check_rules(hls, "program-date-time-order", summary="dates out of order")


@case(
    "HLS-PDT-004",
    "Consecutive dates differ by the earlier segment's EXTINF",
    level=RECOMMENDED,
    spec=[rfc8216("4.3.2.6"), rfc8216("4.3.2.1")],
)
def test_dates_follow_durations(hls: HlsObservation) -> None:
    _need_dates(hls)
    details: list[Detail] = []
    seen: set[int] = set()
    for reload, playlist in hls.playlists:
        numbered = list(playlist.numbered())
        for (number, first), (_, second) in itertools.pairwise(numbered):
            if number in seen or second.discontinuity:
                continue
            if first.program_date_time is None or second.program_date_time is None:
                continue
            seen.add(number)
            step = (second.program_date_time - first.program_date_time).total_seconds()
            if abs(step - first.duration) > DATE_TIME_TOLERANCE:
                details.append(
                    Detail(
                        f"segment {number} is dated {format_date_time(first.program_date_time)}"
                        f" and lasts {first.duration:g} s, the next is dated "
                        f"{format_date_time(second.program_date_time)} ({step:+.3f} s)",
                        hls.where(reload),
                    )
                )
    fail_with(details, "dates do not follow the durations")
