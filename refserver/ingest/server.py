"""The RTMP and RTMPS listeners: accept connections, hand each to an :class:`RtmpSession`.

Both listen on plain TCP: an RTMPS session runs its own TLS handshake, so that it is counted
against the limits (and its deadline runs) from TCP accept, not from when TLS completes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Callable
from typing import Any

from refserver.ingest.admission import Admission
from refserver.ingest.session import IngestContext, RtmpSession

logger = logging.getLogger("refserver.ingest")

SHUTDOWN_GRACE = 2.0
"""Seconds the connections get to flush their last bytes at shutdown."""


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
        self.sessions: set[RtmpSession] = set()
        """Every connection holding a slot, TLS handshakes in progress included."""
        self.admission = Admission(context.limits)
        self._servers: dict[str, asyncio.Server] = {}
        self.tap: Callable[[Callable[[], RtmpSession]], Callable[[], Any]] | None = None
        """Wraps the session factory to record connections (``--capture``, refserver.capture)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        listeners = [("rtmp", self.rtmp_port, None), ("rtmps", self.rtmps_port, self.ssl_context)]
        for protocol, port, context in listeners:
            if port is None:
                continue
            factory = functools.partial(
                RtmpSession, self.context, protocol, self.sessions, self.admission, context
            )
            self._servers[protocol] = await loop.create_server(
                factory if self.tap is None else self.tap(factory),
                self.bind,
                port,
                reuse_address=True,
            )
            logger.info(
                "listening", extra={"protocol": protocol, "address": self._address(protocol)}
            )

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
        for session in list(self.sessions):
            session.close("server shutting down")
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE
        while self.sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            session.abort()
        for server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()
