from __future__ import annotations

import pytest

from wire.rtsp.client import RtspClientConnection
from wire.rtsp.headers import Headers
from wire.rtsp.transport import Transport
from wire.rtsp.urls import base_url, resolve_control

REQUEST_URL = "rtsp://192.168.1.108:554/stream1"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([("Content-Base", "rtsp://192.168.1.108:554/")], "rtsp://192.168.1.108:554/"),
        (
            [("Content-Location", "rtsp://h/loc/"), ("Content-Base", "rtsp://h/base/")],
            "rtsp://h/base/",
        ),
        ([("Content-Location", "rtsp://h/loc/")], "rtsp://h/loc/"),
        ([], REQUEST_URL),
        ([("Content-Base", "  ")], REQUEST_URL),
        ([("Content-Base", "/stream0/")], "rtsp://192.168.1.108:554/stream0/"),
        ([("Content-Base", "192.168.1.10:554/stream0/")], "rtsp://192.168.1.10:554/stream0/"),
        ([("Content-Base", "other/")], "rtsp://192.168.1.108:554/other/"),
    ],
)
def test_base_url_precedence_and_quirks(fields, expected) -> None:
    assert base_url(REQUEST_URL, Headers(fields)) == expected


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        ("rtsp://h:554/", "*", "rtsp://h:554/"),
        ("rtsp://h:554/", "", "rtsp://h:554/"),
        ("rtsp://h:554/", "trackID=0", "rtsp://h:554/trackID=0"),
        ("rtsp://h:554/stream", "trackID=0", "rtsp://h:554/stream/trackID=0"),
        ("rtsp://h/s?x=1", "?track=2", "rtsp://h/s?x=1?track=2"),
        ("rtsp://h/s/", "rtsp://other/abs/track1", "rtsp://other/abs/track1"),
        ("rtsp://h/s/", "rtsps://h/s/track1", "rtsps://h/s/track1"),
        ("rtsp://h/s/", "/root/track", "rtsp://h/root/track"),
    ],
)
def test_resolve_control(base, control, expected) -> None:
    assert resolve_control(base, control) == expected


def test_an_unclosed_ipv6_bracket_is_not_resolved_and_not_an_exception() -> None:
    # urljoin raises ValueError("Invalid IPv6 URL") for these.
    assert base_url(REQUEST_URL, Headers([("Content-Base", "//[::1/cam/")])) == REQUEST_URL
    assert resolve_control(REQUEST_URL, "//[fe80::1/track1") == f"{REQUEST_URL}///[fe80::1/track1"


def test_whitespace_and_control_characters_are_percent_encoded() -> None:
    # A request line cannot carry them raw: the keepalive to such a base used to raise.
    headers = Headers([("Content-Base", "rtsp://h/a b/")])
    assert base_url(REQUEST_URL, headers) == "rtsp://h/a%20b/"
    assert resolve_control("rtsp://h/a%20b/", "track\t1") == "rtsp://h/a%20b/track%091"
    assert resolve_control("rtsp://h/s/", "t\x7f") == "rtsp://h/s/t%7F"
    assert resolve_control("rtsp://h/s/", "caméra") == "rtsp://h/s/caméra"


def test_a_client_keeps_a_base_with_a_space_alive() -> None:
    client = RtspClientConnection(REQUEST_URL)
    client.describe()
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Base: rtsp://h/a b/\r\n\r\n"
    client.receive_data(answer, 0.0)
    assert client.aggregate_url == "rtsp://h/a%20b/"
    client.data_to_send()
    client.setup("rtsp://h/a%20b/track1", Transport.parse("RTP/AVP/TCP;interleaved=0-1"))
    client.receive_data(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 1;timeout=60\r\n\r\n", 1.0)
    client.data_to_send()
    timer = client.get_timer()
    assert timer is not None
    client.handle_timer(timer)
    assert client.data_to_send().startswith(b"OPTIONS rtsp://h/a%20b/ RTSP/1.0\r\n")
