from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.rtsp.errors import RemoteProtocolError
from wire.rtsp.message import Response
from wire.rtsp.reader import RtspReader
from wire.rtsp.tunnel import (
    TunnelDecoder,
    TunnelRequest,
    encode_tunnel_data,
    is_tunnel_start,
    parse_tunnel_request,
    parse_tunnel_response,
    tunnel_response,
)


def complete_request(data: bytes) -> tuple[TunnelRequest, bytes]:
    result = parse_tunnel_request(data)
    assert result is not None
    return result


def complete_response(data: bytes) -> tuple[Response, bytes]:
    result = parse_tunnel_response(data)
    assert result is not None
    return result


OPTIONS = b"OPTIONS rtsp://h/cam1 RTSP/1.0\r\nCSeq: 1\r\n\r\n"
DESCRIBE = b"DESCRIBE rtsp://h/cam1 RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"


def test_get_leg_bytes_and_parse() -> None:
    request = TunnelRequest.get("/cam1", "a1b2c3", user_agent="camsim")
    data = request.serialize()
    assert data == (
        b"GET /cam1 HTTP/1.0\r\nx-sessioncookie: a1b2c3\r\n"
        b"Accept: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\n"
        b"Cache-Control: no-cache\r\nUser-Agent: camsim\r\n\r\n"
    )
    assert is_tunnel_start(data)
    assert not is_tunnel_start(OPTIONS)
    parsed, rest = complete_request(data + b"extra")
    assert (parsed.method, parsed.path, parsed.session_cookie) == ("GET", "/cam1", "a1b2c3")
    assert rest == b"extra"


def test_post_leg_carries_base64_after_its_head() -> None:
    head = TunnelRequest.post("/cam1", "a1b2c3").serialize()
    assert head.startswith(b"POST /cam1 HTTP/1.0\r\nx-sessioncookie: a1b2c3\r\n")
    assert b"Content-Type: application/x-rtsp-tunnelled\r\n" in head
    assert b"Content-Length: 32767\r\n" in head
    body = encode_tunnel_data(OPTIONS) + encode_tunnel_data(DESCRIBE, line_length=20)
    parsed, rest = complete_request(head + body)
    assert parsed.method == "POST"
    decoder = TunnelDecoder()
    assert decoder.decode(rest) == OPTIONS + DESCRIBE


def test_legs_name_the_host_first_when_given() -> None:
    get = TunnelRequest.get("/cam1", "c", host="[::1]:8554").serialize()
    post = TunnelRequest.post("/cam1", "c", host="cam.local:80").serialize()
    assert get.startswith(b"GET /cam1 HTTP/1.0\r\nHost: [::1]:8554\r\nx-sessioncookie: c\r\n")
    assert post.startswith(b"POST /cam1 HTTP/1.0\r\nHost: cam.local:80\r\nx-sessioncookie: c\r\n")
    parsed, _ = complete_request(get)
    assert parsed.headers.get("host") == "[::1]:8554"


def test_partial_heads_wait() -> None:
    data = TunnelRequest.get("/cam1", "c").serialize()
    assert parse_tunnel_request(data[:-1]) is None
    assert parse_tunnel_response(tunnel_response()[:-2]) is None


def test_get_response_then_rtsp() -> None:
    data = tunnel_response(server="camsim")
    assert data == (
        b"HTTP/1.0 200 OK\r\nServer: camsim\r\nConnection: close\r\nCache-Control: no-store\r\n"
        b"Pragma: no-cache\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n"
    )
    response, rest = complete_response(data + b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
    assert response.status_code == 200
    reader = RtspReader()
    reader.receive_data(rest)
    message = reader.next_message()
    assert isinstance(message, Response)
    assert message.cseq == 1
    assert b"Content-Type" not in tunnel_response(403)


@pytest.mark.parametrize("chunk", [1, 3, 5, 64])
def test_decoder_in_any_pieces_with_line_breaks(chunk) -> None:
    body = b"".join(encode_tunnel_data(m, line_length=16) for m in (OPTIONS, DESCRIBE, b"A"))
    decoder = TunnelDecoder()
    out = b"".join(decoder.decode(body[i : i + chunk]) for i in range(0, len(body), chunk))
    assert out == OPTIONS + DESCRIBE + b"A"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"GET /cam1 HTTP/1.0\r\n\r\n", "HTTP tunnel: GET without x-sessioncookie"),
        (b"PUT /x HTTP/1.0\r\nx-sessioncookie: a\r\n\r\n", "HTTP tunnel: method PUT opens no leg"),
        (b"GET /x RTSP/1.0\r\nx-sessioncookie: a\r\n\r\n", "HTTP tunnel: not an HTTP request"),
    ],
)
def test_request_errors(head, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        parse_tunnel_request(head)


def test_head_limits() -> None:
    with pytest.raises(RemoteProtocolError, match="request head exceeds 16 bytes"):
        parse_tunnel_request(b"GET /" + b"x" * 20, max_head_bytes=16)
    with pytest.raises(RemoteProtocolError, match="response head exceeds 16 bytes"):
        parse_tunnel_response(b"HTTP/1.0 200 " + b"x" * 20, max_head_bytes=16)
    with pytest.raises(RemoteProtocolError, match="not an HTTP response"):
        parse_tunnel_response(b"RTSP/1.0 200 OK\r\n\r\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"T1BU!", "POST body is not base64"),
        (b"QQ===AAA", "misplaced base64 padding"),
        (b"Q===", "misplaced base64 padding|invalid base64"),
    ],
)
def test_decoder_errors(data, message) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        TunnelDecoder().decode(data)


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=60), max_size=5), st.integers(1, 30), st.integers(4, 76))
def test_decoder_round_trip(messages, chunk, line_length) -> None:
    body = b"".join(encode_tunnel_data(m, line_length=line_length) for m in messages)
    decoder = TunnelDecoder()
    out = b"".join(decoder.decode(body[i : i + chunk]) for i in range(0, len(body), chunk))
    assert out == b"".join(messages)


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_any_bytes_decode_or_raise_the_documented_error(data) -> None:
    try:
        TunnelDecoder().decode(data)
        parse_tunnel_request(data)
    except RemoteProtocolError:
        pass
