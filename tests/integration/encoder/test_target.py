"""Push URLs, the way FFmpeg splits them into application, tcUrl and stream name."""

from __future__ import annotations

import pytest

from camsim.encoder.target import PushTarget, TargetError, expand


def test_plain_rtmp_url():
    target = PushTarget.parse("rtmp://127.0.0.1:11935/live/cam1")
    assert target == PushTarget(
        url="rtmp://127.0.0.1:11935/live/cam1",
        tls=False,
        host="127.0.0.1",
        port=11935,
        app="live",
        stream_name="cam1",
        tc_url="rtmp://127.0.0.1:11935/live",
    )


def test_default_ports_and_tc_url_without_a_port():
    assert PushTarget.parse("rtmp://example.com/live/a").port == 1935
    target = PushTarget.parse("rtmps://example.com/live/a")
    assert (target.tls, target.port, target.tc_url) == (True, 443, "rtmps://example.com/live")


def test_application_instance_and_query_stay_where_servers_read_them():
    target = PushTarget.parse("rtmp://h:1/app/instance/key?token=abc&x=1")
    assert target.app == "app/instance"
    assert target.stream_name == "key?token=abc&x=1"
    assert target.tc_url == "rtmp://h:1/app/instance"


def test_ipv6_literal_host():
    target = PushTarget.parse("rtmp://[::1]:1935/live/a")
    assert (target.host, target.tc_url) == ("::1", "rtmp://[::1]:1935/live")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h/live/a", "http://h/live/a: the scheme must be rtmp:// or rtmps://"),
        ("rtmp:///live/a", "rtmp:///live/a: no host"),
        ("rtmp://h/live", "rtmp://h/live: expected a path of the form /app/name"),
        ("rtmp://h/live/", "rtmp://h/live/: expected a path of the form /app/name"),
        ("rtmp://h:99999/live/a", "rtmp://h:99999/live/a: Port out of range 0-65535"),
    ],
)
def test_unusable_urls(url: str, message: str):
    with pytest.raises(TargetError) as excinfo:
        PushTarget.parse(url)
    assert str(excinfo.value) == message


def test_expand_numbers_streams_from_one():
    assert expand("rtmp://h/live/cam{n}", 7) == "rtmp://h/live/cam7"
    assert expand("rtmp://h/live/cam", 7) == "rtmp://h/live/cam"
