"""What HTTP clients may hold: connections per server and per address, idle and slow clients'
deadlines. Each limit closes only the offending connection; others are served throughout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from refserver.http import HttpOptions
from refserver.streams import PublisherInfo
from tests.integration.refserver.harness import RunningServer, running, server_config

LEGIT = "127.0.0.2"  # a client of its own, from another loopback address
REQUEST = b"GET /api/streams HTTP/1.1\r\nHost: refserver\r\n\r\n"


def connect(server: RunningServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.http_port), 5, (source, 0))
    sock.settimeout(5)
    return sock


def exchange(sock: socket.socket, request: bytes = REQUEST) -> bytes:
    """Send ``request``; the response head and what body came with it (one read)."""
    sock.sendall(request)
    return sock.recv(65536)


def closed_by_server(sock: socket.socket, within: float) -> float | None:
    """Seconds until the server closed ``sock`` (EOF or reset), None if it did not."""
    began = time.monotonic()
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return time.monotonic() - began


@contextmanager
def idle_connections(
    server: RunningServer, count: int, source: str
) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        socks = [stack.enter_context(connect(server, source)) for _ in range(count)]
        time.sleep(0.2)  # accepted and counted
        yield socks


def test_one_address_cannot_take_more_than_its_share(tmp_path: Path) -> None:
    options = HttpOptions(max_connections=20, max_connections_per_ip=4)
    with (
        running(server_config(tmp_path, http=options)) as server,
        idle_connections(server, 4, "127.0.0.1") as held,
    ):
        with connect(server) as extra:
            answer = exchange(extra)
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"Connection: close\r\n" in answer
            assert answer.endswith(b"too many connections from your address\n")
            assert closed_by_server(extra, 2) is not None
        with connect(server, LEGIT) as other:
            assert exchange(other).startswith(b"HTTP/1.1 200 OK\r\n")
        # The held connections still work, and a freed slot is free again.
        assert exchange(held[0]).startswith(b"HTTP/1.1 200 OK\r\n")
        held.pop().close()
        time.sleep(0.2)
        with connect(server) as again:
            assert exchange(again).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_full_server_makes_room_by_closing_connections_that_never_asked_anything(
    tmp_path: Path,
) -> None:
    options = HttpOptions(max_connections=4, max_connections_per_ip=4)
    with (
        running(server_config(tmp_path, http=options)) as server,
        idle_connections(server, 4, "127.0.0.3") as idle,
        connect(server, LEGIT) as client,
    ):
        assert exchange(client).startswith(b"HTTP/1.1 200 OK\r\n")
        # The oldest connection that never sent a request made room.
        assert closed_by_server(idle[0], 2) is not None
        assert all(closed_by_server(sock, 0.2) is None for sock in idle[1:])
        # Every remaining connection has asked for something: nothing to make room with.
        for sock in idle[1:]:
            assert exchange(sock).startswith(b"HTTP/1.1 200 OK\r\n")
        with connect(server, "127.0.0.4") as late:
            answer = exchange(late)
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert answer.endswith(b"server busy: too many connections\n")
        assert exchange(client).startswith(b"HTTP/1.1 200 OK\r\n")


def test_idle_and_slow_header_clients_are_closed_after_the_keepalive_timeout(
    tmp_path: Path,
) -> None:
    options = HttpOptions(keepalive_timeout=0.5)
    with (
        running(server_config(tmp_path, http=options)) as server,
        connect(server) as idle,
        connect(server) as slowloris,
    ):
        began = time.monotonic()
        closed_after = None
        for byte in REQUEST[:-2]:  # one byte every 50 ms (2.3 s), never the final empty line
            try:
                slowloris.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - began
                break
            time.sleep(0.05)
        assert closed_after is not None, "a request head trickling in was waited for"
        assert closed_after < 1.5
        assert closed_by_server(idle, 2) is not None
        with connect(server) as client:
            assert exchange(client).startswith(b"HTTP/1.1 200 OK\r\n")
            # After its response, a keep-alive connection has as long again for the next one.
            elapsed = closed_by_server(client, 2)
            assert elapsed is not None
            assert 0.3 < elapsed < 1.5


def test_a_slow_request_body_is_given_up_on(tmp_path: Path) -> None:
    options = HttpOptions(body_timeout=0.5)
    with running(server_config(tmp_path, http=options)) as server, connect(server) as sock:
        sock.sendall(
            b"GET /api/streams HTTP/1.1\r\nHost: refserver\r\nContent-Length: 100000\r\n\r\nx"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        began = time.monotonic()
        closed_after = None
        sock.settimeout(0.05)
        while closed_after is None and time.monotonic() - began < 5:
            try:
                sock.sendall(b"x")  # a byte of body every 50 ms, a sliver of what it promised
                if sock.recv(65536) == b"":
                    closed_after = time.monotonic() - began
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - began
        assert closed_after is not None
        assert closed_after < 2.5


def test_a_client_that_stops_reading_is_dropped(tmp_path: Path) -> None:
    options = HttpOptions(send_timeout=1.0, max_connections_per_ip=2)
    with running(server_config(tmp_path, http=options)) as server:

        async def stream_with_a_big_segment() -> None:
            assert server.server is not None
            publisher = PublisherInfo("127.0.0.1:1", "rtmp", 0.0, 1)
            stream = server.server.registry.claim("big", publisher)
            (stream.folder / "segment0.ts").write_bytes(b"\x47" * (48 * 1024 * 1024))

        server.call(stream_with_a_big_segment())
        with connect(server) as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(b"GET /live/big/segment0.ts HTTP/1.1\r\nHost: refserver\r\n\r\n")
            time.sleep(4)  # never read: the server's sends go unacknowledged
            with connect(server) as second, connect(server) as third:
                # The stalled connection's slot was given back: two are admitted again.
                assert exchange(second).startswith(b"HTTP/1.1 200 OK\r\n")
                assert exchange(third).startswith(b"HTTP/1.1 200 OK\r\n")
