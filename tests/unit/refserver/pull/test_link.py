"""The HTTP tunnel's two legs as a camera (or a proxy in front of it) sees them."""

from __future__ import annotations

import asyncio
import socket

import pytest

from refserver.pull.address import CameraAddress
from refserver.pull.link import open_link
from wire.rtsp.headers import Headers
from wire.rtsp.tunnel import parse_tunnel_request, tunnel_response


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def tunnel_heads(host: str, url_path: str) -> list[tuple[str, str, Headers]]:
    """Pull through a tunnel to a listener on ``host``: the method, path and headers of the
    two legs' requests, in the order they came."""
    heads: list[tuple[str, str, Headers]] = []
    both = asyncio.Event()

    async def leg(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        while (parsed := parse_tunnel_request(data)) is None:
            chunk = await reader.read(4096)
            assert chunk, "the leg closed before its request was complete"
            data += chunk
        request, _ = parsed
        heads.append((request.method, request.path, request.headers))
        if request.method == "GET":
            writer.write(tunnel_response())
        if len(heads) == 2:
            both.set()
        await both.wait()
        writer.close()

    server = await asyncio.start_server(leg, host, 0)
    port = server.sockets[0].getsockname()[1]
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        address = CameraAddress.parse(f"rtsp://user:secret@{netloc}{url_path}")
        link = await open_link(address, tunnel=True, timeout=5, user_agent="refserver-test")
        await asyncio.wait_for(both.wait(), 5)
        link.close()
    finally:
        server.close()
        await server.wait_closed()
    return heads


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_both_legs_name_the_camera_in_a_host_header(host: str) -> None:
    if host == "::1" and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    heads = asyncio.run(tunnel_heads(host, "/cam1?ch=2"))
    assert [(method, path) for method, path, _ in heads] == [
        ("GET", "/cam1?ch=2"),
        ("POST", "/cam1?ch=2"),
    ]
    hosts = {headers.get("Host") for _, _, headers in heads}
    assert len(hosts) == 1
    (value,) = hosts
    assert value is not None
    assert value.startswith("[::1]:" if host == "::1" else "127.0.0.1:")
    assert len({headers.get("x-sessioncookie") for _, _, headers in heads}) == 1
    for _, _, headers in heads:
        assert headers.get("User-Agent") == "refserver-test"
        assert b"secret" not in headers.serialize()  # credentials go in RTSP, never in HTTP
