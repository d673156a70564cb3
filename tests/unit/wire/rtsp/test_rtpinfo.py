from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.rtpinfo import RtpInfo, RtpInfoEntry


def test_capture_value_with_relative_url() -> None:
    info = RtpInfo.parse("url=trackID=0;seq=22054;rtptime=22054")
    assert info.entries == (RtpInfoEntry("trackID=0", 22054, 22054),)
    assert info.serialize() == "url=trackID=0;seq=22054;rtptime=22054"
    assert info.for_url("rtsp://192.168.1.108:554/trackID=0") == info.entries[0]
    assert info.for_url("rtsp://192.168.1.108:554/trackID=1") is None


def test_two_streams() -> None:
    value = "url=rtsp://h/s/track1;seq=45102;rtptime=3450012,url=rtsp://h/s/track2;seq=30211"
    info = RtpInfo.parse(value)
    assert [e.url for e in info.entries] == ["rtsp://h/s/track1", "rtsp://h/s/track2"]
    assert info.entries[1] == RtpInfoEntry("rtsp://h/s/track2", 30211, None)
    assert info.serialize() == value


def test_rfc_2326_example_with_a_seq_above_16_bits() -> None:
    info = RtpInfo.parse("url=rtsp://foo/twister/video;seq=9810092;rtptime=3450012")
    assert info.entries[0] == RtpInfoEntry("rtsp://foo/twister/video", 9810092, 3450012)


def test_urls_with_semicolons_commas_and_quotes() -> None:
    value = 'url=rtsp://h/a;b=1,c/track;seq=1;rtptime=2, url="rtsp://h/x";seq=3'
    info = RtpInfo.parse(value)
    assert info.entries[0] == RtpInfoEntry("rtsp://h/a;b=1,c/track", 1, 2)
    assert info.entries[1] == RtpInfoEntry("rtsp://h/x", 3, None)


def test_ssrc_hex_and_decimal_and_spaces() -> None:
    info = RtpInfo.parse(
        "url=trackID=0;seq=13210;rtptime=1067824145;ssrc=4294962989 ,"
        " url=trackID=1 ; seq = 5 ; ssrc=FFFFEF2D ; x-extra=1,"
    )
    assert info.entries[0].ssrc == 0xFFFFEF2D
    assert info.entries[1] == RtpInfoEntry("trackID=1", 5, None, 0xFFFFEF2D)
    assert info.entries[1].serialize() == "url=trackID=1;seq=5;ssrc=FFFFEF2D"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("seq=1", "RTP-Info: entry 'seq=1' does not start with url="),
        ("url=;seq=1", "RTP-Info: empty url"),
        ("", "RTP-Info: no entry"),
    ],
)
def test_errors(value, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        RtpInfo.parse(value)


entries = st.builds(
    RtpInfoEntry,
    st.sampled_from(["trackID=0", "rtsp://h:554/s/track1", "stream=1"]),
    st.one_of(st.none(), st.integers(0, 0xFFFF)),
    st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)),
    st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)),
)


@settings(max_examples=200)
@given(st.lists(entries, min_size=1, max_size=3))
def test_round_trip(entry_list) -> None:
    info = RtpInfo(tuple(entry_list))
    assert RtpInfo.parse(info.serialize()) == info


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_the_documented_error(text) -> None:
    with contextlib.suppress(RemoteProtocolError):
        RtpInfo.parse(text)
