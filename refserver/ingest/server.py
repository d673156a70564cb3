"""The RTMP and RTMPS listeners: each accepted connection is an :class:`IngestSession` driven by
``wire.asyncio``'s :class:`~wire.asyncio.pump.StreamPump`.

Both listen on plain TCP: for RTMPS the pump runs the TLS handshake itself, so that the
connection is counted against the limits (and its deadlines run) from TCP accept, not from when
TLS completes. What the session cannot do itself is done here: take a slot at accept (with the
peer's address), drop a connection at once when it ends for :attr:`~wire.session.Cause.OVERLOAD`
(a peer that does not read gets nothing flushed), read a publisher's media in fewer, larger
pieces (``merge_reads``), and close everything at shutdown.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any, cast

from refserver.coalescing import ReadCoalescing
from refserver.ingest.admission import Admission
from refserver.ingest.session import IngestContext, IngestEnded, IngestSession, PublishingStarted
from wire.asyncio.pump import StreamPump, TlsHandshake
from wire.session import Cause, Termination

logger = logging.getLogger("refserver.ingest")

SHUTDOWN_GRACE = 2.0
"""Seconds the connections get to flush their last bytes at shutdown."""


class IngestConnection(StreamPump):
    """The pump of one accepted connection, with the slot it takes at accept.

    Only :meth:`connection_made` (admission, before TLS) and :meth:`connection_lost` are added
    to the pump; everything else is the pump's own.
    """

    session: IngestSession

    def __init__(
        self,
        server: IngestServer,
        protocol: str,
        tls: ssl.SSLContext | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        limits = server.context.limits
        session = IngestSession(
            server.context,
            server.admission,
            now=loop.time(),
            protocol=protocol,
            wall_offset=time.time() - loop.time(),
        )
        handshake = None
        if tls is not None:
            handshake = TlsHandshake(tls, limits.handshake_timeout, server_side=True)
        super().__init__(
            session,
            on_event=self._on_event,
            fields={"connection": session.id, "protocol": protocol},
            max_write_buffer=limits.max_write_buffer,
            tls=handshake,
            loop=loop,
            log=logger,
        )
        self.server = server
        self._admitted = False
        self._coalescing: ReadCoalescing | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._admitted:
            super().connection_made(transport)
            return
        transport = cast(asyncio.Transport, transport)  # uvloop's: no asyncio class
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple):
            host, peer = str(peername[0]), f"{peername[0]}:{peername[1]}"
        else:
            host = peer = str(peername)
        self.fields["peer"] = peer
        try:
            refusal = self.session.admit(self._now(), self._evicted, peer=peer, host=host)
        except Exception:
            self._report_failure("accepting")
            transport.abort()
            return
        if refusal is not None:
            transport.abort()
            return
        self._admitted = True
        self.server.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._ended()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _on_event(self, event: object) -> None:
        if isinstance(event, PublishingStarted):
            transport = self.transport
            if self.server.context.merge_reads and self._coalescing is None and transport:
                # From here on the peer streams media: read it in fewer, larger pieces.
                loop = asyncio.get_running_loop()
                self._coalescing = ReadCoalescing(loop, transport.get_extra_info("socket"))
        elif isinstance(event, IngestEnded):
            self._ended()
            if event.termination.cause is Cause.OVERLOAD:
                self.abort()  # nothing more is sent to a peer that does not read

    def _evicted(self, reason: str) -> None:
        """Admission gave this connection's slot (already released) to a newcomer."""
        self.close(Termination.overload(reason))
        self.abort()

    def _ended(self) -> None:
        self.server.sessions.discard(self)
        if self._coalescing is not None:
            self._coalescing.close()
            self._coalescing = None


class CoalescingIngestConnection(IngestConnection):
    """An :class:`IngestConnection` that reads a publisher's media in fewer, larger pieces
    (``merge_reads``): a class of its own, so that connections without it pay nothing per
    read."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._coalescing is not None:
            wanted = self.session.bytes_to_complete()
            self._coalescing.received(len(data), self._now(), wanted=wanted)


class IngestServer:
    """Listens for publishers on RTMP (plain TCP) and RTMPS (TLS), each optional."""

    def __init__(
        self,
        context: IngestContext,
        *,
        bind: str,
        rtmp_port: int | None,
        rtmps_port: int | None,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        if rtmps_port is not None and ssl_context is None:
            raise ValueError("RTMPS needs a TLS context")
        self.context = context
        self.bind = bind
        self.rtmp_port = rtmp_port
        self.rtmps_port = rtmps_port
        self.ssl_context = ssl_context
        self.sessions: set[IngestConnection] = set()
        """Every connection holding a slot, TLS handshakes in progress included."""
        self.admission = Admission(context.limits)
        self._servers: dict[str, asyncio.Server] = {}
        self.tap: Callable[[Callable[[], IngestConnection]], Callable[[], Any]] | None = None
        """Wraps the connection factory to record connections (``--capture``,
        refserver.capture)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        listeners = [("rtmp", self.rtmp_port, None), ("rtmps", self.rtmps_port, self.ssl_context)]
        for protocol, port, context in listeners:
            if port is None:
                continue
            factory = self.connection_factory(protocol, context)
            self._servers[protocol] = await loop.create_server(
                factory if self.tap is None else self.tap(factory),
                self.bind,
                port,
                reuse_address=True,
            )
            logger.info(
                "listening", extra={"protocol": protocol, "address": self._address(protocol)}
            )

    def connection_factory(
        self, protocol: str, tls: ssl.SSLContext | None
    ) -> Callable[[], IngestConnection]:
        """What the listener of ``protocol`` (``rtmp``, or ``rtmps`` with ``tls``) makes of each
        accepted connection."""
        kind = CoalescingIngestConnection if self.context.merge_reads else IngestConnection
        return functools.partial(kind, self, protocol, tls)

    def port(self, protocol: str) -> int | None:
        """The bound port of ``rtmp`` or ``rtmps`` (useful when configured as 0)."""
        server = self._servers.get(protocol)
        if server is None or not server.sockets:
            return None
        port: int = server.sockets[0].getsockname()[1]
        return port

    def _address(self, protocol: str) -> str:
        return f"{protocol}://{self.bind}:{self.port(protocol)}/{self.context.app}"

    async def stop(self) -> None:
        """Stop listening, close every connection (publishers see the socket close)."""
        for server in self._servers.values():
            server.close()
        connections = list(self.sessions)
        for connection in connections:
            connection.close(Termination.local_close("server shutting down"))
        # Closing flushes what each one had queued; give that a moment, then drop the rest.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE
        while loop.time() < deadline and any(c.transport is not None for c in connections):
            await asyncio.sleep(0.05)
        for connection in connections:
            connection.abort()
        for server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()
