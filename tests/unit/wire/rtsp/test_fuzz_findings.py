"""Inputs the fuzz harness found to escape the RTSP parsers as the wrong exception; each now gets
the protocol's own answer."""

from __future__ import annotations

from typing import Any

import pytest

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.events import RequestReceived, RequestRejected
from wire.rtsp.message import Request, Response
from wire.rtsp.reader import RtspReader
from wire.rtsp.server import RtspServerConnection
from wire.rtsp.tunnel import parse_tunnel_request


def events_of(connection: Any) -> list[Any]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


@pytest.mark.parametrize("continuation", [b" \x00", b" \r", b"\tx\x00y"])
def test_a_folded_header_line_with_nul_or_cr_is_a_malformed_header(continuation: bytes) -> None:
    reader = RtspReader()
    reader.receive_data(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: a\r\n" + continuation + b"\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="malformed header line") as caught:
        reader.next_message()
    assert not caught.value.fatal
    assert caught.value.cseq == 1
    # The stream stays framed: the next request reads.
    reader.receive_data(b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n")
    request = reader.next_message()
    assert isinstance(request, Request)
    assert request.cseq == 2


def test_the_tunnel_refuses_a_folded_line_with_a_cr() -> None:
    with pytest.raises(RemoteProtocolError, match="malformed header line"):
        parse_tunnel_request(b"GET / HTTP/1.0\r\nX: a\r\n \r\r\n\r\n")


def test_a_second_request_with_an_unanswered_cseq_is_refused() -> None:
    server = RtspServerConnection()
    options = b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n"
    server.receive_data(options + options, 0)
    first, second = events_of(server)
    assert isinstance(first, RequestReceived)
    assert isinstance(second, RequestRejected)
    assert (second.status_code, second.reason) == (400, "CSeq 2 is already awaiting a response")
    server.send_response(first.request, Response(200))  # the first one is still answerable
    answers = server.data_to_send()
    assert answers.startswith(b"RTSP/1.0 400 Bad Request\r\nCSeq: 2\r\n")
    assert answers.count(b"CSeq: 2\r\n") == 2
