"""The pumps over real loopback sockets: TCP, TLS (at connect and started later), UDP, a peer
that stops reading, and a bug that ends one connection while the others carry on. Every wait is
bounded."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from tests.unit.wire.asyncio.sessions import EchoSession, Ended, Line
from wire.asyncio.certificates import self_signed, server_context_for
from wire.asyncio.pump import DatagramPump, StreamPump, TlsHandshake
from wire.session import Cause, Termination

HOST = "127.0.0.1"
LIMIT = 10.0
"""No scenario may take longer than this, however loaded the machine."""


def run(scenario: Callable[[], object]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), LIMIT)  # type: ignore[arg-type]

    asyncio.run(bounded())


@asynccontextmanager
async def echo_server(
    *, idle: float = 5.0, ssl_context: ssl.SSLContext | None = None, **options: int
) -> AsyncIterator[tuple[int, list[StreamPump], list[object]]]:
    loop = asyncio.get_running_loop()
    pumps: list[StreamPump] = []
    events: list[object] = []

    def accepted() -> StreamPump:
        pump = StreamPump(
            EchoSession(loop.time(), idle=idle),
            on_event=events.append,
            **options,  # type: ignore[arg-type]
        )
        pumps.append(pump)
        return pump

    server = await loop.create_server(accepted, HOST, 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1], pumps, events
    finally:
        server.close()
        for pump in pumps:
            pump.abort()
        await server.wait_closed()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: str) -> str:
    writer.write(f"{line}\n".encode())
    await writer.drain()
    return (await reader.readline()).decode()


def test_tcp_echo_bye_and_eof() -> None:
    async def scenario() -> None:
        async with echo_server() as (port, pumps, events):
            reader, writer = await asyncio.open_connection(HOST, port)
            assert await exchange(reader, writer, "hello") == "echo: hello\n"
            assert await exchange(reader, writer, "bye") == "goodbye\n"
            assert await reader.read() == b""  # the server closed after its last words
            writer.close()
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write_eof()
            assert await reader.read() == b""
            writer.close()
            ends = [e.termination.cause for e in events if isinstance(e, Ended)]
            assert ends == [Cause.LOCAL_CLOSE, Cause.PEER_CLOSED]
            assert pumps[0].bytes_sent == len(b"echo: hello\ngoodbye\n")

    run(scenario)


def test_the_session_deadline_runs_on_the_loop_clock() -> None:
    async def scenario() -> None:
        async with echo_server(idle=0.2) as (port, _pumps, events):
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection(HOST, port)
            started = loop.time()
            assert await reader.readline() == b"idle, bye\n"
            assert await reader.read() == b""
            assert 0.2 <= loop.time() - started < 5.0
            writer.close()
            assert events == [Ended(Termination.timed_out("a line", "no line for 0.2 s"))]

    run(scenario)


def test_tls_at_accept_and_started_by_the_pump() -> None:
    pair = self_signed(["127.0.0.1"])
    client = ssl.create_default_context(cadata=pair.certificate.decode())

    async def scenario() -> None:
        async with echo_server(ssl_context=server_context_for(pair)) as (port, _pumps, _events):
            reader, writer = await asyncio.open_connection(HOST, port, ssl=client)
            assert await exchange(reader, writer, "over tls") == "echo: over tls\n"
            writer.close()

        # The pump accepts TCP, then runs the handshake itself under its own deadline.
        loop = asyncio.get_running_loop()
        events: list[object] = []
        pumps: list[StreamPump] = []

        def accepted() -> StreamPump:
            handshake = TlsHandshake(server_context_for(pair), timeout=0.5, server_side=True)
            session = EchoSession(loop.time())
            pumps.append(StreamPump(session, on_event=events.append, tls=handshake))
            return pumps[-1]

        server = await loop.create_server(accepted, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(HOST, port, ssl=client)
        assert await exchange(reader, writer, "late tls") == "echo: late tls\n"
        writer.close()
        silent = socket.create_connection((HOST, port))  # TCP, and never a ClientHello
        while len(pumps) < 2 or pumps[1].tls_task is None or not pumps[1].tls_task.done():
            await asyncio.sleep(0.02)
        assert pumps[1].session.termination == Termination.timed_out("the TLS handshake")
        assert events[0] == Line("late tls")
        assert Ended(Termination.timed_out("the TLS handshake")) in events
        assert silent.recv(100) == b""  # closed on it
        untrusting = ssl.create_default_context()  # the self-signed certificate is refused
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection(HOST, port, ssl=untrusting)
        silent.close()
        server.close()
        await server.wait_closed()

    run(scenario)


def test_a_peer_that_does_not_read_is_paused_then_dropped() -> None:
    class Flood(EchoSession):
        """Answers one line with ``size`` bytes, every 10 ms, until it is told to pause."""

        size = 256 * 1024

        def __init__(self, now: float) -> None:
            super().__init__(now, idle=60.0)
            self.flooding = False
            self.next_burst = now

        def receive_data(self, data: bytes, now: float) -> None:
            self.flooding, self.next_burst = True, now

        def get_timer(self) -> float | None:
            return self.next_burst if self.flooding and self.termination is None else None

        def handle_timer(self, now: float) -> None:
            self._out += bytes(self.size)
            self.next_burst = now + 0.01

        def writing_paused(self, now: float) -> None:
            super().writing_paused(now)  # keeps flooding: a sender that ignores backpressure

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        sessions: list[Flood] = []

        def accepted() -> StreamPump:
            sessions.append(Flood(loop.time()))
            return StreamPump(sessions[-1], max_write_buffer=2 * 1024 * 1024)

        server = await loop.create_server(accepted, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        peer = socket.create_connection((HOST, port))
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer.sendall(b"go\n")  # and then never read
        while not sessions or sessions[0].termination is None:
            await asyncio.sleep(0.02)
        [session] = sessions
        assert [name for name, _ in session.calls if name == "paused"] == ["paused"]
        termination = session.termination
        assert termination is not None
        assert termination.cause is Cause.OVERLOAD
        peer.close()
        server.close()
        await server.wait_closed()

    run(scenario)


def test_a_bug_drops_only_its_own_connection() -> None:
    async def scenario() -> None:
        async with echo_server() as (port, _pumps, events):
            first = await asyncio.open_connection(HOST, port)
            second = await asyncio.open_connection(HOST, port)
            first[1].write(b"boom\n")
            assert await first[0].read() == b""  # aborted, no answer
            assert await exchange(*second, "still fine") == "echo: still fine\n"
            for _, writer in (first, second):
                writer.close()
            [ended] = [e for e in events if isinstance(e, Ended)]
            assert ended.termination.cause is Cause.LOCAL_CLOSE
            assert isinstance(ended.termination.error, RuntimeError)

    run(scenario)


def test_udp_datagrams_both_ways() -> None:
    class Echo:
        def __init__(self) -> None:
            self.out: list[tuple[bytes, tuple[str, int]]] = []

        def receive_datagram(self, data: bytes, addr: tuple[str, int], now: float) -> None:
            self.out.append((b"ack " + data, addr))

        def datagrams_to_send(self, now: float) -> list[tuple[bytes, tuple[str, int]]]:
            out, self.out = self.out, []
            return out

        def get_timer(self) -> float | None:
            return None

        def handle_timer(self, now: float) -> None:
            raise AssertionError("no timer was asked for")

        def next_event(self) -> object | None:
            return None

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        transport, pump = await loop.create_datagram_endpoint(
            lambda: DatagramPump(Echo()), local_addr=(HOST, 0)
        )
        port = transport.get_extra_info("sockname")[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.setblocking(False)
            peer.sendto(b"one", (HOST, port))
            data = await asyncio.wait_for(loop.sock_recv(peer, 100), 5.0)
        assert data == b"ack one"
        assert (pump.datagrams_received, pump.datagrams_sent) == (1, 1)
        pump.close()

    run(scenario)
