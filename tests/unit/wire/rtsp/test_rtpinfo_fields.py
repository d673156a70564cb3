"""RTP-Info is read per parameter and per stream entry: one unreadable value (``rtptime=-1``)
costs that value, with a warning, not the whole header."""

from __future__ import annotations

import pytest

from wire.rtsp.client import ClientConfig, RtspClientConnection
from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.events import ResponseReceived
from wire.rtsp.rtpinfo import RtpInfo, RtpInfoEntry
from wire.rtsp.transport import TransportSpec

URL = "rtsp://192.168.1.108:554/stream1"


def test_a_negative_rtptime_keeps_the_seq() -> None:
    info = RtpInfo.parse("url=rtsp://192.168.1.108:554/stream1/trackID=0;seq=22054;rtptime=-1")
    assert info.entries == (RtpInfoEntry("rtsp://192.168.1.108:554/stream1/trackID=0", 22054),)
    assert info.problems == (
        "RTP-Info: invalid rtptime '-1' for rtsp://192.168.1.108:554/stream1/trackID=0, ignored",
    )


@pytest.mark.parametrize(
    ("value", "entry", "problem"),
    [
        ("url=a;seq=x;rtptime=9", RtpInfoEntry("a", None, 9), "invalid seq 'x' for a"),
        ("url=a;seq=-1", RtpInfoEntry("a"), "invalid seq '-1' for a"),
        (
            "url=a;seq=1;rtptime=4294967296",
            RtpInfoEntry("a", 1),
            "invalid rtptime '4294967296' for a",
        ),
        ("url=a;seq=1;ssrc=G", RtpInfoEntry("a", 1), "invalid ssrc 'G' for a"),
        ("url=a;rtptime=;x-extra=1;seq=3", RtpInfoEntry("a", 3), "invalid rtptime '' for a"),
    ],
)
def test_each_parameter_stands_on_its_own(value: str, entry: RtpInfoEntry, problem: str) -> None:
    info = RtpInfo.parse(value)
    assert info.entries == (entry,)
    assert info.problems == (f"RTP-Info: {problem}, ignored",)
    assert info.entries[0].problems == info.problems


def test_an_entry_without_a_url_costs_only_that_entry() -> None:
    info = RtpInfo.parse("url=trackID=0;seq=1;rtptime=2,url=;seq=5,url=trackID=1;seq=7;rtptime=x")
    assert info.entries == (RtpInfoEntry("trackID=0", 1, 2), RtpInfoEntry("trackID=1", 7))
    assert info.problems == (
        "RTP-Info: empty url, entry ignored",
        "RTP-Info: invalid rtptime 'x' for trackID=1, ignored",
    )
    assert info.for_url(f"{URL}/trackID=1") == RtpInfoEntry("trackID=1", 7)


def test_a_header_with_no_usable_entry_is_still_an_error() -> None:
    with pytest.raises(RemoteProtocolError, match="RTP-Info: empty url"):
        RtpInfo.parse("url=;seq=5, url=;seq=6")


def test_the_play_answer_keeps_the_seq_and_says_what_it_left_out() -> None:
    client = RtspClientConnection(URL, ClientConfig(user_agent=None))
    setup = client.setup(f"{URL}/trackID=0", TransportSpec(lower_transport="TCP"))
    client.receive_data(f"RTSP/1.0 200 OK\r\nCSeq: {setup}\r\nSession: abc\r\n\r\n".encode(), 0)
    client.next_event()
    play = client.play()
    client.receive_data(
        f"RTSP/1.0 200 OK\r\nCSeq: {play}\r\nSession: abc\r\n"
        f"RTP-Info: url={URL}/trackID=0;seq=22054;rtptime=-1\r\n\r\n".encode(),
        0,
    )
    event = client.next_event()
    assert isinstance(event, ResponseReceived)
    assert event.rtp_info is not None
    assert event.rtp_info.for_url(f"{URL}/trackID=0") == RtpInfoEntry(f"{URL}/trackID=0", 22054)
    assert event.warnings == (f"RTP-Info: invalid rtptime '-1' for {URL}/trackID=0, ignored",)
