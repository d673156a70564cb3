from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.range import Range


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("npt=0.000-", Decimal("0.000"), None),
        ("npt=0.000000-", Decimal("0.000000"), None),
        ("npt=now-", "now", None),
        ("npt=10-20.5", Decimal(10), Decimal("20.5")),
        ("npt=-20", None, Decimal(20)),
    ],
)
def test_npt_round_trip(value, start, end) -> None:
    parsed = Range.parse(value)
    assert (parsed.unit, parsed.start, parsed.end) == ("npt", start, end)
    assert parsed.serialize() == value


def test_npt_trailing_dot() -> None:
    parsed = Range.parse("npt=1.-")
    assert parsed.start == Decimal(1)
    assert parsed.serialize() == "npt=1-"


def test_npt_hhmmss_becomes_seconds() -> None:
    parsed = Range.parse("npt=1:02:03.5-2:00:00")
    assert parsed.start == Decimal("3723.5")
    assert parsed.end == Decimal(7200)
    assert parsed.serialize() == "npt=3723.5-7200"


def test_npt_constructor_and_start_seconds() -> None:
    assert Range.npt().serialize() == "npt=0-"
    assert Range.npt("now").serialize() == "npt=now-"
    assert Range.npt(5, 10).start_seconds == Decimal(5)
    assert Range.npt("now").start_seconds is None


def test_clock_with_time_parameter() -> None:
    value = "clock=19961108T142300Z-19961108T143520.25Z;time=19970123T143720Z"
    parsed = Range.parse(value)
    assert parsed.unit == "clock"
    assert parsed.start == datetime(1996, 11, 8, 14, 23, 0, tzinfo=UTC)
    assert parsed.end == datetime(1996, 11, 8, 14, 35, 20, 250000, tzinfo=UTC)
    assert parsed.time == datetime(1997, 1, 23, 14, 37, 20, tzinfo=UTC)
    assert parsed.serialize() == value


def test_clock_open_end_and_smpte() -> None:
    assert Range.parse("clock=19961108T142300Z-").end is None
    smpte = Range.parse("smpte=10:07:00-10:07:33:05.01")
    assert (smpte.start, smpte.end) == ("10:07:00", "10:07:33:05.01")
    assert smpte.serialize() == "smpte=10:07:00-10:07:33:05.01"


def test_tolerates_spaces() -> None:
    assert Range.parse(" npt = 0 - 5 ").serialize() == "npt=0-5"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("npt", "Range: expected unit=start-end, got 'npt'"),
        ("npt=5", "Range: expected unit=start-end, got 'npt=5'"),
        ("npt=abc-", "Range: invalid npt time 'abc'"),
        ("npt=0-now", "Range: 'now' cannot end a range"),
        ("npt=-", "Range: neither start nor end"),
        ("clock=19961308T142300Z-", "Range: invalid UTC time '19961308T142300Z'"),
        ("clock=1996-", "Range: invalid UTC time '1996'"),
        ("smpte=xx-", "Range: invalid SMPTE time 'xx'"),
        ("bytes=0-10", "Range: unknown unit 'bytes'"),
    ],
)
def test_errors(value, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        Range.parse(value)


seconds = st.decimals(min_value=0, max_value=10**6, places=3)


@settings(max_examples=200)
@given(st.one_of(seconds, st.just("now")), st.one_of(st.none(), seconds))
def test_npt_round_trip_property(start, end) -> None:
    value = Range.npt(start, end)
    assert Range.parse(value.serialize()) == value


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_the_documented_error(text) -> None:
    with contextlib.suppress(RemoteProtocolError):
        Range.parse(text)
