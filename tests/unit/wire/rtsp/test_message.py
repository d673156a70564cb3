from __future__ import annotations

import pytest

from wire.rtsp.errors import LocalProtocolError, RemoteProtocolError
from wire.rtsp.headers import Headers
from wire.rtsp.message import InterleavedFrame, MessageHead, Method, Request, Response

DESCRIBE = (
    b"DESCRIBE rtsp://192.168.1.108:554 RTSP/1.0\r\n"
    b"CSeq: 4\r\n"
    b"User-Agent: LibVLC/3.0.17.4 (LIVE555 Streaming Media v2022.04.26)\r\n"
    b"Accept: application/sdp\r\n"
    b"\r\n"
)
SDP = b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Media Server\r\nt=0 0\r\na=control:*\r\n"
DESCRIBE_OK = (
    b"RTSP/1.0 200 OK\r\n"
    b"CSeq: 7\r\n"
    b"Content-Base: rtsp://192.168.1.108:554/\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"Content-Type: application/sdp\r\n"
    b"\r\n" + SDP
)


def test_request_fields_and_exact_round_trip() -> None:
    request = Request.parse(DESCRIBE)
    assert request.method == Method.DESCRIBE
    assert request.url == "rtsp://192.168.1.108:554"
    assert request.version == "RTSP/1.0"
    assert request.cseq == 4
    assert request.headers["accept"] == "application/sdp"
    assert request.body == b""
    assert request.serialize() == DESCRIBE


def test_response_with_body_round_trip() -> None:
    response = Response.parse(DESCRIBE_OK)
    assert (response.status_code, response.reason, response.cseq) == (200, "OK", 7)
    assert response.ok
    assert response.body == SDP
    assert response.serialize() == DESCRIBE_OK


def test_lf_only_line_endings_are_accepted() -> None:
    request = Request.parse(DESCRIBE.replace(b"\r\n", b"\n"))
    assert request.cseq == 4
    assert request.serialize() == DESCRIBE


@pytest.mark.parametrize("value", ["5 ", " 5", "5\t", "  5  "])
def test_cseq_with_surrounding_whitespace(value) -> None:
    response = Response.parse(f"RTSP/1.0 200 OK\r\nCSeq: {value}\r\n\r\n".encode())
    assert response.cseq == 5


@pytest.mark.parametrize("value", ["", "five", "5 6", "-1", "99999999999"])
def test_unreadable_cseq_is_none(value) -> None:
    response = Response.parse(f"RTSP/1.0 200 OK\r\nCSeq: {value}\r\n\r\n".encode())
    assert response.cseq is None


def test_folded_header_lines_are_joined() -> None:
    request = Request.parse(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: one\r\n  two\r\n\r\n")
    assert request.headers["X-Long"] == "one two"


def test_space_before_colon_is_tolerated() -> None:
    request = Request.parse(b"OPTIONS * RTSP/1.0\r\nCSeq : 1\r\n\r\n")
    assert request.cseq == 1


def test_missing_reason_phrase_gets_the_rfc_one() -> None:
    assert Response.parse(b"RTSP/1.0 454\r\nCSeq: 1\r\n\r\n").reason == "Session Not Found"


def test_serialize_adds_content_length() -> None:
    request = Request("SET_PARAMETER", "rtsp://h/", Headers([("CSeq", "3")]), b"a: b\r\n")
    assert request.serialize() == (
        b"SET_PARAMETER rtsp://h/ RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 6\r\n\r\na: b\r\n"
    )


def test_serialize_refuses_wrong_content_length() -> None:
    response = Response(200, headers=Headers([("Content-Length", "3")]), body=b"ab")
    with pytest.raises(LocalProtocolError, match="Content-Length 3 but the body has 2 bytes"):
        response.serialize()


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request("BAD METHOD", "rtsp://h/"), "method 'BAD METHOD' is not a token"),
        (Request("PLAY", "rtsp://h/ x"), "request URL 'rtsp://h/ x' is empty or contains"),
        (Request("PLAY", ""), "request URL '' is empty"),
    ],
)
def test_serialize_refuses_malformed_requests(request_, message) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        request_.serialize()


def test_headers_refuse_line_breaks() -> None:
    with pytest.raises(LocalProtocolError, match="contains CR, LF or NUL"):
        Headers([("X", "a\r\nInjected: yes")])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PLAY rtsp://h/ RTSP/1.0\r\nCSeq: 1\r\n", "incomplete message: no empty line"),
        (b"PLAY rtsp://h/ RTSP/1.0\r\nbroken\r\n\r\n", "malformed header line 'broken'"),
        (b"PLAY rtsp://h/\r\nCSeq: 1\r\n\r\n", "malformed start line 'PLAY rtsp://h/'"),
        (b"RTSP/1.0 2000 OK\r\n\r\n", "malformed start line 'RTSP/1.0 2000 OK'"),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: x\r\n\r\n", "Content-Length 'x' is not a"),
        (
            b"OPTIONS * RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            r"conflicting Content-Length values \['1', '2'\]",
        ),
        (b"OPTIONS * RTSP/1.0\r\nContent-Length: 5\r\n\r\nab", "Content-Length is 5 but 2 body"),
    ],
)
def test_parse_errors(data, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        Request.parse(data)


def test_request_parse_refuses_a_response() -> None:
    with pytest.raises(RemoteProtocolError, match="expected a request, got a response"):
        Request.parse(b"RTSP/1.0 200 OK\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="expected a response, got a request"):
        Response.parse(DESCRIBE)


def test_message_head_keeps_the_first_problem_and_the_cseq() -> None:
    head = MessageHead.parse(b"PLAY x RTSP/1.0\r\nCSeq: 9\r\nno colon\r\nalso none\r\n\r\n")
    assert head.problem == "malformed header line 'no colon'"
    assert head.cseq == 9
    with pytest.raises(RemoteProtocolError) as info:
        head.build(b"", max_headers=10)
    assert info.value.cseq == 9
    assert not info.value.fatal


def test_too_many_headers() -> None:
    head = MessageHead.parse(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nA: 1\r\nB: 2\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="3 header fields exceed the limit of 2"):
        head.build(b"", max_headers=2)


def test_interleaved_frame_round_trip() -> None:
    frame = InterleavedFrame(1, b"\x80\xc9\x00\x01")
    assert frame.serialize() == b"$\x01\x00\x04\x80\xc9\x00\x01"
    assert InterleavedFrame.parse(frame.serialize()) == frame


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"$\x00\x00", "interleaved frame: 3 bytes, shorter than the 4-byte header"),
        (b"#\x00\x00\x00", "interleaved frame: starts with 0x23, not '\\$'"),
        (b"$\x00\x00\x02a", "interleaved frame: length field says 2 payload bytes, got 1"),
    ],
)
def test_interleaved_frame_errors(data, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        InterleavedFrame.parse(data)


def test_interleaved_frame_limits() -> None:
    with pytest.raises(LocalProtocolError, match=r"channel 256 is not in 0\.\.255"):
        InterleavedFrame(256, b"").serialize()
    with pytest.raises(LocalProtocolError, match="payload of 65536 bytes exceeds 65535"):
        InterleavedFrame(0, bytes(65536)).serialize()
