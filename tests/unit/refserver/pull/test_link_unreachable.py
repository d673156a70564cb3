"""Which failures to open a link say the camera's port is unreachable (so the plan may try
another endpoint) and which say the camera answered (so it may not), on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from refserver.pull.address import CameraAddress
from refserver.pull.errors import PullError, Unreachable
from refserver.pull.link import open_link

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def unbound_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: a connect there is refused


async def open_to(handler: Handler, *, tunnel: bool, secure: bool = False) -> Exception:
    """Open a link to a loopback server that serves each connection with ``handler``; the
    error it raised."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    scheme = "rtsps" if secure else "rtsp"
    address = CameraAddress.parse(f"{scheme}://127.0.0.1:{port}/cam1")
    try:
        with pytest.raises(PullError) as caught:
            await open_link(address, tunnel=tunnel, tls_verify=False, timeout=1.0)
        return caught.value
    finally:
        server.close()
        await server.wait_closed()


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def answer_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


async def not_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    writer.write(b"RTSP/1.0 400 Bad Request\r\n\r\n" * 4)  # a plain RTSP port, not TLS
    await writer.drain()
    writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3)
    writer.close()


@pytest.mark.parametrize("tunnel", [False, True], ids=["rtsp", "tunnel"])
def test_a_refused_connect_is_unreachable(tunnel: bool) -> None:
    port = unbound_port()
    address = CameraAddress.parse(f"rtsp://127.0.0.1:{port}/cam1")
    with pytest.raises(Unreachable) as caught:
        asyncio.run(open_link(address, tunnel=tunnel, timeout=1.0))
    assert str(caught.value).startswith(f"cannot connect to 127.0.0.1:{port}: ")


def test_a_tunnel_closed_before_its_get_is_answered_is_unreachable() -> None:
    error = asyncio.run(open_to(close_at_once, tunnel=True))
    assert isinstance(error, Unreachable)
    assert str(error) == "the camera closed the HTTP tunnel before answering its GET"


def test_a_tunnel_whose_get_is_never_answered_is_unreachable() -> None:
    error = asyncio.run(open_to(silent, tunnel=True))
    assert isinstance(error, Unreachable)
    assert str(error) == "no answer to the HTTP tunnel's GET within 1 s"


def test_a_tunnel_get_answered_404_is_a_camera_that_answered() -> None:
    error = asyncio.run(open_to(answer_404, tunnel=True))
    assert not isinstance(error, Unreachable)
    assert str(error) == "the camera refused the HTTP tunnel (GET answered 404 Not Found)"


def test_a_tls_handshake_the_port_answers_wrongly_is_a_camera_that_answered() -> None:
    error = asyncio.run(open_to(not_tls, tunnel=False, secure=True))
    assert not isinstance(error, Unreachable)
    assert str(error).startswith("TLS with 127.0.0.1:")
