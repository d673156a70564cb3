"""Every number an RTSP peer writes is bounded before it is converted.

More than 4300 digits make ``int()`` raise a bare ``ValueError`` (CPython's conversion limit),
which no caller expects from a parser: each case below gets the protocol's own answer instead,
a :class:`RemoteProtocolError`, a value left out with a warning, or a default.
"""

from __future__ import annotations

from typing import Any

import pytest

from wire.rtsp.client import ClientConfig, RtspClientConnection
from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.events import ConnectionTerminated, RequestRejected, ResponseReceived
from wire.rtsp.headers import SessionHeader, parse_cseq
from wire.rtsp.message import Request
from wire.rtsp.range import Range
from wire.rtsp.reader import RtspReader
from wire.rtsp.rtpinfo import RtpInfo
from wire.rtsp.server import RtspServerConnection
from wire.rtsp.status import StatusCode
from wire.rtsp.transport import TransportSpec

HUGE = "9" * 5000
URL = "rtsp://192.168.1.108:554/stream1"


def events_of(connection: Any) -> list[Any]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def test_a_content_length_of_5000_digits_is_a_413_not_a_value_error() -> None:
    reader = RtspReader()
    reader.receive_data(f"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: {HUGE}\r\n\r\n".encode())
    with pytest.raises(RemoteProtocolError) as info:
        reader.next_message()
    assert info.value.status_code == StatusCode.REQUEST_ENTITY_TOO_LARGE
    assert info.value.fatal
    assert str(info.value) == (
        f"body of {HUGE[:24]!r}... (5000 characters) bytes exceeds the limit of 262144"
    )


def test_a_server_answers_an_endless_content_length_with_413_and_closes() -> None:
    server = RtspServerConnection()
    request = f"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: {HUGE}\r\n\r\n"
    server.receive_data(request.encode(), 0)
    events = events_of(server)
    assert isinstance(events[0], RequestRejected)
    assert events[0].status_code == StatusCode.REQUEST_ENTITY_TOO_LARGE
    assert isinstance(events[-1], ConnectionTerminated)
    assert server.data_to_send().startswith(b"RTSP/1.0 413 ")


def test_a_cseq_of_5000_digits_is_unreadable_not_an_exception() -> None:
    assert parse_cseq(HUGE) is None
    assert parse_cseq(" 4294967295 ") == 0xFFFFFFFF
    assert parse_cseq("4294967296") is None
    request = Request.parse(f"OPTIONS * RTSP/1.0\r\nCSeq: {HUGE}\r\n\r\n".encode())
    assert request.cseq is None


def test_a_session_timeout_of_5000_digits_keeps_the_session_id() -> None:
    header = SessionHeader.parse(f"abc;timeout={HUGE}")
    assert header == SessionHeader("abc", None)
    assert header.effective_timeout == 60
    assert header.problems == (
        f"Session: invalid timeout {HUGE[:24]!r}... (5000 characters), the default of 60 s applies",
    )


@pytest.mark.parametrize("timeout", ["soon", "", "-5", "2147483648"])
def test_an_unreadable_session_timeout_keeps_the_session_id(timeout: str) -> None:
    header = SessionHeader.parse(f"abc;timeout={timeout}")
    assert (header.session_id, header.timeout) == ("abc", None)
    assert header.problems == (
        f"Session: invalid timeout {timeout!r}, the default of 60 s applies",
    )


def test_the_client_keeps_a_session_whose_timeout_is_unreadable_and_says_why() -> None:
    client = RtspClientConnection(URL, ClientConfig(user_agent=None))
    cseq = client.setup(f"{URL}/trackID=0", TransportSpec(lower_transport="TCP"))
    client.receive_data(
        f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nSession: abc;timeout={HUGE}\r\n\r\n".encode(), 0
    )
    [event] = events_of(client)
    assert isinstance(event, ResponseReceived)
    assert client.session == SessionHeader("abc", None)
    assert event.warnings == (
        f"Session: invalid timeout {HUGE[:24]!r}... (5000 characters), the default of 60 s applies",
    )


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (f"ssrc={HUGE}", "invalid ssrc"),
        (f"ttl={HUGE}", "invalid ttl"),
        (f"layers={HUGE}", "invalid layers"),
        (f"client_port={HUGE}", "invalid client_port"),
        (f"interleaved=0-{HUGE}", "invalid interleaved"),
    ],
)
def test_transport_numbers_of_5000_digits_are_protocol_errors(parameter: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=f"Transport: {message}"):
        TransportSpec.parse(f"RTP/AVP;unicast;{parameter}")


def test_rtp_info_numbers_of_5000_digits_are_left_out() -> None:
    info = RtpInfo.parse(f"url=trackID=0;seq={HUGE};rtptime=90000")
    [entry] = info.entries
    assert (entry.seq, entry.rtptime) == (None, 90000)
    assert info.problems == (
        f"RTP-Info: invalid seq {HUGE[:24]!r}... (5000 characters) for trackID=0, ignored",
    )


@pytest.mark.parametrize(
    "value",
    [
        f"npt={HUGE}-",
        f"npt=0-{HUGE}.5",
        f"npt={HUGE}:00:00-",
        "npt=9223372036855-",  # one second past int64 microseconds
    ],
)
def test_npt_times_past_int64_microseconds_are_refused(value: str) -> None:
    with pytest.raises(RemoteProtocolError, match="Range: invalid npt time"):
        Range.parse(value)


def test_the_latest_npt_time_still_reads() -> None:
    assert Range.parse("npt=9223372036854.775807-").start_seconds is not None
    assert Range.parse("npt=2562047788:00:54.775807-").start is not None
    with pytest.raises(RemoteProtocolError):
        Range.parse("npt=2562047788:00:55-")
