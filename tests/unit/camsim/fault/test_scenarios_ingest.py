"""How the resilience suite reads an ingest target: where the encoder publishes through the
proxy, which upstream the proxy relays to, and when --target is a server's command."""

from __future__ import annotations

import os

import pytest

from conformance.suites.resilience.ingest import push_url, upstream_of
from conformance.suites.resilience.run import resident_bytes
from conformance.suites.resilience.server import is_server_command


def test_the_encoder_publishes_to_the_proxy_under_the_stream_name() -> None:
    assert (
        push_url("rtmp://127.0.0.1:1935/live/{name}?key=k", "cam", 40001)
        == "rtmp://127.0.0.1:40001/live/cam?key=k"
    )


def test_the_proxy_relays_to_the_target_rtmp_port() -> None:
    assert upstream_of("rtmp://127.0.0.1:19350/live/{name}") == ("127.0.0.1", 19350)
    assert upstream_of("rtmp://localhost/live/{name}") == ("localhost", 1935)
    with pytest.raises(ValueError, match="must be rtmp://"):
        upstream_of("rtmps://127.0.0.1/live/{name}")


def test_a_target_with_both_ports_is_a_server_command() -> None:
    assert is_server_command("refserver --rtmp-port {rtmp_port} --http-port {http_port}")
    assert not is_server_command("refserver --rtmp-port {rtmp_port}")
    assert not is_server_command("ffmpeg -i {url} -f hls {out}/index.m3u8")


def test_resident_memory_of_a_live_process_and_of_none() -> None:
    own = resident_bytes(os.getpid())
    assert own is not None
    assert own > 1024 * 1024
    assert resident_bytes(2**22 + 12345) is None
