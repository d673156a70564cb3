"""A test-only TLS terminator in front of a plain RTMP server, with a delay added to its side of
the handshake: the cost the bench must find."""

from __future__ import annotations

import asyncio
import ssl
from typing import cast


class _Leg(asyncio.Protocol):
    """One side of a relayed connection: what it reads goes to ``peer``; its end ends both."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Leg | None = None
        self.pending = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending += data

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


class _Client(_Leg):
    def __init__(self, terminator: DelayingTerminator) -> None:
        super().__init__()
        self.terminator = terminator

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        # The ClientHello stays in the kernel until the TLS layer is on top to read it.
        self.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self.terminator.handshake(self))
        self.terminator.tasks.add(task)
        task.add_done_callback(self.terminator.tasks.discard)


class DelayingTerminator:
    """Accepts TLS on a loopback port, connects to ``upstream``, waits ``delay`` seconds before
    reading the ClientHello, then relays the cleartext both ways."""

    def __init__(self, upstream: tuple[str, int], context: ssl.SSLContext, delay: float) -> None:
        self.upstream = upstream
        self.context = context
        self.delay = delay
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Client(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def handshake(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        assert client.transport is not None
        try:
            _, upstream = await loop.create_connection(_Leg, *self.upstream)
            await asyncio.sleep(self.delay)
            tls = await loop.start_tls(client.transport, client, self.context, server_side=True)
        except (OSError, ssl.SSLError, ConnectionError):
            client.transport.abort()
            return
        assert tls is not None
        client.transport = tls
        client.peer, upstream.peer = upstream, client
        if client.pending and upstream.transport is not None:
            upstream.transport.write(bytes(client.pending))  # sent with the client's Finished
