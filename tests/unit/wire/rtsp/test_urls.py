from __future__ import annotations

import pytest

from wire.rtsp.headers import Headers
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
